package io.tlsd.it.tunnel;

import static io.tlsd.it.tunnel.TunnelFixture.assertClosed;
import static io.tlsd.it.tunnel.TunnelFixture.assertElapsedBelow;
import static io.tlsd.it.tunnel.TunnelFixture.connect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import io.tlsd.daemon.tunnel.ClientTunnel;
import io.tlsd.daemon.tunnel.ServerTunnel;
import io.tlsd.daemon.tunnel.TunnelSettings;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A tunnel's {@code max_connections}: the connections beyond it are closed as soon as accepted. */
@Timeout(30)
class TunnelConnectionLimitTest {
    private static final Duration PROMPTLY = Duration.ofSeconds(2);
    private static final Duration T = Duration.ofSeconds(10);

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

    private static TunnelSettings limit(int maxConnections) {
        return new TunnelSettings(T, T, Duration.ZERO, maxConnections);
    }

    @Test
    void aClientTunnelClosesConnectionsBeyondItsLimitAndTakesNewOnesWhenOneCloses() throws Exception {
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            ServerTunnel server = fixture.serverTunnel(backend.address(), false, TunnelSettings.DEFAULTS);
            ClientTunnel client = fixture.clientTunnel("localhost", server.localAddress().getPort(), null, limit(2));
            try (LogCapture log = LogCapture.start();
                 Socket a = connect(client.localAddress());
                 Socket b = connect(client.localAddress())) {
                assertEquals("a\n", echo(a, "a\n"));
                assertEquals("b\n", echo(b, "b\n"));

                try (Socket c = connect(client.localAddress())) {
                    long start = System.nanoTime();
                    assertClosed(c);
                    assertElapsedBelow(start, PROMPTLY);
                }
                String expected = "tunnel 127.0.0.1:" + client.localAddress().getPort() + " → target localhost:"
                        + server.localAddress().getPort() + ": max_connections (2) reached; closing new connections as they come";
                assertNotNull(log.awaitLine(expected, PROMPTLY), "log line `" + expected + "` in:\n" + log.text());
                assertEquals("a again\n", echo(a, "a again\n"), "the connections within the limit go on");

                b.close();
                assertEquals("d\n", echoOnceAdmitted(client.localAddress(), "d\n"));
            }
        }
    }

    @Test
    void aServerTunnelClosesTlsClientsBeyondItsLimitBeforeTheirHandshake() throws Exception {
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            ServerTunnel server = fixture.serverTunnel(backend.address(), false, limit(1));
            ClientTunnel client = fixture.clientTunnel("localhost", server.localAddress().getPort(), null,
                    TunnelSettings.DEFAULTS);
            try (LogCapture log = LogCapture.start();
                 Socket a = connect(client.localAddress())) {
                assertEquals("a\n", echo(a, "a\n"));
                try (Socket refused = connect(client.localAddress())) {
                    // the server tunnel closes the client tunnel's TLS connection unanswered, and the
                    // client tunnel resets the plain client, as for any failed handshake
                    long start = System.nanoTime();
                    assertClosed(refused);
                    assertElapsedBelow(start, PROMPTLY);
                }
                String expected = "tunnel 127.0.0.1:" + server.localAddress().getPort() + " → backend "
                        + "127.0.0.1:" + backend.address().getPort() + ": max_connections (1) reached";
                assertNotNull(log.awaitLine(expected, PROMPTLY), "log line `" + expected + "` in:\n" + log.text());

                a.close();
                assertEquals("b\n", echoOnceAdmitted(client.localAddress(), "b\n"));
            }
        }
    }

    @Test
    void oneClientAddressHoldsAtMostItsShareAndAnotherAddressGetsIn() throws Exception {
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            ServerTunnel server = fixture.serverTunnel(backend.address(), false, TunnelSettings.DEFAULTS);
            TunnelSettings perClient = new TunnelSettings(T, T, Duration.ZERO, 100, "shared", false, 1);
            ClientTunnel client = fixture.clientTunnel("localhost", server.localAddress().getPort(), null, perClient);
            try (LogCapture log = LogCapture.start();
                 Socket a = connect(client.localAddress())) {
                assertEquals("a\n", echo(a, "a\n"));
                try (Socket again = connect(client.localAddress())) {
                    long start = System.nanoTime();
                    assertClosed(again);
                    assertElapsedBelow(start, PROMPTLY);
                }
                String expected = "tunnel shared 127.0.0.1:" + client.localAddress().getPort() + " → target localhost:"
                        + server.localAddress().getPort() + ": max_connections_per_client (1) reached by 127.0.0.1:";
                assertNotNull(log.awaitLine(expected, PROMPTLY), "log line `" + expected + "` in:\n" + log.text());
                // another address of the loopback network is another client
                try (Socket other = new Socket()) {
                    other.bind(new InetSocketAddress("127.0.0.2", 0));
                    other.connect(client.localAddress(), 5000);
                    other.setSoTimeout((int) T.toMillis());
                    assertEquals("b\n", echo(other, "b\n"));
                }
                assertEquals("a again\n", echo(a, "a again\n"));
            }
        }
    }

    private static String echo(Socket socket, String line) throws IOException {
        socket.getOutputStream().write(line.getBytes(StandardCharsets.UTF_8));
        return TunnelPairTest.readLine(socket.getInputStream());
    }

    /**
     * Echoes {@code line} on a new connection, retrying while connections are closed at once: the
     * tunnel frees a place when it has seen a connection close, a moment after the client closed it.
     */
    private static String echoOnceAdmitted(InetSocketAddress address, String line) throws Exception {
        long deadline = System.nanoTime() + PROMPTLY.toNanos();
        while (true) {
            try (Socket socket = connect(address)) {
                String echoed = echo(socket, line);
                if (echoed.equals(line)) {
                    return echoed;
                }
            } catch (SocketException e) {
                // reset: closed at once
            }
            if (System.nanoTime() > deadline) {
                fail("no place came free within " + PROMPTLY.toMillis() + " ms");
            }
            Thread.sleep(20);
        }
    }
}
