package io.tlsd.daemon.ipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.daemon.engine.WriteRing;
import io.tlsd.proto.v1.ClientMessage;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.DaemonMessage;
import io.tlsd.proto.v1.Hello;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.RingSlice;
import io.tlsd.proto.v1.Status;
import io.tlsd.proto.v1.Welcome;
import io.tlsd.proto.v1.Write;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A session's shared-memory write ring, from the Hello that asks for it to the session's end. */
class WriteRingSessionTest {
    private static final int CAP = 256 << 10;

    @TempDir
    Path shm;

    Path rings;
    IpcHarness h;

    @BeforeEach
    void setUp() throws IOException {
        rings = WriteRing.createDirectory(shm);
        h = new IpcHarness(new IpcServer.Settings("client", "tlsd test", SessionLimits.DEFAULTS,
                Duration.ofSeconds(10), rings, CAP, Runnable::run));
    }

    @AfterEach
    void tearDown() {
        h.close();
    }

    private Welcome hello(int ringBytes) {
        h.send(ClientMessage.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setAppName("test")
                .setWriteRingBytes(ringBytes)).build());
        DaemonMessage reply = h.next();
        assertTrue(reply.hasWelcome(), reply.toString());
        return reply.getWelcome();
    }

    private static MappedByteBuffer map(Welcome welcome) throws IOException {
        try (FileChannel file = FileChannel.open(Path.of(welcome.getWriteRing().getPath()),
                StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            return file.map(FileChannel.MapMode.READ_WRITE, 0, welcome.getWriteRing().getSize());
        }
    }

    private long ringWrite(long conn, int offset, int length) {
        return h.request(ringSlice(conn, offset, length));
    }

    private static Request.Builder ringSlice(long conn, int offset, int length) {
        return Request.newBuilder().setWrite(Write.newBuilder().setConnId(conn)
                .setRing(RingSlice.newBuilder().setOffset(offset).setLength(length)));
    }

    @Test
    void theRingIsMadeAsAskedAtMostTheCapAndItsNameGoesAtTheFirstRequest() throws IOException {
        Welcome welcome = hello(64 << 10);
        assertEquals(CAP, welcome.getLimits().getWriteRingBytes());
        assertEquals(64 << 10, welcome.getWriteRing().getSize());
        Path file = Path.of(welcome.getWriteRing().getPath());
        assertEquals(rings, file.getParent());
        assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals(64 << 10, Files.size(file));
        assertEquals("rwx--x---", PosixFilePermissions.toString(Files.getPosixFilePermissions(rings)));

        h.established(); // the OPEN is the first request
        assertFalse(Files.exists(file), "the ring's name is removed once the application has mapped it");
    }

    @Test
    void aBiggerAskGetsTheCap() {
        assertEquals(CAP, hello(CAP * 4).getWriteRing().getSize());
        h.close();
        h = new IpcHarness(new IpcServer.Settings("client", "tlsd test", SessionLimits.DEFAULTS,
                Duration.ofSeconds(10), rings, CAP, Runnable::run));
        assertEquals(CAP, hello(-1).getWriteRing().getSize(), "uint32 max");
    }

    @Test
    void noAskNoRing() throws IOException {
        Welcome welcome = hello(0);
        assertFalse(welcome.hasWriteRing());
        assertEquals(CAP, welcome.getLimits().getWriteRingBytes());
        try (var files = Files.list(rings)) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void aRingThatCannotBeMadeLeavesTheSessionWithoutOne() throws IOException {
        WriteRing.deleteDirectory(rings); // as if /dev/shm had been emptied under the daemon
        Welcome welcome = hello(CAP);
        assertFalse(welcome.hasWriteRing(), welcome.toString());
        long conn = h.established();
        h.write(conn, "through the socket");
        assertEquals(Status.OK, h.completion().getStatus());
    }

    /** A harness whose rings are made when the test says so, as another thread would. */
    private java.util.ArrayDeque<Runnable> deferRingMaking() {
        java.util.ArrayDeque<Runnable> jobs = new java.util.ArrayDeque<>();
        h.close();
        h = new IpcHarness(new IpcServer.Settings("client", "tlsd test", SessionLimits.DEFAULTS,
                Duration.ofSeconds(10), rings, CAP, jobs::add));
        return jobs;
    }

    @Test
    void theRingIsMadeOffTheLoopAndRequestsSentBeforeTheWelcomeWaitForIt() throws IOException {
        java.util.ArrayDeque<Runnable> jobs = deferRingMaking();
        h.send(ClientMessage.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setAppName("test")
                .setWriteRingBytes(CAP)).build());
        long open = h.open(); // pipelined: the application did not wait for the Welcome
        h.assertNothingSent();
        assertFalse(h.ipc.config().isAutoRead(), "nothing more is read while the ring is made");
        assertEquals(1, jobs.size());
        jobs.poll().run();
        DaemonMessage welcome = h.next();
        assertTrue(welcome.hasWelcome() && welcome.getWelcome().hasWriteRing(), welcome.toString());
        h.connector.last().succeed();
        Completion opened = h.completion(open);
        assertTrue(opened.hasConnection(), opened.toString());
        assertTrue(h.ipc.config().isAutoRead());
    }

    @Test
    void aSessionThatEndsWhileItsRingIsMadeLeavesNothing() throws IOException {
        java.util.ArrayDeque<Runnable> jobs = deferRingMaking();
        h.send(ClientMessage.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setAppName("test")
                .setWriteRingBytes(CAP)).build());
        IpcHarness.SentWrite early = h.writeInOwnBuffer(1, 100_000, 0);
        h.ipc.close();
        h.ipc.runPendingTasks();
        assertEquals(0, early.buffer().refCnt(), "the write that came too early was released");
        jobs.poll().run(); // the ring is made after all, for nobody
        h.ipc.runPendingTasks();
        try (var files = Files.list(rings)) {
            assertEquals(0, files.count(), "and removed at once");
        }
    }

    @Test
    void aDaemonWithoutRingsSaysSo() {
        h.close();
        h = new IpcHarness(SessionLimits.DEFAULTS);
        Welcome welcome = hello(1 << 20);
        assertFalse(welcome.hasWriteRing());
        assertEquals(0, welcome.getLimits().getWriteRingBytes());
    }

    @Test
    void ringWritesCarryTheBytesInTheRingWhenTheyStartAndAQueuedRunIsReadAtOnce() throws IOException {
        MappedByteBuffer ring = map(hello(CAP));
        long conn = h.established();
        byte[][] parts = new byte[5][];
        int[] sizes = {40_000, 1000, 9000, 1000, 1000};
        for (int i = 0; i < parts.length; i++) {
            parts[i] = new byte[sizes[i]];
            new Random(i).nextBytes(parts[i]);
        }
        ring.put(0, parts[0]);                 // w1 [0, 40000)
        ring.put(40_000, parts[1]);            // w2 right behind it
        ring.put(41_000, parts[2]);            // w3 right behind w2: read with w2
        ring.put(CAP - 1000, parts[3]);        // w4 elsewhere: read on its own
        h.connector.last().gate.open = false;  // w1 starts and stays in progress, the rest queue
        long[] ops = {
            ringWrite(conn, 0, 40_000),
            ringWrite(conn, 40_000, 1000),
            ringWrite(conn, 41_000, 9000),
            ringWrite(conn, CAP - 1000, 1000)};
        // A queued write has not been read yet: it carries what is in the ring when it starts.
        ring.put(40_000, parts[4]);
        // Once w2 has started, w3's bytes were read with it; changing them no longer counts.
        h.connector.last().gate.inspect = buf -> ring.put(41_000, new byte[9000]);
        h.connector.last().gate.release();
        h.ipc.runPendingTasks();
        for (int i = 0; i < ops.length; i++) {
            Completion c = h.completion();
            assertEquals(ops[i], c.getOpId());
            assertEquals(Status.OK, c.getStatus(), c.toString());
            assertEquals(sizes[i], c.getBytesWritten());
        }
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        expected.writeBytes(parts[0]);
        expected.writeBytes(parts[4]);
        expected.writeBytes(parts[2]);
        expected.writeBytes(parts[3]);
        assertArrayEquals(expected.toByteArray(), h.connector.last().gate.bytes.toByteArray());
    }

    @Test
    void ringWritesThatArriveInOneReadOfTheSocketAreReadFromTheRingTogether() throws IOException {
        MappedByteBuffer ring = map(hello(CAP));
        long conn = h.established();
        byte[] first = new byte[1000];
        byte[] second = new byte[3000];
        new Random(3).nextBytes(first);
        new Random(4).nextBytes(second);
        ring.put(0, first);
        ring.put(1000, second);
        // Had the first write started alone, as soon as its frame was decoded, the second would
        // read what this puts in the ring when the first is handed to the socket.
        h.connector.last().gate.inspect = buf -> ring.put(1000, new byte[3000]);
        long[] ops = h.requestsInOneRead(ringSlice(conn, 0, 1000), ringSlice(conn, 1000, 3000));
        for (long op : ops) {
            Completion c = h.completion();
            assertEquals(op, c.getOpId());
            assertEquals(Status.OK, c.getStatus(), c.toString());
        }
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        expected.writeBytes(first);
        expected.writeBytes(second);
        assertArrayEquals(expected.toByteArray(), h.connector.last().gate.bytes.toByteArray());
    }

    @Test
    void aRingShrunkUnderAQueuedRunFailsEachOfItsWritesAlone() throws IOException {
        Welcome welcome = hello(CAP);
        Path file = Path.of(welcome.getWriteRing().getPath());
        try (FileChannel app = FileChannel.open(file, StandardOpenOption.WRITE)) {
            long conn = h.established();
            h.connector.last().gate.open = false;
            long w1 = ringWrite(conn, 0, 4096);       // read before the ring shrinks
            long w2 = ringWrite(conn, 4096, 4096);    // half of it is gone
            long w3 = ringWrite(conn, 8192, 4096);    // all of it is gone
            app.truncate(6000);
            h.connector.last().gate.release();
            h.ipc.runPendingTasks();
            assertEquals(Status.OK, h.completion(w1).getStatus());
            assertBadRequest(w2, "the application truncated it");
            assertBadRequest(w3, "the application truncated it");
            h.write(conn, "the session goes on");
            assertEquals(Status.OK, h.completion().getStatus());
        }
    }

    @Test
    void badRingWritesGetBadRequestAndTheSessionGoesOn() throws IOException {
        map(hello(64 << 10));
        long conn = h.established();
        assertBadRequest(ringWrite(conn, 60 << 10, 8 << 10), "is not inside the write ring of 65536 bytes");
        assertBadRequest(ringWrite(conn, -1, 10), "is not inside the write ring"); // uint32 4294967295
        assertBadRequest(ringWrite(conn, 0, 0), "0 bytes is not in 1..");
        assertBadRequest(h.request(Request.newBuilder().setWrite(Write.newBuilder().setConnId(conn)
                        .setData(ByteString.copyFromUtf8("both"))
                        .setRing(RingSlice.newBuilder().setOffset(0).setLength(4)))),
                "data and ring are exclusive");
        Completion notFound = h.completion(ringWrite(99, 0, 10));
        assertEquals(Status.NOT_FOUND, notFound.getStatus(), notFound.toString());
        assertTrue(h.connector.last().gate.bytes.size() == 0, "nothing was written");

        h.write(conn, "still fine");
        Completion ok = h.completion();
        assertEquals(Status.OK, ok.getStatus(), ok.toString());
    }

    @Test
    void aRingWriteInASessionWithoutARingIsRefused() {
        hello(0);
        long conn = h.established();
        assertBadRequest(ringWrite(conn, 0, 10), "this session has no write ring");
    }

    @Test
    void aRingTheApplicationTruncatedFailsItsWritesNotTheDaemon() throws IOException {
        Welcome welcome = hello(64 << 10);
        Path file = Path.of(welcome.getWriteRing().getPath());
        try (FileChannel app = FileChannel.open(file, StandardOpenOption.WRITE)) {
            long conn = h.established();
            app.truncate(4096);
            assertBadRequest(ringWrite(conn, 8192, 4096), "the application truncated it");
            h.write(conn, "the session goes on");
            assertEquals(Status.OK, h.completion().getStatus());
        }
    }

    @Test
    void queuedRingWritesThatNeverRunAreReleased() throws IOException {
        map(hello(CAP));
        long conn = h.established();
        h.connector.last().gate.open = false;
        ringWrite(conn, 0, 20_000); // in progress, held by the gate
        long queued = ringWrite(conn, 20_000, 20_000);
        long cancel = h.cancel(queued);
        assertEquals(Status.CANCELLED, h.completion(queued).getStatus());
        assertEquals(Status.OK, h.completion(cancel).getStatus());
        ringWrite(conn, 40_000, 20_000); // dropped with the session, never read (LeakCheck watches the reads)
        h.ipc.close();
        h.ipc.runPendingTasks();
    }

    @Test
    void theSessionsEndRemovesAnUnusedRing() throws IOException {
        Path file = Path.of(hello(CAP).getWriteRing().getPath());
        assertTrue(Files.exists(file));
        h.ipc.close();
        h.ipc.runPendingTasks();
        assertFalse(Files.exists(file), "no request ever came: the end of the session removes the file");
    }

    @Test
    void theRingDirectoryGoesWithWhateverIsLeftInIt() throws IOException {
        Path file = Path.of(hello(CAP).getWriteRing().getPath());
        WriteRing.deleteDirectory(rings);
        assertFalse(Files.exists(file));
        assertFalse(Files.exists(rings));
    }

    private void assertBadRequest(long op, String detail) {
        Completion c = h.completion(op);
        assertEquals(Status.BAD_REQUEST, c.getStatus(), c.toString());
        assertTrue(c.getDetail().contains(detail), c.getDetail());
    }
}
