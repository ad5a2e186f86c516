package io.tlsd.it;

import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.config.ConfigFile;
import io.tlsd.daemon.metrics.Sample;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server-role tunnel with several certificates ({@code certificates:} in its configuration
 * file): openssl s_client gets the certificate its SNI name picks, exact or by wildcard, and the
 * default one for another name or none, and reaches the backend through either, or the backend
 * its name picks ({@code routes:}); a reload serves renewed files. A client that sends no usable
 * ClientHello is closed and counted, one that closes first is closed at once, and the handshake
 * timeout counts from the accept.
 */
@Timeout(60)
class ServerTunnelSniTest {
    private static final String GREETING = "hello from the backend";
    private static final Pattern GREETING_LINE = Pattern.compile("hello from [a-z ]+");

    @TempDir
    Path dir;
    TestPki pki;
    /** The api certificate's files, as the configuration names them; a test overwrites them. */
    Path apiCert;
    Path apiKey;
    GreetingBackend backend;

    @BeforeEach
    void setUp() throws Exception {
        pki = ServerDaemonFixture.pki(dir);
        Issued api = pki.issueServer("api.test", "api.test", "*.api.test");
        apiCert = Files.copy(api.chainPem(), dir.resolve("api.pem"));
        apiKey = Files.copy(api.keyPem(), dir.resolve("api.key"));
        backend = new GreetingBackend(GREETING);
    }

    @AfterEach
    void tearDown() throws Exception {
        backend.close();
    }

    /** A server daemon from a configuration file with one tunnel, {@code web}, serving two certificates. */
    private TlsdDaemon startDaemon(String handshakeTimeout) throws Exception {
        Issued fallback = pki.issueServer("default.test", "default.test");
        Path config = dir.resolve("tlsd.yaml");
        Files.writeString(config, """
                socket: none
                timeouts:
                  handshake: %s
                tunnels:
                  - name: web
                    listen: 127.0.0.1:0
                    target: 127.0.0.1:%d
                    certificates:
                      - cert: %s
                        key: %s
                      - names: [api.test, "*.api.test"]
                        cert: api.pem
                        key: api.key
                """.formatted(handshakeTimeout, backend.port(), fallback.chainPem(), fallback.keyPem()));
        DaemonConfig loaded = ConfigFile.load(config);
        return TlsdDaemon.start(loaded.toBuilder().role(DaemonConfig.Role.SERVER).build());
    }

    @Test
    void theServerNamePicksTheCertificateAndEveryClientReachesTheBackend() throws Exception {
        try (TlsdDaemon daemon = startDaemon("10s")) {
            int port = daemon.tunnelAddress("web").getPort();
            assertEquals("api.test", servedName(port, "-servername", "api.test", "-verify_hostname", "api.test"));
            assertEquals("api.test", servedName(port, "-servername", "v2.api.test", "-verify_hostname", "v2.api.test"));
            assertEquals("default.test", servedName(port, "-servername", "other.test"));
            assertEquals("default.test", servedName(port, "-noservername"));

            Issued renewed = pki.issueServer("api-renewed.test", "api.test");
            Files.copy(renewed.chainPem(), apiCert, REPLACE_EXISTING);
            Files.copy(renewed.keyPem(), apiKey, REPLACE_EXISTING);
            String served = daemon.reload().get(0);
            assertTrue(served.startsWith("tunnel web (CN=default.test,O=tlsd tests until "), served);
            assertTrue(served.contains(", CN=api-renewed.test,"), served);
            assertEquals("api-renewed.test", servedName(port, "-servername", "api.test"));
            assertEquals("default.test", servedName(port, "-noservername"));
            assertEquals(0, handshakeFailures(daemon));
        }
    }

    @Test
    void routesSendAServerNameToItsOwnBackend() throws Exception {
        Issued fallback = pki.issueServer("default.test", "default.test");
        try (GreetingBackend api = new GreetingBackend("hello from the api")) {
            Path config = Files.writeString(dir.resolve("routes.yaml"), """
                    socket: none
                    tunnels:
                      - name: web
                        listen: 127.0.0.1:0
                        target: 127.0.0.1:%1$d
                        certificates:
                          - cert: %3$s
                            key: %4$s
                          - names: [api.test, "*.api.test"]
                            cert: api.pem
                            key: api.key
                        routes:
                          - names: [api.test, "*.api.test"]
                            target: 127.0.0.1:%2$d
                      - name: one-certificate
                        listen: 127.0.0.1:0
                        target: 127.0.0.1:%1$d
                        cert: api.pem
                        key: api.key
                        routes:
                          - names: ["*.api.test"]
                            target: 127.0.0.1:%2$d
                    """.formatted(backend.port(), api.port(), fallback.chainPem(), fallback.keyPem()));
            try (TlsdDaemon daemon = TlsdDaemon.start(
                    ConfigFile.load(config).toBuilder().role(DaemonConfig.Role.SERVER).build())) {
                int web = daemon.tunnelAddress("web").getPort();
                assertEquals("api.test hello from the api", servedNameAndGreeting(web, "-servername", "api.test"));
                assertEquals("api.test hello from the api", servedNameAndGreeting(web, "-servername", "v2.api.test"));
                assertEquals("default.test " + GREETING, servedNameAndGreeting(web, "-servername", "a.b.api.test"),
                        "a wildcard covers one label");
                assertEquals("default.test " + GREETING, servedNameAndGreeting(web, "-servername", "other.test"));
                assertEquals("default.test " + GREETING, servedNameAndGreeting(web, "-noservername"));
                // one certificate: the tunnel still reads the ClientHello to pick the backend
                int one = daemon.tunnelAddress("one-certificate").getPort();
                assertEquals("api.test hello from the api", servedNameAndGreeting(one, "-servername", "v2.api.test"));
                assertEquals("api.test " + GREETING, servedNameAndGreeting(one, "-servername", "api.test"),
                        "*.api.test is for the names under api.test");
                daemon.reload(); // its one certificate again: the routes stay
                assertEquals("api.test hello from the api", servedNameAndGreeting(one, "-servername", "v2.api.test"));
            }
        }
    }

    @Test
    void aClientWithoutAUsableClientHelloIsClosedAndCountedOnce() throws Exception {
        try (TlsdDaemon daemon = startDaemon("1s")) {
            int port = daemon.tunnelAddress("web").getPort();
            try (Socket silent = connect(port)) {
                long start = System.nanoTime();
                assertEnds(silent);
                long millis = (System.nanoTime() - start) / 1_000_000;
                assertTrue(millis >= 800 && millis < 5_000, "closed after " + millis + " ms, the handshake timeout is 1 s");
            }
            try (Socket alert = connect(port)) {
                // an alert record longer than TLS allows: no ClientHello, and the default certificate's
                // handshake refuses it
                alert.getOutputStream().write(new byte[] {0x15, 0x03, 0x03, (byte) 0xff, (byte) 0xff});
                assertEnds(alert);
            }
            try (Socket http = connect(port)) {
                // no TLS record at all: the default certificate's handshake fails on it
                http.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertEnds(http);
            }
            try (Socket healthCheck = connect(port)) {
                // connects and ends its side, as a TCP health check does: closed at once, not a failure
                long start = System.nanoTime();
                healthCheck.shutdownOutput();
                assertEnds(healthCheck);
                long millis = (System.nanoTime() - start) / 1_000_000;
                assertTrue(millis < 700, "closed after " + millis + " ms, not before the handshake timeout");
            }
            assertEquals("api.test", servedName(port, "-servername", "api.test"), "the tunnel still serves");
            Thread.sleep(1_500); // past the handshake timeout: a connection held until then would count by now
            assertEquals(3, handshakeFailures(daemon));
        }
    }

    @Test
    void theHandshakeTimeoutCountsFromTheAcceptNotFromALateClientHello() throws Exception {
        try (TlsdDaemon daemon = startDaemon("1s");
             Socket late = connect(daemon.tunnelAddress("web").getPort())) {
            long start = System.nanoTime();
            Thread.sleep(900);
            late.getOutputStream().write(clientHello("api.test")); // then nothing: the handshake cannot finish
            late.getInputStream().transferTo(OutputStream.nullOutputStream()); // the server's flight, then the end
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis >= 900 && millis < 1_500, "closed " + millis + " ms after the connect; the timeout is 1 s");
        }
    }

    /** A TLS 1.3 ClientHello for {@code serverName} from the JDK's engine. */
    private static byte[] clientHello(String serverName) throws Exception {
        SSLContext context = SSLContext.getInstance("TLSv1.3");
        context.init(null, null, null);
        SSLEngine engine = context.createSSLEngine(serverName, 443);
        engine.setUseClientMode(true);
        SSLParameters parameters = engine.getSSLParameters();
        parameters.setServerNames(List.of(new SNIHostName(serverName)));
        engine.setSSLParameters(parameters);
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.beginHandshake();
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] hello = new byte[out.remaining()];
        out.get(hello);
        return hello;
    }

    private static Socket connect(int port) throws IOException {
        Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
        socket.setSoTimeout(10_000);
        return socket;
    }

    /** Reads until the tunnel ends the connection (EOF or a reset); fails on a byte or after 10 s. */
    private static void assertEnds(Socket socket) throws IOException {
        InputStream in = socket.getInputStream();
        try {
            int b = in.read();
            if (b != -1) {
                fail("expected the connection to end, read a byte: " + b);
            }
        } catch (SocketException e) {
            // reset: also an end
        }
    }

    /**
     * The CN of the certificate openssl s_client gets from the tunnel, after checking that the
     * backend's greeting came through.
     */
    private String servedName(int port, String... args) throws Exception {
        return servedNameAndGreeting(port, args).split(" ", 2)[0];
    }

    /** "CN greeting": the CN of the certificate served and the line of the backend reached. */
    private String servedNameAndGreeting(int port, String... args) throws Exception {
        try (TlsClientProcess client = TlsClientProcess.opensslClient(port, pki.caPem(), withIgnEof(args))) {
            client.closeStdin();
            assertEquals(0, client.await(), client.stderr());
            String out = client.stdout();
            Matcher greeting = GREETING_LINE.matcher(out);
            assertTrue(greeting.find(), "no greeting from a backend:\n" + out);
            return TlsClientProcess.servedCommonName(out) + " " + greeting.group();
        }
    }

    /** With -ign_eof s_client reads until the tunnel closes, so the greeting is in its output. */
    private static String[] withIgnEof(String... args) {
        String[] all = new String[args.length + 1];
        all[0] = "-ign_eof";
        System.arraycopy(args, 0, all, 1, args.length);
        return all;
    }

    private static long handshakeFailures(TlsdDaemon daemon) {
        for (Sample s : daemon.metricSamples()) {
            if (s.name().equals("tlsd_tunnel_handshake_failures_total") && "web".equals(s.labels().get("tunnel"))) {
                return s.value();
            }
        }
        throw new AssertionError("no tlsd_tunnel_handshake_failures_total for tunnel web");
    }
}
