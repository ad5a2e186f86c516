package io.tlsd.it.tunnel;

import static io.tlsd.it.tunnel.TunnelFixture.SERVER_NAME;
import static io.tlsd.it.tunnel.TunnelFixture.connect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.tunnel.ClientTunnel;
import io.tlsd.daemon.tunnel.ServerTunnel;
import io.tlsd.daemon.tunnel.TunnelSettings;
import io.tlsd.testing.JsseServer;
import io.tlsd.testing.TlsPeer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The tunnels against independent TLS implementations: stunnel (OpenSSL), curl, openssl s_server, JSSE. */
@Timeout(60)
class TunnelInteropTest {
    @TempDir
    static Path dir;
    static TunnelFixture fixture;

    @BeforeAll
    static void setUp() throws IOException {
        fixture = new TunnelFixture(dir);
    }

    @AfterAll
    static void tearDown() {
        fixture.close();
    }

    /** plain → stunnel (client mode, verifying chain and host) → ServerTunnel → plain echo. */
    @Test
    void stunnelClientToServerTunnel() throws Exception {
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            ServerTunnel server = fixture.serverTunnel(backend.address(), false, TunnelSettings.DEFAULTS);
            try (Stunnel stunnel = Stunnel.start(dir, "to-tlsd",
                    "client = yes",
                    "connect = 127.0.0.1:" + server.localAddress().getPort(),
                    "sni = " + SERVER_NAME,
                    "verifyChain = yes",
                    "CAfile = " + fixture.pki.caPem(),
                    "checkHost = " + SERVER_NAME,
                    "sslVersionMin = TLSv1.3")) {
                try (Socket socket = connect(new InetSocketAddress("127.0.0.1", stunnel.port()))) {
                    socket.getOutputStream().write("via stunnel\n".getBytes(StandardCharsets.UTF_8));
                    assertEquals("via stunnel\n", TunnelPairTest.readLine(socket.getInputStream()), stunnel.output());
                    socket.shutdownOutput();
                    assertEquals(-1, socket.getInputStream().read(), "EOF after the backend's FIN");
                }
            }
        }
    }

    /**
     * plain → ClientTunnel → stunnel (server mode) → plain backend that answers only after EOF:
     * the client's FIN crosses TLS as close_notify and stunnel's OpenSSL keeps sending.
     */
    @Test
    void clientTunnelToStunnelServerWithHalfClose() throws Exception {
        try (PlainBackend backend = PlainBackend.start(PlainBackend.replyAfterEof());
             Stunnel stunnel = Stunnel.start(dir, "from-tlsd",
                     "connect = 127.0.0.1:" + backend.address().getPort(),
                     "cert = " + fixture.server.chainPem(),
                     "key = " + fixture.server.keyPem(),
                     "sslVersionMin = TLSv1.3")) {
            ClientTunnel client = fixture.clientTunnel("localhost", stunnel.port(), null, TunnelSettings.DEFAULTS);
            try (Socket socket = connect(client.localAddress())) {
                socket.getOutputStream().write("to stunnel".getBytes(StandardCharsets.UTF_8));
                socket.shutdownOutput();
                assertEquals("got 10 bytes: to stunnel",
                        new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8), stunnel.output());
            }
        }
    }

    /** curl speaks plain HTTP to a ClientTunnel in front of {@code openssl s_server -www}. */
    @Test
    void curlThroughClientTunnelToOpensslWww() throws Exception {
        try (TlsPeer https = TlsPeer.opensslServer(fixture.server, "-www")) {
            ClientTunnel client = fixture.clientTunnel("localhost", https.port(), null, TunnelSettings.DEFAULTS);
            Process curl = new ProcessBuilder("curl", "-s", "-S", "-m", "10",
                    "http://127.0.0.1:" + client.localAddress().getPort() + "/")
                    .redirectErrorStream(true).start();
            String page = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(curl.waitFor(15, TimeUnit.SECONDS), "curl finished");
            assertEquals(0, curl.exitValue(), page);
            assertTrue(page.contains("Ciphers supported in s_server binary"), page);
            assertTrue(page.contains("TLSv1.3"), page);
        }
    }

    /** A JSSE server reads to close_notify, then answers: the ClientTunnel keeps reading after its close_notify. */
    @Test
    void clientTunnelHalfCloseAgainstJsse() throws Exception {
        try (JsseServer server = JsseServer.start(fixture.server, connection -> {
            byte[] request = connection.in().readAllBytes();
            connection.out().write(("got " + request.length + " bytes").getBytes(StandardCharsets.UTF_8));
            connection.closeWithCloseNotify();
        })) {
            ClientTunnel client = fixture.clientTunnel("localhost", server.port(), null, TunnelSettings.DEFAULTS);
            try (Socket socket = connect(client.localAddress())) {
                socket.getOutputStream().write("12345".getBytes(StandardCharsets.UTF_8));
                socket.shutdownOutput();
                assertEquals("got 5 bytes", new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            }
        }
    }

    /** A TLS server that ends without close_notify may have been cut off: the plain client gets a reset, not EOF. */
    @Test
    void aTruncatedTlsStreamResetsThePlainClient() throws Exception {
        try (JsseServer server = JsseServer.start(fixture.server, connection -> {
            connection.in().read();
            connection.out().write("partial".getBytes(StandardCharsets.UTF_8));
            connection.out().flush();
            connection.closeWithoutCloseNotify();
        })) {
            ClientTunnel client = fixture.clientTunnel("localhost", server.port(), null, TunnelSettings.DEFAULTS);
            try (Socket socket = connect(client.localAddress())) {
                socket.getOutputStream().write('x');
                byte[] partial = socket.getInputStream().readNBytes(7);
                assertEquals("partial", new String(partial, StandardCharsets.UTF_8));
                java.net.SocketException reset = org.junit.jupiter.api.Assertions.assertThrows(
                        java.net.SocketException.class, () -> socket.getInputStream().read());
                assertTrue(reset.getMessage().contains("reset"), reset.getMessage());
            }
        }
    }
}
