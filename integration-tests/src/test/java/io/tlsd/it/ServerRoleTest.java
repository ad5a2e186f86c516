package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server daemon terminating TLS for applications that ACCEPT, reached by real clients:
 * openssl s_client, gnutls-cli and curl.
 */
class ServerRoleTest {
    private static final Duration T = Duration.ofSeconds(15);

    @TempDir
    static Path dir;
    static TestPki pki;
    static Issued localhost;
    static Issued api;
    static Issued clientCert;
    static ServerDaemonFixture fixture;

    @BeforeAll
    static void start() throws Exception {
        pki = ServerDaemonFixture.pki(dir);
        localhost = pki.issueServer("localhost", "localhost", "127.0.0.1");
        api = pki.issueServer("api.test", "api.test", "*.api.test");
        clientCert = pki.issueClient("app-client");
        fixture = new ServerDaemonFixture(dir, List.of(
                new ListenerConfig("default", ServerDaemonFixture.anyLoopbackPort(),
                        List.of(ServerDaemonFixture.pem(localhost), ServerDaemonFixture.pem(api, "api.test", "*.api.test")),
                        List.of("h2", "http/1.1"), ClientAuthPolicy.NONE, null, Duration.ofSeconds(10), 64,
                        ListenerConfig.DEFAULT_MAX_PENDING_CONNECTIONS),
                new ListenerConfig("mtls", ServerDaemonFixture.anyLoopbackPort(),
                        List.of(ServerDaemonFixture.pem(localhost)), List.of(),
                        ClientAuthPolicy.REQUIRED, pki.caPem(), Duration.ofSeconds(10), 64,
                        ListenerConfig.DEFAULT_MAX_PENDING_CONNECTIONS),
                new ListenerConfig("optional", ServerDaemonFixture.anyLoopbackPort(),
                        List.of(ServerDaemonFixture.pem(localhost)), List.of(),
                        ClientAuthPolicy.OPTIONAL, pki.caPem(), Duration.ofSeconds(10), 64,
                        ListenerConfig.DEFAULT_MAX_PENDING_CONNECTIONS),
                new ListenerConfig("impatient", ServerDaemonFixture.anyLoopbackPort(),
                        List.of(ServerDaemonFixture.pem(localhost)), List.of(),
                        ClientAuthPolicy.NONE, null, Duration.ofMillis(500), 64,
                        ListenerConfig.DEFAULT_MAX_PENDING_CONNECTIONS),
                new ListenerConfig("guarded", ServerDaemonFixture.anyLoopbackPort(),
                        List.of(ServerDaemonFixture.pem(localhost)), List.of(),
                        ClientAuthPolicy.NONE, null, Duration.ofSeconds(60), 1, 2),
                new ListenerConfig("per-client", ServerDaemonFixture.anyLoopbackPort(),
                        List.of(ServerDaemonFixture.pem(localhost)), List.of(),
                        ClientAuthPolicy.NONE, null, Duration.ofSeconds(60), 64,
                        ListenerConfig.DEFAULT_MAX_PENDING_CONNECTIONS, 1)));
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(US_ASCII);
    }

    private static String readLine(TlsConnection conn) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (!out.toString(US_ASCII).endsWith("\n")) {
            byte[] chunk = conn.read(1024).await(T);
            assertTrue(chunk.length > 0, "EOF after '" + out.toString(US_ASCII) + "'");
            out.write(chunk);
        }
        return out.toString(US_ASCII);
    }

    @Test
    void opensslClientTalksToAnAcceptingApp() throws Exception {
        try (TlsdClient app = fixture.app();
             TlsClientProcess client = TlsClientProcess.opensslClient(fixture.port("default"), pki.caPem(),
                     "-servername", "localhost", "-quiet")) {
            TlsConnection conn = app.accept("default").await(T);
            assertEquals("TLSv1.3", conn.info().protocol());
            assertEquals("localhost", conn.info().serverName());
            assertEquals("default", conn.info().listener());
            assertTrue(conn.info().peerCertificates().isEmpty());
            client.send("hello\n");
            assertEquals("hello\n", readLine(conn));
            conn.write(ascii("world\n")).await(T);
            conn.close().await(T);
            assertEquals(0, client.await(), client.stderr());
            assertEquals("world\n", client.stdout());
        }
    }

    @Test
    void sniPicksTheCertificateAndAlpnIsNegotiated() throws Exception {
        try (TlsdClient app = fixture.app();
             TlsClientProcess client = TlsClientProcess.opensslClient(fixture.port("default"), pki.caPem(),
                     "-servername", "v1.api.test", "-alpn", "http/1.1", "-verify_hostname", "v1.api.test")) {
            TlsConnection conn = app.accept().await(T);
            assertEquals("v1.api.test", conn.info().serverName());
            assertEquals("http/1.1", conn.info().alpn());
            conn.write(ascii("hi\n")).await(T);
            conn.close().await(T);
            client.closeStdin();
            client.await();
            String out = client.stdout();
            assertTrue(out.contains("CN = api.test") || out.contains("CN=api.test"), out);
            assertTrue(out.contains("ALPN protocol: http/1.1"), out);
            assertTrue(out.contains("Verify return code: 0 (ok)"), out);
        }
    }

    @Test
    void gnutlsClientWithoutSniGetsTheDefaultCertificate() throws Exception {
        try (TlsdClient app = fixture.app();
             TlsClientProcess client = TlsClientProcess.start("gnutls-cli", "--x509cafile", pki.caPem().toString(),
                     "--port", Integer.toString(fixture.port("default")), "127.0.0.1")) {
            TlsConnection conn = app.accept().await(T);
            assertEquals("", conn.info().serverName(), "gnutls-cli sends no SNI for an IP address");
            client.send("ping\n");
            assertEquals("ping\n", readLine(conn));
            conn.write(ascii("pong\n")).await(T);
            conn.close().await(T);
            client.closeStdin();
            client.await();
            assertTrue(client.stdout().contains("pong"), client.stdout() + client.stderr());
        }
    }

    @Test
    void requiredClientAuthRefusesAClientWithoutCertificate() throws Exception {
        try (TlsdClient app = fixture.app()) {
            Operation<TlsConnection> accept = app.accept("mtls");
            // TLS 1.3 clients finish their side of the handshake before the server judges their
            // certificate, so the refusal is an alert that arrives on the next read: -ign_eof keeps
            // s_client reading until the daemon closes.
            try (TlsClientProcess anonymous = TlsClientProcess.opensslClient(fixture.port("mtls"), pki.caPem(),
                    "-servername", "localhost", "-ign_eof")) {
                anonymous.closeStdin();
                anonymous.await();
                String all = anonymous.stdout() + anonymous.stderr();
                assertTrue(all.contains("alert") || all.contains("certificate required"), all);
            }
            assertFalse(accept.isDone(), "a failed handshake never reaches the application");
            try (TlsClientProcess good = TlsClientProcess.opensslClient(fixture.port("mtls"), pki.caPem(),
                    "-servername", "localhost", "-cert", clientCert.certPem().toString(),
                    "-key", clientCert.keyPem().toString(), "-quiet")) {
                TlsConnection conn = accept.await(T);
                assertTrue(conn.info().peerSubject().contains("CN=app-client"), conn.info().peerSubject());
                assertFalse(conn.info().peerCertificates().isEmpty(), "the application gets the client's chain");
                conn.close().await(T);
                good.await();
            }
        }
    }

    @Test
    void optionalClientAuthAcceptsBoth() throws Exception {
        try (TlsdClient app = fixture.app()) {
            try (TlsClientProcess anonymous = TlsClientProcess.opensslClient(fixture.port("optional"), pki.caPem(),
                    "-servername", "localhost", "-quiet")) {
                TlsConnection conn = app.accept("optional").await(T);
                assertEquals("", conn.info().peerSubject());
                conn.close().await(T);
                anonymous.await();
            }
            try (TlsClientProcess withCert = TlsClientProcess.opensslClient(fixture.port("optional"), pki.caPem(),
                    "-servername", "localhost", "-cert", clientCert.certPem().toString(),
                    "-key", clientCert.keyPem().toString(), "-quiet")) {
                TlsConnection conn = app.accept("optional").await(T);
                assertTrue(conn.info().peerSubject().contains("CN=app-client"), conn.info().peerSubject());
                conn.close().await(T);
                withCert.await();
            }
        }
    }

    @Test
    void sessionResumption() throws Exception {
        Path session = dir.resolve("session.pem");
        try (TlsdClient app = fixture.app()) {
            try (TlsClientProcess first = TlsClientProcess.opensslClient(fixture.port("default"), pki.caPem(),
                    "-servername", "localhost", "-sess_out", session.toString())) {
                TlsConnection conn = app.accept().await(T);
                assertFalse(conn.info().resumed());
                conn.write(ascii("first\n")).await(T);
                conn.close().await(T);
                first.closeStdin();
                first.await();
                assertTrue(first.stdout().contains("New, TLSv1.3"), first.stdout());
            }
            try (TlsClientProcess second = TlsClientProcess.opensslClient(fixture.port("default"), pki.caPem(),
                    "-servername", "localhost", "-sess_in", session.toString())) {
                TlsConnection conn = app.accept().await(T);
                assertTrue(conn.info().resumed(), "the application sees the resumption");
                conn.write(ascii("second\n")).await(T);
                conn.close().await(T);
                second.closeStdin();
                second.await();
                assertTrue(second.stdout().contains("Reused, TLSv1.3"), second.stdout());
            }
        }
    }

    @Test
    void silentClientIsDroppedAfterTheHandshakeTimeout() throws Exception {
        try (Socket silent = new Socket(InetAddress.getLoopbackAddress(), fixture.port("impatient"))) {
            silent.setSoTimeout(5_000);
            long start = System.nanoTime();
            InputStream in = silent.getInputStream();
            int b = in.read();
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertEquals(-1, b, "the daemon closes the connection");
            assertTrue(ms >= 400 && ms < 4_000, "closed after " + ms + " ms");
        }
    }

    @Test
    void aListenerClosesClientsBeyondMaxPendingConnectionsAndFreesThePlaceOfOneTaken() throws Exception {
        int port = fixture.port("guarded"); // max_pending_connections 2
        try (TlsdClient app = fixture.app();
             Socket silent = new Socket(InetAddress.getLoopbackAddress(), port);
             TlsClientProcess client = TlsClientProcess.opensslClient(port, pki.caPem(),
                     "-servername", "localhost", "-quiet")) {
            // the silent client and openssl's hold both places until an application takes openssl's
            TlsConnection conn = app.accept("guarded").await(T);
            client.send("taken\n");
            assertEquals("taken\n", readLine(conn));

            // one place is left: of two more clients, exactly one is closed at once
            try (Socket second = new Socket(InetAddress.getLoopbackAddress(), port);
                 Socket third = new Socket(InetAddress.getLoopbackAddress(), port)) {
                Socket closed = firstClosed(Duration.ofSeconds(5), second, third);
                assertTrue(closed != null, "neither of two clients beyond the limit was closed");
                Socket other = closed == second ? third : second;
                assertFalse(closedWithin(other, Duration.ofMillis(300)), "the other keeps the last place");
            }
            assertFalse(closedWithin(silent, Duration.ofMillis(300)), "the silent client keeps its place");
            conn.write(ascii("still here\n")).await(T);
            conn.close().await(T);
            assertEquals(0, client.await(), client.stderr());
            assertEquals("still here\n", client.stdout());
        }
    }

    @Test
    void oneClientAddressHoldsAtMostItsShareOfTheListenersPendingPlaces() throws Exception {
        int port = fixture.port("per-client"); // max_pending_connections_per_client 1
        try (TlsdClient app = fixture.app();
             Socket silent = new Socket(InetAddress.getLoopbackAddress(), port)) {
            // the silent client holds the one place of 127.0.0.1 (once admitted): another client from there is closed
            awaitPending("per-client", 1);
            try (Socket second = new Socket(InetAddress.getLoopbackAddress(), port)) {
                assertTrue(closedWithin(second, Duration.ofSeconds(5)), "a second client from 127.0.0.1");
            }
            // another address of the loopback network is another client: its handshake goes through
            try (TlsClientProcess other = TlsClientProcess.opensslClient(port, pki.caPem(), "-bind", "127.0.0.2:0",
                    "-servername", "localhost", "-quiet")) {
                TlsConnection conn = app.accept("per-client").await(T);
                assertTrue(conn.info().peerAddress().startsWith("127.0.0.2:"), conn.info().peerAddress());
                other.send("from elsewhere\n");
                assertEquals("from elsewhere\n", readLine(conn));
                conn.close().await(T);
                assertEquals(0, other.await(), other.stderr());
            }
            assertFalse(closedWithin(silent, Duration.ofMillis(300)), "the silent client keeps its place");
        }
    }

    /** Until {@code listener} holds {@code count} pending clients (its gauge). */
    private static void awaitPending(String listener, long count) throws InterruptedException {
        long end = System.nanoTime() + T.toNanos();
        while (fixture.daemon.metricSamples().stream().noneMatch(s -> s.name().equals("tlsd_listener_pending_connections")
                && s.labels().get("listener").equals(listener) && s.value() == count)) {
            assertTrue(System.nanoTime() < end, "never " + count + " pending on " + listener);
            Thread.sleep(10);
        }
    }

    /** The first of {@code sockets} the daemon ends within {@code wait}, or null. */
    private static Socket firstClosed(Duration wait, Socket... sockets) throws Exception {
        long deadline = System.nanoTime() + wait.toNanos();
        while (System.nanoTime() < deadline) {
            for (Socket socket : sockets) {
                if (closedWithin(socket, Duration.ofMillis(50))) {
                    return socket;
                }
            }
        }
        return null;
    }

    /** Whether the daemon ends the connection (EOF or reset) within {@code wait}; false if it stays open. */
    private static boolean closedWithin(Socket socket, Duration wait) throws Exception {
        socket.setSoTimeout((int) wait.toMillis());
        try {
            return socket.getInputStream().read() == -1;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (java.net.SocketException e) {
            return true; // reset
        }
    }

    @Test
    void twoAppsShareOneListener() throws Exception {
        try (TlsdClient a = fixture.app(); TlsdClient b = fixture.app()) {
            Operation<TlsConnection> fromA = a.accept();
            Operation<TlsConnection> fromB = b.accept();
            try (TlsClientProcess c1 = TlsClientProcess.opensslClient(fixture.port("default"), pki.caPem(),
                    "-servername", "localhost", "-quiet");
                 TlsClientProcess c2 = TlsClientProcess.opensslClient(fixture.port("default"), pki.caPem(),
                         "-servername", "localhost", "-quiet")) {
                TlsConnection x = fromA.await(T);
                TlsConnection y = fromB.await(T);
                assertNotEquals(x.info().peerAddress(), y.info().peerAddress());
                x.write(ascii("from a\n")).await(T);
                y.write(ascii("from b\n")).await(T);
                x.close().await(T);
                y.close().await(T);
                c1.await();
                c2.await();
                String both = c1.stdout() + c2.stdout();
                assertTrue(both.contains("from a") && both.contains("from b"), both);
            }
        }
    }

    @Test
    void acceptOnAnUnknownListenerIsNotFound() throws Exception {
        try (TlsdClient app = fixture.app()) {
            TlsdException e = assertThrows(TlsdException.class, () -> app.accept("nope").await(T));
            assertEquals(Status.NOT_FOUND, e.status());
            assertTrue(e.detail().contains("default"), e.detail());
        }
    }

    @Test
    void acceptCanBeCancelledAndTimesOut() throws Exception {
        try (TlsdClient app = fixture.app()) {
            Operation<TlsConnection> waiting = app.accept("optional");
            assertTrue(waiting.cancel().await(T));
            assertEquals(Status.CANCELLED, assertThrows(TlsdException.class, () -> waiting.await(T)).status());
            TlsdException e = assertThrows(TlsdException.class,
                    () -> app.accept("optional", Duration.ofMillis(200)).await(T));
            assertEquals(Status.TIMED_OUT, e.status());
        }
    }

    @Test
    void openIsRefusedByTheServerRole() throws Exception {
        try (TlsdClient app = fixture.app()) {
            assertEquals("server", app.role());
            TlsdException e = assertThrows(TlsdException.class, () -> app.open("localhost", 443).await(T));
            assertEquals(Status.BAD_REQUEST, e.status());
        }
    }
}
