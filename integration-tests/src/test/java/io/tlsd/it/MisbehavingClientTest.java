package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.proto.v1.ClientMessage;
import io.tlsd.proto.v1.DaemonMessage;
import io.tlsd.proto.v1.Hello;
import io.tlsd.proto.v1.Read;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Status;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.TlsPeer;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that breaks the protocol on the real socket gets a Goodbye that says why, and only its
 * own session ends: an application in the middle of a conversation does not notice.
 */
class MisbehavingClientTest {
    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    static Path dir;
    static ClientDaemonFixture fixture;

    @BeforeAll
    static void start() throws Exception {
        fixture = new ClientDaemonFixture(dir);
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    private static SocketChannel rawSession() throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(fixture.socket()));
        send(ch, ClientMessage.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1)).build().toByteArray());
        assertTrue(read(ch).hasWelcome());
        return ch;
    }

    private static void send(SocketChannel ch, byte[] body) throws IOException {
        ByteBuffer frame = ByteBuffer.allocate(4 + body.length).putInt(body.length).put(body).flip();
        while (frame.hasRemaining()) {
            ch.write(frame);
        }
    }

    private static DaemonMessage read(SocketChannel ch) throws IOException {
        DataInputStream in = new DataInputStream(Channels.newInputStream(ch));
        byte[] body = new byte[in.readInt()];
        in.readFully(body);
        return DaemonMessage.parseFrom(body);
    }

    private static void assertGoodbyeThenClosed(SocketChannel ch, Status status, String detail) throws IOException {
        DaemonMessage msg = read(ch);
        assertTrue(msg.hasGoodbye(), msg.toString());
        assertEquals(status, msg.getGoodbye().getStatus());
        assertTrue(msg.getGoodbye().getDetail().contains(detail), msg.getGoodbye().getDetail());
        assertEquals(-1, ch.read(ByteBuffer.allocate(1)), "the daemon closed the session");
    }

    /**
     * Requests whose completions are small (here: reads of a connection that does not exist) are
     * read on while the application does not read its completions, but not for ever: the daemon
     * stops reading once the backlog passes twice the socket's high-water mark, and goes on, every
     * request answered, once the application reads again.
     */
    private static void aSessionThatDoesNotReadItsCompletionsIsNoLongerReadFrom() throws Exception {
        try (SocketChannel hoarder = rawSession()) {
            long firstOp = 1 << 21; // op ids of four varint bytes: every frame has the same size
            byte[] one = request(firstOp);
            ByteBuffer batch = ByteBuffer.allocate(4096 * (4 + one.length)).flip(); // empty
            hoarder.configureBlocking(false);
            long opId = firstOp;
            long written = 0;
            long stalledSince = 0;
            // stalled for 3 s: the daemon stopped reading (not merely without a core for a moment
            // on a busy machine, which has taken over a second)
            while (stalledSince == 0 || System.nanoTime() - stalledSince < 3_000_000_000L) {
                if (!batch.hasRemaining()) {
                    batch.clear();
                    while (batch.hasRemaining()) {
                        byte[] body = request(opId++);
                        batch.putInt(body.length).put(body);
                    }
                    batch.flip();
                }
                int n = hoarder.write(batch);
                written += n;
                if (n > 0) {
                    stalledSince = 0;
                } else if (stalledSince == 0) {
                    stalledSince = System.nanoTime();
                } else {
                    Thread.sleep(10);
                }
                assertTrue(written < (256L << 20), "the daemon still reads after " + written + " bytes of requests");
            }
            long requests = written / (4 + one.length);
            // Each completion is 48 bytes, counted with Netty's overhead per message: some 136 bytes.
            // The first mark (4 MiB) comes after about 31,000 of them, the second (8 MiB) after
            // about 61,500, plus what the sockets between us hold (here some 14,000 more: 45,000 and
            // 75,000 measured). Read on past the first, and not much past the second.
            assertTrue(requests > 55_000 && requests < 150_000, "stopped after " + requests + " requests");

            hoarder.configureBlocking(true);
            ByteBuffer rest = batch.slice(); // the end of a frame the daemon has not read yet
            int partial = (int) (written % (4 + one.length));
            rest.limit(partial == 0 ? 0 : 4 + one.length - partial);
            Thread sender = new Thread(() -> {
                try {
                    while (rest.hasRemaining()) {
                        hoarder.write(rest);
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            sender.start();
            long answered = 0;
            long expected = requests + (partial == 0 ? 0 : 1);
            DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Channels.newInputStream(hoarder)));
            while (answered < expected) {
                byte[] body = new byte[in.readInt()];
                in.readFully(body);
                DaemonMessage msg = DaemonMessage.parseFrom(body);
                assertEquals(Status.NOT_FOUND, msg.getCompletion().getStatus(), msg.toString());
                assertEquals(firstOp + answered, msg.getCompletion().getOpId());
                answered++;
            }
            sender.join(10_000);
        }
    }

    private static byte[] request(long opId) {
        return ClientMessage.newBuilder().setRequest(Request.newBuilder().setOpId(opId)
                .setRead(Read.newBuilder().setConnId(999).setMaxBytes(10))).build().toByteArray();
    }

    @Test
    void badSessionsEndAloneWhileAnotherApplicationKeepsWorking() throws Exception {
        try (TlsPeer server = TlsPeer.opensslServer(fixture.pki.issueServer("localhost", "localhost"), "-rev");
             TlsdClient app = fixture.client()) {
            TlsConnection conn = app.open("localhost", server.port()).await(T);
            conn.write("before\n".getBytes(US_ASCII)).await(T);
            assertEquals("erofeb\n", new String(conn.read(100).await(T), US_ASCII));

            try (SocketChannel oversized = rawSession()) {
                ByteBuffer hugeLength = ByteBuffer.allocate(4).putInt(Integer.MAX_VALUE).flip();
                oversized.write(hugeLength);
                assertGoodbyeThenClosed(oversized, Status.LIMIT_EXCEEDED, "frame too large");
            }
            try (SocketChannel garbage = rawSession()) {
                send(garbage, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0x0f});
                assertGoodbyeThenClosed(garbage, Status.BAD_REQUEST, "not a valid ClientMessage");
            }
            try (SocketChannel wrongVersion = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                wrongVersion.connect(UnixDomainSocketAddress.of(fixture.socket()));
                send(wrongVersion, ClientMessage.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(99))
                        .build().toByteArray());
                assertGoodbyeThenClosed(wrongVersion, Status.BAD_REQUEST, "protocol version 99");
            }
            try (SocketChannel dying = rawSession()) {
                dying.write(ByteBuffer.allocate(6).putInt(100).putShort((short) 0x0a01).flip()); // then it dies
            }

            aSessionThatDoesNotReadItsCompletionsIsNoLongerReadFrom();

            conn.write("after\n".getBytes(US_ASCII)).await(T);
            assertEquals("retfa\n", new String(conn.read(100).await(T), US_ASCII), "the other session is unaffected");
            conn.close().await(T);
        }
        fixture.awaitIdle();
    }
}
