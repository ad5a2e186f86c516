package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy;
import io.tlsd.daemon.tunnel.TunnelConfig;
import io.tlsd.daemon.tunnel.TunnelSettings;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code metrics: ADDR}: Prometheus's text format on {@code GET /metrics}, as curl fetches it. */
@Timeout(60)
class MetricsTest {
    private static final InetSocketAddress ANY_LOOPBACK_PORT = new InetSocketAddress("127.0.0.1", 0);

    @TempDir
    Path dir;

    @Test
    void theClientRoleServesItsCountersAndTheyFollowTheSessions() throws Exception {
        Path socket = Files.createDirectories(dir.resolve("run")).resolve("client.sock");
        try (TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder()
                .role(DaemonConfig.Role.CLIENT)
                .socket(socket)
                .metrics(ANY_LOOPBACK_PORT)
                .tunnels(List.of(TunnelConfig.client("plain-to-tls", ANY_LOOPBACK_PORT, "127.0.0.1:9", null)))
                .build())) {
            String url = "http://127.0.0.1:" + daemon.metricsAddress().getPort();
            Curl quiet = curl("-sS", "-i", url + "/metrics");
            assertTrue(quiet.out.startsWith("HTTP/1.1 200"), quiet.out);
            assertTrue(quiet.out.toLowerCase().contains("content-type: text/plain; version=0.0.4"), quiet.out);
            assertTrue(quiet.out.contains("# TYPE tlsd_sessions gauge\ntlsd_sessions 0\n"), quiet.out);
            assertTrue(quiet.out.contains("# TYPE tlsd_ops_completed_total counter\n"), quiet.out);
            assertTrue(quiet.out.contains("tlsd_tunnel_connections{tunnel=\"plain-to-tls\"} 0\n"), quiet.out);

            try (TlsdClient app = TlsdClient.builder().socket(socket).appName("metrics-it").build()) {
                // an OPEN to a port nobody listens on: completed, and failed
                assertThrows(TlsdException.class,
                        () -> app.open("127.0.0.1", FreePorts.loopback()).await(Duration.ofSeconds(10)));
                String busy = curl("-sS", url + "/metrics").out;
                assertTrue(busy.contains("\ntlsd_sessions 1\n"), busy);
                assertTrue(valueOf(busy, "tlsd_ops_completed_total") >= 1, busy);
                assertTrue(valueOf(busy, "tlsd_handshake_failures_total") >= 1, busy);
            }

            assertEquals("405", curl("-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                    url + "/metrics").out);
            assertEquals("404 not found; the metrics are at /metrics, the probes at /healthz and /readyz\n",
                    probe(url + "/"));
        }
    }

    @Test
    void theProbesSayAliveAndReadyUntilTheDrainMakesItUnready() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        Path socket = Files.createDirectories(dir.resolve("run")).resolve("client.sock");
        try (TlsPeer echo = TlsPeer.opensslServer(pki.issueServer("localhost", "localhost"), "-rev");
             TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder().socket(socket).caFile(pki.caPem())
                     .metrics(ANY_LOOPBACK_PORT).build());
             TlsdClient app = TlsdClient.builder().socket(socket).appName("probed").build()) {
            String url = "http://127.0.0.1:" + daemon.metricsAddress().getPort();
            assertEquals("200 alive\n", probe(url + "/healthz"));
            assertEquals("200 ready\n", probe(url + "/readyz"));
            // kubelet's probes: exit status of `curl -f`
            assertEquals(0, curlExit("-sSf", "-o", "/dev/null", url + "/readyz"));

            TlsConnection held = app.open("localhost", echo.port()).await(Duration.ofSeconds(10));
            CompletableFuture<Boolean> drained = DrainTest.drainInBackground(daemon, Duration.ofSeconds(30));
            app.draining().toCompletableFuture().get(10, TimeUnit.SECONDS);
            assertEquals("503 draining: no new connections; the connections under way may finish\n",
                    probe(url + "/readyz"));
            assertEquals(22, curlExit("-sSf", "-o", "/dev/null", url + "/readyz"), "curl -f fails on 503");
            assertEquals("200 alive\n", probe(url + "/healthz"), "draining is no reason to restart it");
            assertEquals("405", curl("-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", url + "/readyz").out);
            held.close().await(Duration.ofSeconds(10));
            assertTrue(drained.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void theServerRoleServesEachListenersAndTunnelsConnections() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        Issued localhost = pki.issueServer("localhost", "localhost", "127.0.0.1");
        try (TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder()
                .role(DaemonConfig.Role.SERVER)
                .socket(Files.createDirectories(dir.resolve("run")).resolve("server.sock"))
                .metrics(ANY_LOOPBACK_PORT)
                .listeners(List.of(new ListenerConfig("web", ServerDaemonFixture.anyLoopbackPort(),
                        List.of(ServerDaemonFixture.pem(localhost)), List.of(), ClientAuthPolicy.NONE, null,
                        Duration.ofSeconds(2), 64, ListenerConfig.DEFAULT_MAX_PENDING_CONNECTIONS)))
                .build())) {
            String url = "http://127.0.0.1:" + daemon.metricsAddress().getPort() + "/metrics";
            String quiet = curl("-sS", url).out;
            assertTrue(quiet.contains("tlsd_listener_pending_connections{listener=\"web\"} 0\n"), quiet);
            assertTrue(quiet.contains("# TYPE tlsd_certificate_expiry_timestamp_seconds gauge\n"
                    + "tlsd_certificate_expiry_timestamp_seconds{use=\"listener\",name=\"web\",subject=\"CN=localhost,O=tlsd tests\","
                    + "serial=\"" + localhost.certificate().getSerialNumber().toString(16) + "\"} "
                    + localhost.certificate().getNotAfter().toInstant().getEpochSecond() + "\n"), quiet);
            assertTrue(quiet.contains("tlsd_listener_handshake_failures_total{listener=\"web\"} 0\n"), quiet);
            int port = daemon.listenerAddress("web").getPort();
            try (Socket silent = new Socket(InetAddress.getLoopbackAddress(), port)) {
                awaitMetric(url, "tlsd_listener_pending_connections{listener=\"web\"} 1\n");
                // silent past the listener's 2 s handshake timeout: dropped, and counted as a failure
                silent.setSoTimeout(10_000);
                assertEquals(-1, silent.getInputStream().read());
                String after = awaitMetric(url, "tlsd_listener_handshake_failures_total{listener=\"web\"} 1\n");
                assertTrue(after.contains("tlsd_listener_pending_connections{listener=\"web\"} 0\n"), after);
            }
        }
    }

    @Test
    void tunnelsCountTheBytesTheyRelayAndTheConnectionsThatFailed() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        try (TlsPeer echo = TlsPeer.opensslServer(pki.issueServer("localhost", "localhost"), "-rev");
             TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder()
                     .role(DaemonConfig.Role.CLIENT)
                     .ipcEnabled(false)
                     .caFile(pki.caPem())
                     .metrics(ANY_LOOPBACK_PORT)
                     .tunnels(List.of(
                             TunnelConfig.client("echo", ANY_LOOPBACK_PORT, "localhost:" + echo.port(), null),
                             TunnelConfig.client("misnamed", ANY_LOOPBACK_PORT, "localhost:" + echo.port(), "other.test"),
                             TunnelConfig.client("nowhere", ANY_LOOPBACK_PORT, "127.0.0.1:" + FreePorts.loopback(), null)))
                     .build())) {
            String url = "http://127.0.0.1:" + daemon.metricsAddress().getPort() + "/metrics";
            int received;
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), daemon.tunnelAddress("echo").getPort())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write("hello\n".getBytes(StandardCharsets.US_ASCII));
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                while (!got.toString(StandardCharsets.US_ASCII).endsWith("\n")) {
                    int b = s.getInputStream().read();
                    assertTrue(b >= 0, "the echo ended early: " + got);
                    got.write(b);
                }
                assertEquals("olleh", got.toString(StandardCharsets.US_ASCII).strip());
                received = got.size();
            }
            for (String failing : List.of("misnamed", "nowhere")) {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), daemon.tunnelAddress(failing).getPort())) {
                    s.setSoTimeout(10_000);
                    assertEquals(-1, readOrReset(s), failing + " closes the connection");
                }
            }
            String text = awaitMetric(url, "tlsd_tunnel_bytes_total{tunnel=\"echo\",direction=\"from_clients\"} 6\n");
            assertTrue(text.contains("# TYPE tlsd_tunnel_bytes_total counter\n"), text);
            assertTrue(text.contains("tlsd_tunnel_bytes_total{tunnel=\"echo\",direction=\"to_clients\"} " + received + "\n"),
                    text);
            assertTrue(text.contains("tlsd_tunnel_handshake_failures_total{tunnel=\"echo\"} 0\n"), text);
            assertTrue(text.contains("tlsd_tunnel_handshake_failures_total{tunnel=\"misnamed\"} 1\n"), text);
            assertTrue(text.contains("tlsd_tunnel_dial_failures_total{tunnel=\"misnamed\"} 0\n"), text);
            assertTrue(text.contains("tlsd_tunnel_dial_failures_total{tunnel=\"nowhere\"} 1\n"), text);
            assertTrue(text.contains("tlsd_tunnel_bytes_total{tunnel=\"nowhere\",direction=\"from_clients\"} 0\n"), text);
            // the relay's buffers came from Netty's pooling allocator, which keeps chunks for reuse
            long pool = Long.parseLong(text.lines().filter(l -> l.startsWith("tlsd_buffer_pool_bytes "))
                    .findFirst().orElseThrow(() -> new AssertionError("no tlsd_buffer_pool_bytes in:\n" + text))
                    .substring("tlsd_buffer_pool_bytes ".length()));
            assertTrue(pool > 0, "tlsd_buffer_pool_bytes " + pool);
        }
    }

    @Test
    void aServerTunnelCountsAFailedConnectionOnce() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        Issued localhost = pki.issueServer("localhost", "localhost", "127.0.0.1");
        try (ServerSocket backend = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
             TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder()
                     .role(DaemonConfig.Role.SERVER)
                     .ipcEnabled(false)
                     .metrics(ANY_LOOPBACK_PORT)
                     .tunnels(List.of(serverTunnel("alive", backend.getLocalPort(), localhost),
                             serverTunnel("dead", FreePorts.loopback(), localhost)))
                     .build())) {
            String url = "http://127.0.0.1:" + daemon.metricsAddress().getPort() + "/metrics";
            for (String tunnel : List.of("alive", "dead")) {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), daemon.tunnelAddress(tunnel).getPort())) {
                    s.setSoTimeout(10_000);
                    s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII)); // not TLS
                    assertEquals(-1, readOrReset(s), tunnel + " closes the connection");
                }
            }
            String text = awaitMetric(url, "tlsd_tunnel_handshake_failures_total{tunnel=\"alive\"} 1\n");
            assertTrue(text.contains("tlsd_tunnel_dial_failures_total{tunnel=\"alive\"} 0\n"), text);
            // "dead": the dial and the handshake both fail; the first is counted, and only it
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (failuresOf(text, "dead") == 0 && System.nanoTime() < deadline) {
                text = curl("-sS", url).out;
            }
            Thread.sleep(200); // time for a second count, if there were one
            text = curl("-sS", url).out;
            assertEquals(1, failuresOf(text, "dead"), text);
        }
    }

    private static TunnelConfig serverTunnel(String name, int backendPort, Issued certificate) {
        return new TunnelConfig(name, ANY_LOOPBACK_PORT, "127.0.0.1:" + backendPort, null,
                ServerDaemonFixture.pem(certificate), List.of(), ClientAuthPolicy.NONE, null, false,
                Duration.ofMinutes(1), TunnelSettings.DEFAULT_MAX_CONNECTIONS, null);
    }

    private static long failuresOf(String text, String tunnel) {
        return valueOf(text, "tlsd_tunnel_dial_failures_total{tunnel=\"" + tunnel + "\"}")
                + valueOf(text, "tlsd_tunnel_handshake_failures_total{tunnel=\"" + tunnel + "\"}");
    }

    /** The next byte, or -1 at the end of the stream or after a reset. */
    private static int readOrReset(Socket s) throws Exception {
        try {
            return s.getInputStream().read();
        } catch (SocketException reset) {
            return -1;
        }
    }

    /** Scrapes until the text has {@code line}, for up to 5 s; returns the last scrape. */
    private static String awaitMetric(String url, String line) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        String text;
        do {
            text = curl("-sS", url).out;
        } while (!text.contains(line) && System.nanoTime() < deadline);
        assertTrue(text.contains(line), "no `" + line.strip() + "` in:\n" + text);
        return text;
    }

    private record Curl(int exit, String out) {
    }

    private static Curl curl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "--max-time", "10"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        p.getInputStream().transferTo(out);
        assertTrue(p.waitFor(15, TimeUnit.SECONDS), "curl did not end");
        String text = out.toString(StandardCharsets.UTF_8).replace("\r\n", "\n");
        assertEquals(0, p.exitValue(), "curl " + command + ": " + text);
        return new Curl(p.exitValue(), text);
    }

    /** {@code "STATUS BODY"} of a GET. */
    private static String probe(String url) throws Exception {
        String out = curl("-sS", "-w", "\n%{http_code}", url).out;
        int split = out.lastIndexOf('\n');
        return out.substring(split + 1) + " " + out.substring(0, split);
    }

    /** curl's exit status; 22 is {@code -f}'s for an HTTP error. */
    private static int curlExit(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "--max-time", "10"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getInputStream().transferTo(OutputStream.nullOutputStream());
        assertTrue(p.waitFor(15, TimeUnit.SECONDS), "curl did not end");
        return p.exitValue();
    }

    private static long valueOf(String text, String metric) {
        for (String line : text.split("\n")) {
            if (line.startsWith(metric + " ")) {
                return Long.parseLong(line.substring(metric.length() + 1));
            }
        }
        throw new AssertionError("no " + metric + " in:\n" + text);
    }
}
