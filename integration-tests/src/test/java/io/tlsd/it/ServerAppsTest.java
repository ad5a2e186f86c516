package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.cli.TlsdCommand;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Applications on the server role: an HTTP responder for curl, tlsd accept, and an app that dies. */
class ServerAppsTest {
    private static final Duration T = Duration.ofSeconds(15);

    @TempDir
    static Path dir;
    static TestPki pki;
    static Issued localhost;
    static ServerDaemonFixture fixture;

    @BeforeAll
    static void start() throws Exception {
        pki = ServerDaemonFixture.pki(dir);
        localhost = pki.issueServer("localhost", "localhost", "127.0.0.1");
        fixture = new ServerDaemonFixture(dir, List.of(new ListenerConfig("default",
                ServerDaemonFixture.anyLoopbackPort(), List.of(ServerDaemonFixture.pem(localhost)),
                List.of("http/1.1"), io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy.NONE, null,
                Duration.ofSeconds(10), 64, ListenerConfig.DEFAULT_MAX_PENDING_CONNECTIONS)));
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    /** Serves one HTTP/1.1 request on an accepted connection, as a tiny app written with the SDK would. */
    private static String serveOneRequest(TlsConnection conn, String body) throws Exception {
        ByteArrayOutputStream request = new ByteArrayOutputStream();
        while (!request.toString(US_ASCII).contains("\r\n\r\n")) {
            byte[] chunk = conn.read(4096).await(T);
            assertTrue(chunk.length > 0, "EOF inside the request");
            request.write(chunk);
        }
        String response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + body.length()
                + "\r\nConnection: close\r\n\r\n" + body;
        conn.write(response.getBytes(US_ASCII)).await(T);
        conn.close().await(T);
        return request.toString(US_ASCII);
    }

    @Test
    void curlReachesAnHttpResponderWrittenWithTheSdk() throws Exception {
        try (TlsdClient app = fixture.app();
             TlsClientProcess curl = TlsClientProcess.start("curl", "-sS", "--http1.1", "--cacert",
                     pki.caPem().toString(), "https://localhost:" + fixture.port("default") + "/hello")) {
            TlsConnection conn = app.accept().await(T);
            assertEquals("http/1.1", conn.info().alpn(), "curl offers h2 and http/1.1; the listener only speaks http/1.1");
            String request = serveOneRequest(conn, "hello from tlsd\n");
            assertTrue(request.startsWith("GET /hello HTTP/1.1\r\n"), request);
            assertEquals(0, curl.await(), curl.stderr());
            assertEquals("hello from tlsd\n", curl.stdout());
        }
    }

    /** The child JVM: accepts one connection and then waits to be killed, holding it. */
    public static final class HoldingApp {
        public static void main(String[] args) throws Exception {
            TlsdClient app = TlsdClient.builder().socket(Path.of(args[0])).appName("doomed-server-app").build();
            app.accept().toCompletableFuture().thenAccept(conn -> {
                System.out.println("accepted");
                System.out.flush();
                conn.read(1024); // pending on purpose
            });
            app.accept(); // a second accept left waiting
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    @Test
    void killedAppsConnectionsAreResetAndTheListenerKeepsServing() throws Exception {
        Process app = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), HoldingApp.class.getName(), fixture.socket().toString())
                .redirectErrorStream(true).start();
        try (TlsClientProcess victim = TlsClientProcess.opensslClient(fixture.port("default"), pki.caPem(),
                "-servername", "localhost", "-quiet")) {
            BufferedReader out = new BufferedReader(new InputStreamReader(app.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("accepted", out.readLine());
            app.destroyForcibly().waitFor();
            int exit = victim.await();
            // reset, no close_notify: the client cannot take what it got for a complete stream
            assertTrue(exit != 0 && victim.stderr().contains("errno=104"), exit + ": " + victim.stderr());
        } finally {
            app.destroyForcibly();
        }
        try (TlsdClient next = fixture.app();
             TlsClientProcess client = TlsClientProcess.opensslClient(fixture.port("default"), pki.caPem(),
                     "-servername", "localhost", "-quiet")) {
            TlsConnection conn = next.accept().await(T);
            conn.write("still serving\n".getBytes(US_ASCII)).await(T);
            conn.close().await(T);
            client.await();
            assertEquals("still serving\n", client.stdout());
        }
        awaitNoConnections();
    }

    private static void awaitNoConnections() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (fixture.daemon.stats().connections() != 0 || fixture.daemon.stats().opsInFlight() != 0) {
            assertTrue(System.nanoTime() < deadline, "left behind: " + fixture.daemon.stats());
            Thread.sleep(20);
        }
    }

    @Test
    void tlsdAcceptGivesUpAfterItsTimeout() throws Exception {
        Process accept = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), TlsdCommand.class.getName(), "accept",
                "--socket", fixture.socket().toString(), "--timeout", "300ms").start();
        try {
            assertTrue(accept.waitFor(20, TimeUnit.SECONDS), "tlsd accept did not give up");
            String stderr = new String(accept.getErrorStream().readAllBytes(), US_ASCII);
            assertEquals(1, accept.exitValue(), stderr);
            assertTrue(stderr.contains("TIMED_OUT"), stderr);
        } finally {
            accept.destroyForcibly();
        }
    }

    @Test
    void tlsdAcceptBridgesAnOpensslClient() throws Exception {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                TlsdCommand.class.getName(), "accept", "--socket", fixture.socket().toString()));
        Process accept = new ProcessBuilder(command).start();
        try (TlsClientProcess client = TlsClientProcess.opensslClient(fixture.port("default"), pki.caPem(),
                "-servername", "localhost", "-quiet")) {
            BufferedReader fromClient = new BufferedReader(new InputStreamReader(accept.getInputStream(), US_ASCII));
            client.send("from the client\n");
            assertEquals("from the client", fromClient.readLine());
            accept.getOutputStream().write("from the app\n".getBytes(US_ASCII));
            accept.getOutputStream().close(); // stdin's end sends close_notify after the line
            assertEquals(0, client.await(), client.stderr());
            assertEquals("from the app\n", client.stdout());
            assertTrue(accept.waitFor(20, TimeUnit.SECONDS), "tlsd accept did not exit");
            assertEquals(0, accept.exitValue(), new String(accept.getErrorStream().readAllBytes(), US_ASCII));
        } finally {
            accept.destroyForcibly();
        }
    }
}
