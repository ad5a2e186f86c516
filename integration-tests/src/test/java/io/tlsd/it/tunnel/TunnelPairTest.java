package io.tlsd.it.tunnel;

import static io.tlsd.it.tunnel.TunnelFixture.ANY_LOOPBACK_PORT;
import static io.tlsd.it.tunnel.TunnelFixture.connect;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.daemon.tunnel.ClientTunnel;
import io.tlsd.daemon.tunnel.ServerTunnel;
import io.tlsd.daemon.tunnel.TunnelSettings;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** plain client → ClientTunnel → TLS 1.3 → ServerTunnel → plain backend, on loopback. */
@Timeout(60)
class TunnelPairTest {
    private static final int SIZE = 64 << 20;
    private static final int CHUNK = 64 << 10;
    private static final TunnelSettings SETTINGS = TunnelSettings.DEFAULTS;

    @TempDir
    static Path dir;
    static TunnelFixture fixture;

    @BeforeAll
    static void setUp() throws IOException {
        fixture = new TunnelFixture(dir);
    }

    @AfterAll
    static void tearDown() throws Exception {
        fixture.close();
    }

    @Test
    void roundTrip() throws Exception {
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            ClientTunnel client = pairTo(backend);
            try (Socket socket = connect(client.localAddress())) {
                socket.getOutputStream().write("hello through two tunnels\n".getBytes(StandardCharsets.UTF_8));
                assertEquals("hello through two tunnels\n", readLine(socket.getInputStream()));
                socket.shutdownOutput();
                assertEquals(-1, socket.getInputStream().read(), "the backend's FIN arrives as EOF");
            }
        }
    }

    @Test
    void roundTripOnNio() throws Exception {
        EventLoopGroup boss = Transport.NIO.newGroup(1, new DefaultThreadFactory("nio-boss"));
        EventLoopGroup workers = Transport.NIO.newGroup(1, new DefaultThreadFactory("nio-worker"));
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo());
             ServerTunnel server = new ServerTunnel(Transport.NIO, boss, workers,
                     fixture.serverContext(SslProvider.OPENSSL), ANY_LOOPBACK_PORT, backend.address(), false,
                     SETTINGS)) {
            server.start();
            try (ClientTunnel client = new ClientTunnel(Transport.NIO, boss, workers, fixture.clientContext(),
                    ANY_LOOPBACK_PORT, "127.0.0.1", server.localAddress().getPort(), null, SETTINGS)) {
                client.start();
                try (Socket socket = connect(client.localAddress())) {
                    socket.getOutputStream().write("nio\n".getBytes(StandardCharsets.UTF_8));
                    assertEquals("nio\n", readLine(socket.getInputStream()));
                }
            }
        } finally {
            workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** A target name with two addresses: the first refuses (nothing listens there), the second serves. */
    @Test
    void anAddressOfTheTargetThatRefusesIsPassedOver() throws Exception {
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo());
             ServerTunnel server = new ServerTunnel(fixture.transport, fixture.boss, fixture.workers,
                     fixture.serverContext(SslProvider.OPENSSL), ANY_LOOPBACK_PORT, backend.address(), false,
                     SETTINGS)) {
            server.start();
            try (ClientTunnel client = new ClientTunnel(fixture.transport, fixture.boss, fixture.workers,
                    fixture.clientContext(), ANY_LOOPBACK_PORT, "two.test", server.localAddress().getPort(),
                    "localhost", SETTINGS, host -> new java.net.InetAddress[] {
                        java.net.InetAddress.getByAddress(host, new byte[] {127, 0, 0, 2}),
                        java.net.InetAddress.getByAddress(host, new byte[] {127, 0, 0, 1})})) {
                client.start();
                try (Socket socket = connect(client.localAddress())) {
                    socket.getOutputStream().write("second address\n".getBytes(StandardCharsets.UTF_8));
                    assertEquals("second address\n", readLine(socket.getInputStream()));
                }
                // the address passed over is neither a failed dial nor a failed handshake
                assertEquals(0, client.stats().dialFailures(), client.stats().toString());
                assertEquals(0, client.stats().handshakeFailures(), client.stats().toString());
            }
        }
    }

    /**
     * 64 MiB from the client and 64 MiB from the backend at the same time, each checked by
     * SHA-256 against what the other end received; then the client's FIN ends it cleanly.
     */
    @Test
    void sixtyFourMebibytesEachWayAtOnce() throws Exception {
        CompletableFuture<Received> atBackend = new CompletableFuture<>();
        CompletableFuture<byte[]> sentByBackend = new CompletableFuture<>();
        try (PlainBackend backend = PlainBackend.start(socket -> {
            Thread sender = new Thread(() -> sentByBackend.complete(send(socket, 2)), "backend-sender");
            sender.start();
            atBackend.complete(receiveToEof(socket.getInputStream()));
            sender.join();
            socket.shutdownOutput();
        })) {
            ClientTunnel client = pairTo(backend);
            try (Socket socket = connect(client.localAddress())) {
                CompletableFuture<byte[]> sentByClient = CompletableFuture.supplyAsync(() -> send(socket, 1));
                Received atClient = receive(socket.getInputStream(), SIZE);
                byte[] clientDigest = sentByClient.get(60, TimeUnit.SECONDS);
                socket.shutdownOutput();
                assertEquals(-1, socket.getInputStream().read(), "EOF after the last byte");

                Received backendSaw = atBackend.get(10, TimeUnit.SECONDS);
                assertEquals(SIZE, backendSaw.bytes(), "bytes the backend received");
                assertArrayEquals(clientDigest, backendSaw.sha256(), "client → backend");
                assertArrayEquals(sentByBackend.get(10, TimeUnit.SECONDS), atClient.sha256(), "backend → client");
            }
        }
    }

    /**
     * The client half-closes and still gets the reply the backend sends only after reading EOF.
     * The ServerTunnel runs on the JDK's TLS engine: netty's OpenSSL engine answers the
     * close_notify with its own and cannot send the reply (see ServerTunnel's Javadoc).
     */
    @Test
    void halfCloseTheReplyArrivesAfterTheClientsFin() throws Exception {
        try (PlainBackend backend = PlainBackend.start(PlainBackend.replyAfterEof())) {
            ServerTunnel server = fixture.serverTunnel(fixture.serverContext(SslProvider.JDK), ANY_LOOPBACK_PORT,
                    backend.address(), false, SETTINGS);
            ClientTunnel client = fixture.clientTunnel("localhost", server.localAddress().getPort(), null, SETTINGS);
            try (Socket socket = connect(client.localAddress())) {
                socket.getOutputStream().write("question".getBytes(StandardCharsets.UTF_8));
                socket.shutdownOutput();
                assertEquals("got 8 bytes: question",
                        new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            }
        }
    }

    @Test
    void closeEndsConnectionsAndListeningAndCanBeRepeated() throws Exception {
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            ServerTunnel server = fixture.serverTunnel(backend.address(), false, SETTINGS);
            ClientTunnel client = fixture.clientTunnel("localhost", server.localAddress().getPort(), null, SETTINGS);
            try (Socket socket = connect(client.localAddress())) {
                socket.getOutputStream().write("ping\n".getBytes(StandardCharsets.UTF_8));
                assertEquals("ping\n", readLine(socket.getInputStream()));

                client.close();
                client.close();

                assertEquals(-1, socket.getInputStream().read(), "the tunnelled connection was closed");
                assertThrows(ConnectException.class, () -> connect(client.localAddress()).close());
            }
            server.close();
            server.close();
        }
    }

    private static ClientTunnel pairTo(PlainBackend backend) throws IOException {
        ServerTunnel server = fixture.serverTunnel(backend.address(), false, SETTINGS);
        return fixture.clientTunnel("localhost", server.localAddress().getPort(), null, SETTINGS);
    }

    static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        int b;
        while ((b = in.read()) != -1) {
            line.append((char) b);
            if (b == '\n') {
                break;
            }
        }
        return line.toString();
    }

    /** Sends {@link #SIZE} pseudo-random bytes from {@code seed}; returns their SHA-256. */
    private static byte[] send(Socket socket, long seed) {
        try {
            OutputStream out = socket.getOutputStream();
            MessageDigest digest = sha256();
            Random random = new Random(seed);
            byte[] chunk = new byte[CHUNK];
            for (int sent = 0; sent < SIZE; sent += CHUNK) {
                random.nextBytes(chunk);
                digest.update(chunk);
                out.write(chunk);
            }
            out.flush();
            return digest.digest();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    record Received(long bytes, byte[] sha256) {
    }

    private static Received receive(InputStream in, long expected) throws IOException {
        MessageDigest digest = sha256();
        byte[] buffer = new byte[CHUNK];
        long total = 0;
        while (total < expected) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, expected - total));
            if (n == -1) {
                throw new IOException("EOF after " + total + " of " + expected + " bytes");
            }
            digest.update(buffer, 0, n);
            total += n;
        }
        return new Received(total, digest.digest());
    }

    private static Received receiveToEof(InputStream in) throws IOException {
        MessageDigest digest = sha256();
        byte[] buffer = new byte[CHUNK];
        long total = 0;
        int n;
        while ((n = in.read(buffer)) != -1) {
            digest.update(buffer, 0, n);
            total += n;
        }
        return new Received(total, digest.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
