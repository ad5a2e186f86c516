package io.tlsd.it.tunnel;

import static io.tlsd.it.tunnel.TunnelFixture.assertClosed;
import static io.tlsd.it.tunnel.TunnelFixture.assertElapsedBelow;
import static io.tlsd.it.tunnel.TunnelFixture.connect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.DomainWildcardMappingBuilder;
import io.netty.util.Mapping;
import io.tlsd.daemon.tunnel.ClientTunnel;
import io.tlsd.daemon.tunnel.ServerTunnel;
import io.tlsd.daemon.tunnel.TunnelSettings;
import io.tlsd.testing.FreePorts;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** What a client sees, and what is logged, when the other side is down, silent or idle. */
@Timeout(30)
class TunnelFailuresTest {
    /** "Prompt" in the brief's sense: well below any timeout, with room for a loaded CI machine. */
    private static final Duration PROMPTLY = Duration.ofSeconds(2);

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
    void backendDownTheTlsClientIsClosedPromptlyAndTheReasonLogged() throws Exception {
        InetSocketAddress nothing = new InetSocketAddress(InetAddress.getLoopbackAddress(), FreePorts.loopback());
        ServerTunnel server = fixture.serverTunnel(nothing, false, TunnelSettings.DEFAULTS);
        try (LogCapture log = LogCapture.start();
             SSLSocket socket = tlsClient(server.localAddress())) {
            long start = System.nanoTime();
            assertClosed(socket);
            assertElapsedBelow(start, PROMPTLY);

            String expected = "tunnel 127.0.0.1:" + server.localAddress().getPort() + " → backend 127.0.0.1:"
                    + nothing.getPort() + ": connect failed for client 127.0.0.1:" + socket.getLocalPort()
                    + ": Connection refused";
            assertNotNull(log.awaitLine(expected, PROMPTLY), "log line `" + expected + "` in:\n" + log.text());
        }
    }

    @Test
    void backendDownThroughBothTunnelsThePlainClientIsClosedPromptly() throws Exception {
        InetSocketAddress nothing = new InetSocketAddress(InetAddress.getLoopbackAddress(), FreePorts.loopback());
        ServerTunnel server = fixture.serverTunnel(nothing, false, TunnelSettings.DEFAULTS);
        ClientTunnel client = fixture.clientTunnel("localhost", server.localAddress().getPort(), null,
                TunnelSettings.DEFAULTS);
        try (Socket socket = connect(client.localAddress())) {
            long start = System.nanoTime();
            try {
                socket.getOutputStream().write("anyone there?\n".getBytes(StandardCharsets.UTF_8));
            } catch (SocketException e) {
                // the tunnel's reset can arrive before this write on a slow machine: already an end
            }
            assertClosed(socket);
            assertElapsedBelow(start, PROMPTLY);
        }
    }

    @Test
    void targetDownThePlainClientIsResetPromptlyAndTheReasonLoggedUnderTheTunnelsName() throws Exception {
        int nothing = FreePorts.loopback();
        TunnelSettings named = new TunnelSettings(Duration.ofSeconds(10), Duration.ofSeconds(10), Duration.ofMinutes(10),
                TunnelSettings.DEFAULT_MAX_CONNECTIONS, "billing-api", false);
        ClientTunnel client = fixture.clientTunnel("127.0.0.1", nothing, "localhost", named);
        try (LogCapture log = LogCapture.start();
             Socket socket = connect(client.localAddress())) {
            long start = System.nanoTime();
            assertClosed(socket);
            assertElapsedBelow(start, PROMPTLY);

            String expected = "tunnel billing-api 127.0.0.1:" + client.localAddress().getPort() + " → target 127.0.0.1:"
                    + nothing + ": connect failed for client 127.0.0.1:" + socket.getLocalPort()
                    + ": Connection refused";
            assertNotNull(log.awaitLine(expected, PROMPTLY), "log line `" + expected + "` in:\n" + log.text());
        }
    }

    @Test
    void aTargetWithTheWrongNameIsRefusedAndTheReasonLogged() throws Exception {
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            ServerTunnel server = fixture.serverTunnel(backend.address(), false, TunnelSettings.DEFAULTS);
            ClientTunnel client = fixture.clientTunnel("127.0.0.1", server.localAddress().getPort(),
                    "wrong.example", TunnelSettings.DEFAULTS);
            try (LogCapture log = LogCapture.start();
                 Socket socket = connect(client.localAddress())) {
                assertClosed(socket);
                String line = log.awaitLine("TLS handshake failed for client 127.0.0.1:" + socket.getLocalPort(),
                        PROMPTLY);
                assertNotNull(line, log.text());
                assertTrue(line.contains("certificate of wrong.example rejected"), line);
            }
        }
    }

    @Test
    void aSilentTlsClientIsClosedAfterTheHandshakeTimeout() throws Exception {
        TunnelSettings settings = new TunnelSettings(Duration.ofSeconds(10), Duration.ofMillis(300), Duration.ZERO);
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            ServerTunnel server = fixture.serverTunnel(backend.address(), false, settings);
            try (LogCapture log = LogCapture.start();
                 Socket silent = connect(server.localAddress())) {
                long start = System.nanoTime();
                assertClosed(silent);
                long millis = (System.nanoTime() - start) / 1_000_000;
                assertTrue(millis >= 250 && millis < PROMPTLY.toMillis(), "closed after " + millis + " ms");
                assertNotNull(log.awaitLine("TLS handshake failed for client 127.0.0.1:" + silent.getLocalPort()
                        + ": handshake timed out", PROMPTLY), log.text());
            }
        }
    }

    @Test
    void closingATunnelThatPicksCertificatesBySniClosesAClientThatSentNoClientHello() throws Exception {
        SslContext tls = fixture.serverContext(SslProvider.OPENSSL);
        Mapping<String, SslContext> bySni = new DomainWildcardMappingBuilder<>(tls).add("other.test", tls).build();
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            ServerTunnel server = new ServerTunnel(fixture.transport, fixture.boss, fixture.workers, bySni,
                    TunnelFixture.ANY_LOOPBACK_PORT, backend.address(), false, TunnelSettings.DEFAULTS);
            server.start();
            try (Socket silent = connect(server.localAddress())) {
                long deadline = System.nanoTime() + PROMPTLY.toNanos();
                while (server.stats().connections() == 0 && System.nanoTime() < deadline) {
                    Thread.sleep(10); // until accepted: then it waits for its ClientHello for up to 10 s
                }
                assertEquals(1, server.stats().connections());
                long start = System.nanoTime();
                server.close();
                assertClosed(silent);
                assertElapsedBelow(start, PROMPTLY);
            }
        }
    }

    @Test
    void anIdleConnectionIsClosedAfterTheIdleTimeout() throws Exception {
        TunnelSettings settings = new TunnelSettings(Duration.ofSeconds(10), Duration.ofSeconds(10),
                Duration.ofMillis(500));
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            ServerTunnel server = fixture.serverTunnel(backend.address(), false, TunnelSettings.DEFAULTS);
            ClientTunnel client = fixture.clientTunnel("localhost", server.localAddress().getPort(), null, settings);
            try (Socket socket = connect(client.localAddress())) {
                InputStream in = socket.getInputStream();
                for (int i = 0; i < 4; i++) { // traffic keeps it open past the timeout
                    socket.getOutputStream().write("ping\n".getBytes(StandardCharsets.UTF_8));
                    assertEquals("ping\n", TunnelPairTest.readLine(in));
                    Thread.sleep(200);
                }
                long start = System.nanoTime();
                assertEquals(-1, in.read(), "closed cleanly when idle");
                long millis = (System.nanoTime() - start) / 1_000_000;
                assertTrue(millis >= 250 && millis < PROMPTLY.toMillis(), "closed after " + millis + " ms idle");
            }
        }
    }

    /** A TLS client that trusts the test CA and has finished its handshake, or failed it. */
    private static SSLSocket tlsClient(InetSocketAddress address) throws Exception {
        SSLSocket socket = (SSLSocket) fixture.pki.clientContext().getSocketFactory().createSocket(address.getAddress(), address.getPort());
        socket.setSoTimeout(10_000);
        return socket;
    }
}
