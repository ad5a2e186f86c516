package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TlsPeer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An application killed with SIGKILL in the middle of a transfer: the daemon must notice, end its
 * operations and close its connections, and keep serving others.
 */
class AppCrashTest {
    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    /** The child JVM: opens two connections and streams into one of them until it is killed. */
    public static final class StreamingApp {
        public static void main(String[] args) throws Exception {
            Path socket = Path.of(args[0]);
            int port = Integer.parseInt(args[1]);
            TlsdClient client = TlsdClient.builder().socket(socket).appName("doomed").build();
            TlsConnection conn = client.open("localhost", port).await(T);
            TlsConnection idle = client.open("localhost", port).await(T);
            idle.read(1024); // left pending on purpose
            byte[] chunk = new byte[64 * 1024]; // text lines: gnutls-serv --echo answers whole lines
            java.util.Arrays.fill(chunk, (byte) 'x');
            chunk[chunk.length - 1] = '\n';
            System.out.println("streaming");
            System.out.flush();
            while (true) {
                conn.write(chunk);
                conn.read(64 * 1024);
                Thread.sleep(1);
            }
        }
    }

    /**
     * An application that goes without closing its connections may have been in the middle of a
     * message: its peers see a reset, not the close_notify of a stream that ended where it should.
     */
    @Test
    void theConnectionsOfAnApplicationThatIsGoneAreResetNotClosed() throws Exception {
        try (ClientDaemonFixture fixture = new ClientDaemonFixture(dir)) {
            java.util.concurrent.CompletableFuture<String> seen = new java.util.concurrent.CompletableFuture<>();
            try (io.tlsd.testing.JsseServer server = io.tlsd.testing.JsseServer.start(
                    fixture.pki.issueServer("localhost", "localhost"), c -> {
                        byte[] buf = new byte[1024];
                        StringBuilder got = new StringBuilder();
                        try {
                            for (int n; (n = c.in().read(buf)) >= 0; ) {
                                got.append(new String(buf, 0, n, StandardCharsets.US_ASCII));
                            }
                            seen.complete(got + " then a clean end");
                        } catch (java.net.SocketException e) {
                            seen.complete(got + " then " + e.getMessage());
                        }
                    })) {
                TlsdClient app = fixture.client();
                TlsConnection conn = app.open("localhost", server.port()).await(T);
                conn.write("half a mess".getBytes(StandardCharsets.US_ASCII)).await(T);
                app.close(); // gone, its connection still open
                assertEquals("half a mess then Connection reset", seen.get(10, java.util.concurrent.TimeUnit.SECONDS));
            }
            fixture.awaitIdle();
        }
    }

    @Test
    void killedAppLeavesNothingBehind() throws Exception {
        try (ClientDaemonFixture fixture = new ClientDaemonFixture(dir)) {
            Issued localhost = fixture.pki.issueServer("localhost", "localhost");
            try (TlsPeer server = TlsPeer.gnutlsServer(localhost, "--echo", "--crlf", "--disable-client-cert");
                 TlsdClient survivor = fixture.client()) {
                TlsConnection other = survivor.open("localhost", server.port()).await(T);

                List<String> command = new ArrayList<>(List.of(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp", System.getProperty("java.class.path"),
                        StreamingApp.class.getName(), fixture.socket().toString(),
                        Integer.toString(server.port())));
                Process app = new ProcessBuilder(command).redirectErrorStream(true).start();
                try {
                    BufferedReader out = new BufferedReader(new InputStreamReader(app.getInputStream(),
                            StandardCharsets.UTF_8));
                    String line = out.readLine();
                    assertTrue("streaming".equals(line), "child said: " + line);
                    fixture.awaitStats(s -> s.sessions() == 2 && s.connections() >= 2 && s.opsInFlight() >= 1, T);
                } finally {
                    app.destroyForcibly().waitFor();
                }
                // only the survivor's session and connection remain
                fixture.awaitStats(s -> s.sessions() == 1 && s.connections() == 1 && s.opsInFlight() == 0, T);

                other.write("still here\n".getBytes(StandardCharsets.US_ASCII)).await(T);
                byte[] back = other.read(100).await(T);
                assertTrue(back.length > 0, "the other application is still served");
                other.close().await(T);
            }
            fixture.awaitIdle();
        }
    }
}
