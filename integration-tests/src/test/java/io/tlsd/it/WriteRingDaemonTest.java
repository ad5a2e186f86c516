package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.SharedBuffer;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TlsPeer;
import java.io.InputStream;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.text.MessageFormat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's shared-memory directory as an operator sees it: made, cleaned, or missing. */
class WriteRingDaemonTest {
    private static final Duration T = Duration.ofSeconds(30);
    private static final int SIZE = 2 << 20;

    @TempDir
    static Path dir;
    static byte[] payload;

    @BeforeAll
    static void setUp() {
        payload = new byte[SIZE];
        new Random(5).nextBytes(payload);
    }

    private static ClientDaemonFixture daemon(String name, UnaryOperator<DaemonConfig.Builder> settings)
            throws Exception {
        return new ClientDaemonFixture(dir.resolve(name), settings);
    }

    /** Uploads the payload in 64 KiB writes, 8 in flight, and checks what s_server printed. */
    private static void upload(ClientDaemonFixture fixture, TlsdClient client) throws Exception {
        upload(fixture, client, (conn, off) -> conn.write(payload, off, 64 << 10));
    }

    /** Writes {@code 64 KiB} of the payload from {@code off}. */
    private interface Chunk {
        Operation<Long> write(TlsConnection conn, int off) throws Exception;
    }

    private static void upload(ClientDaemonFixture fixture, TlsdClient client, Chunk chunk) throws Exception {
        Issued localhost = fixture.pki.issueServer("localhost", "localhost");
        try (TlsPeer server = TlsPeer.openssl(localhost).args("-quiet", "-naccept", "1").drainStdout(false).start()) {
            CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> {
                try (InputStream in = server.stdout()) {
                    return MessageDigest.getInstance("SHA-256").digest(in.readAllBytes());
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            TlsConnection conn = client.open("localhost", server.port()).await(T);
            List<Operation<Long>> writes = new ArrayList<>();
            for (int off = 0; off < SIZE; off += 64 << 10) {
                if (writes.size() >= 8) {
                    writes.remove(0).await(T);
                }
                writes.add(chunk.write(conn, off));
            }
            for (Operation<Long> w : writes) {
                w.await(T);
            }
            conn.shutdownOutput().await(T);
            assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(payload),
                    received.get(30, TimeUnit.SECONDS));
            conn.close().await(T);
        }
    }

    /** Mappings of files in {@code directory} in this process (the ring files are unlinked early). */
    private static long mappingsOf(Path directory) throws Exception {
        try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
            return maps.filter(line -> line.contains(directory + "/")).count();
        }
    }

    /** This process's open files in {@code directory} (the daemon's ring files, deleted or not). */
    private static long openFilesIn(Path directory) throws Exception {
        long n = 0;
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(fd).toString().startsWith(directory + "/")) {
                        n++;
                    }
                } catch (java.io.IOException e) {
                    // closed meanwhile
                }
            }
        }
        return n;
    }

    private static List<Path> list(Path directory) throws Exception {
        try (Stream<Path> files = Files.list(directory)) {
            return files.toList();
        }
    }

    @Test
    void ringsLiveInAPrivateDirectoryThatGoesWithTheDaemon() throws Exception {
        Path shm = Files.createDirectory(dir.resolve("shm"));
        ClientDaemonFixture fixture = daemon("private", b -> b.sharedMemoryDir(shm));
        TlsdDaemon daemon = fixture.daemon;
        try {
            List<Path> made = list(shm);
            assertEquals(1, made.size(), made.toString());
            Path rings = made.get(0);
            assertTrue(rings.getFileName().toString().startsWith("tlsd-"), rings.toString());
            assertEquals("rwx--x---", PosixFilePermissions.toString(Files.getPosixFilePermissions(rings)));
            try (TlsdClient client = fixture.client()) {
                assertEquals(4 << 20, client.writeRingBytes());
                assertEquals(1, list(rings).size(), "the session's ring, until its first request");
                long before = daemon.stats().ringBytes();
                upload(fixture, client);
                assertEquals(SIZE, daemon.stats().ringBytes() - before);
                assertEquals(0, list(rings).size(), "its name went at the first request");
                assertEquals(1, mappingsOf(rings), "mapped by the client; the daemon reads the file, it does not map it");
                assertEquals(1, openFilesIn(rings), "the daemon's file (one process here; the SDK closed its own)");
            }
            // The SDK unmaps at close, the daemon closes its file when it sees the session end.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2); // a GC would unmap it too, later
            while ((daemon.stats().sessions() > 0 || mappingsOf(rings) > 0 || openFilesIn(rings) > 0)
                    && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, mappingsOf(rings), "the ring's memory is released, not left to a GC");
            assertEquals(0, openFilesIn(rings), "the daemon closed the ring's file");
        } finally {
            fixture.close();
        }
        assertEquals(List.of(), list(shm), "the daemon removed its directory");
    }

    /**
     * ByteBuffers, direct or heap (a slice with an offset into its array), large enough for the
     * ring or small enough for the frame, with a ring and without: each arrives whole, and the
     * write moves the buffer's position to its limit.
     */
    @Test
    void byteBuffersOfEveryKindArriveWhole() throws Exception {
        try (ClientDaemonFixture fixture = daemon("buffers", b -> b)) {
            for (int ring : new int[] {4 << 20, 0}) {
                try (TlsdClient client = fixture.client(ring)) {
                    long before = fixture.daemon.stats().ringBytes();
                    upload(fixture, client, (conn, off) -> {
                        ByteBuffer direct = ByteBuffer.allocateDirect(63 << 10).put(payload, off, 63 << 10).flip();
                        ByteBuffer heap = ByteBuffer.wrap(payload, off + (63 << 10), 1 << 10).slice();
                        Operation<Long> first = conn.write(direct);
                        assertFalse(direct.hasRemaining());
                        first.await(T);
                        Operation<Long> second = conn.write(heap);
                        assertEquals(heap.limit(), heap.position());
                        return second;
                    });
                    long ringBytes = fixture.daemon.stats().ringBytes() - before;
                    assertEquals(ring == 0 ? 0 : SIZE / 64 * 63, ringBytes, "the 63 KiB writes took the ring");
                }
            }
        }
    }

    @Test
    void withoutAUsableDirectoryWritesGoThroughTheSocket() throws Exception {
        Path nowhere = dir.resolve("no-such-shm");
        try (ClientDaemonFixture fixture = daemon("missing", b -> b.sharedMemoryDir(nowhere));
             TlsdClient client = fixture.client()) {
            assertEquals(0, client.writeRingBytes());
            upload(fixture, client);
            assertEquals(0, fixture.daemon.stats().ringBytes());
            assertFalse(Files.exists(nowhere));
        }
    }

    @Test
    void ringsTurnedOffAreNotOffered() throws Exception {
        Path shm = Files.createDirectory(dir.resolve("shm-off"));
        try (ClientDaemonFixture fixture = daemon("off", b -> b.sharedMemoryDir(shm).writeRingBytes(0));
             TlsdClient client = fixture.client()) {
            assertEquals(0, client.writeRingBytes());
            assertEquals(List.of(), list(shm), "no directory made at all");
            upload(fixture, client);
        }
    }

    /**
     * Nine shared buffers in turn (upload() keeps 8 writes in flight, so each is written again only
     * after its last write completed): the bytes arrive whole, all through the shared memory, and
     * the buffers' space comes back when they are closed.
     */
    @Test
    void sharedBuffersAreWrittenFromTheSharedMemory() throws Exception {
        SharedBuffer kept;
        try (ClientDaemonFixture fixture = daemon("shared", b -> b);
             TlsdClient client = TlsdClient.builder().socket(fixture.socket()).appName("it")
                     .writeRingBytes(1 << 20).sharedBufferBytes(9 << 16).build()) {
            assertEquals(1 << 20, client.writeRingBytes(), "the ring, and 576 KiB after it");
            List<SharedBuffer> buffers = new ArrayList<>();
            for (int i = 0; i < 9; i++) {
                buffers.add(client.allocateBuffer(64 << 10));
                assertTrue(buffers.get(i).isShared(), "buffer " + i);
            }
            long before = fixture.daemon.stats().ringBytes();
            upload(fixture, client, (conn, off) -> {
                SharedBuffer buffer = buffers.get((off >> 16) % 9);
                buffer.buffer().clear().put(payload, off, 64 << 10);
                return conn.write(buffer, 0, 64 << 10);
            });
            assertEquals(SIZE, fixture.daemon.stats().ringBytes() - before, "every write from shared memory");
            assertFalse(client.allocateBuffer(64 << 10).isShared(), "the shared memory is taken");
            buffers.forEach(SharedBuffer::close);
            kept = client.allocateBuffer(9 << 16);
            assertTrue(kept.isShared(), "the nine blocks' space came back, merged");
        }
        // The session is gone, the memory stays mapped while a buffer can reach it (were it
        // unmapped, this would crash the JVM).
        kept.buffer().put(0, payload, 0, 9 << 16);
        assertEquals(payload[1], kept.buffer().get(1));
    }

    /**
     * A buffer is refused when closed, by another client, outside its range; a short write from
     * it travels in its frame; without shared memory (none asked for, or the daemon's rings off)
     * buffers are ordinary memory and their writes still arrive.
     */
    @Test
    void sharedBuffersRefuseMisuseAndWorkWithoutSharedMemory() throws Exception {
        try (ClientDaemonFixture fixture = daemon("misuse", b -> b);
             ClientDaemonFixture ringless = daemon("ringless", b -> b.writeRingBytes(0));
             TlsdClient client = TlsdClient.builder().socket(fixture.socket()).appName("it")
                     .sharedBufferBytes(1 << 20).build();
             TlsdClient other = fixture.client();
             TlsdClient noRing = TlsdClient.builder().socket(ringless.socket()).appName("it")
                     .sharedBufferBytes(1 << 20).build()) {
            assertEquals(3 << 20, client.writeRingBytes(),
                    "4 MiB granted of the 4 + 1 MiB asked: the buffers first, the ring the rest");
            SharedBuffer foreign = other.allocateBuffer(64 << 10);
            assertFalse(foreign.isShared(), "not asked for: ordinary memory");
            SharedBuffer closed = client.allocateBuffer(64 << 10);
            closed.close();
            assertTrue(closed.isClosed());
            long ringBefore = fixture.daemon.stats().ringBytes();
            upload(fixture, client, (conn, off) -> {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> conn.write(foreign, 0, 1));
                assertEquals("the buffer belongs to another TlsdClient", e.getMessage());
                assertEquals("shared buffer closed",
                        assertThrows(IllegalStateException.class, () -> conn.write(closed, 0, 1)).getMessage());
                SharedBuffer small = client.allocateBuffer(1 << 10);
                assertThrows(IndexOutOfBoundsException.class, () -> conn.write(small, 1, 1 << 10));
                assertThrows(IllegalArgumentException.class, () -> conn.write(small, 0, 0));
                // 63 KiB from the shared memory, then 1 KiB in its frame (copied: the buffer is free at once)
                SharedBuffer big = client.allocateBuffer(63 << 10);
                assertTrue(big.isShared());
                big.buffer().put(0, payload, off, 63 << 10).limit(0); // the limit plays no part
                conn.write(big, 0, 63 << 10).await(T);
                big.close();
                small.buffer().put(0, payload, off + (63 << 10), 1 << 10).limit(0);
                Operation<Long> last = conn.write(small, 0, 1 << 10);
                small.buffer().clear().put(0, new byte[1 << 10]); // copied already: no effect
                small.close();
                return last;
            });
            assertEquals(SIZE / 64 * 63, fixture.daemon.stats().ringBytes() - ringBefore,
                    "the 63 KiB writes from shared memory, the 1 KiB ones in their frames");

            SharedBuffer plain = noRing.allocateBuffer(64 << 10);
            assertFalse(plain.isShared(), "the daemon grants no shared memory");
            upload(ringless, noRing, (conn, off) -> {
                plain.buffer().put(0, payload, off, 64 << 10);
                Operation<Long> write = conn.write(plain, 0, 64 << 10);
                plain.buffer().put(0, new byte[64 << 10]); // copied already: this does not show
                return write;
            });
            assertEquals(0, ringless.daemon.stats().ringBytes());
        }
    }

    /**
     * A shared buffer that the garbage collector finds unreachable unclosed is logged, with its
     * size, while its client is open; one that was closed is not, nor one whose client was closed
     * first (its space went with the session).
     */
    @Test
    void aSharedBufferDroppedUnclosedIsReported() throws Exception {
        Logger logger = Logger.getLogger(SharedBuffer.class.getName());
        List<String> warnings = new CopyOnWriteArrayList<>();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel() == Level.WARNING) {
                    warnings.add(MessageFormat.format(r.getMessage(), r.getParameters()));
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(handler);
        try (ClientDaemonFixture fixture = daemon("unclosed", b -> b);
             TlsdClient client = TlsdClient.builder().socket(fixture.socket()).appName("it")
                     .sharedBufferBytes(1 << 20).build();
             TlsdClient closedFirst = TlsdClient.builder().socket(fixture.socket()).appName("it")
                     .sharedBufferBytes(1 << 20).build()) {
            List<WeakReference<SharedBuffer>> dropped = List.of(
                    drop(client, 1000, false), drop(client, 2000, true), drop(closedFirst, 3000, false));
            closedFirst.close();
            String leaked = "a SharedBuffer of 1000 bytes became unreachable without close(): its shared"
                    + " memory stays taken until the TlsdClient is closed";
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!warnings.contains(leaked) && System.nanoTime() < deadline) {
                System.gc();
                Thread.sleep(50);
            }
            assertTrue(dropped.stream().allMatch(r -> r.get() == null), "all three collected");
            Thread.sleep(500); // the reports of the other two, had there been any
            assertEquals(List.of(leaked), warnings);
        } finally {
            logger.removeHandler(handler);
        }
    }

    /** Allocates a shared buffer of {@code size} bytes, closes it or not, and lets go of it. */
    private static WeakReference<SharedBuffer> drop(TlsdClient client, int size, boolean close) {
        SharedBuffer buffer = client.allocateBuffer(size);
        assertTrue(buffer.isShared());
        if (close) {
            buffer.close();
        }
        return new WeakReference<>(buffer);
    }
}
