package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.config.ConfigFile;
import io.tlsd.daemon.metrics.Sample;
import io.tlsd.it.tunnel.LogCapture;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.Issued;
import io.tlsd.testing.JsseServer;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reload reads the configuration file again: the TLS settings of the running listeners and
 * tunnels (who may connect, which certificates, a server tunnel's backends and routes; the client
 * role's trust anchors and {@code allowed_servers}) take effect for new connections, as openssl
 * s_client and s_server see them; what only a restart applies is logged and left as it was; a file
 * that cannot be used changes nothing.
 */
@Timeout(90)
class ConfigReloadTest {
    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    /** Tunnel other's port: a change of its proxy_protocol needs a new socket there, so a restart. */
    final int otherPort = FreePorts.loopback();
    TestPki pki;
    Issued server;
    Issued billing;
    Issued ledger;

    @BeforeEach
    void setUp() {
        pki = ServerDaemonFixture.pki(dir);
        server = pki.issueServer("localhost", "localhost", "api.localhost");
        billing = pki.issueClient("billing");
        ledger = pki.issueClient("ledger");
    }

    @Test
    void sighupAppliesAServerTunnelsNewAllowedClientsAndRoutesAndLogsWhatNeedsARestart() throws Exception {
        int port = FreePorts.loopback();
        Path config = dir.resolve("server.yaml");
        try (GreetingBackend web = new GreetingBackend("hello from web");
             GreetingBackend api = new GreetingBackend("hello from api")) {
            Files.writeString(config, tunnels(port, web.port(), "billing", "", false));
            try (DaemonProcess daemon = DaemonProcess.start(dir.resolve("daemon.log"), "server",
                    "--config", config.toString())) {
                daemon.awaitLogLine("SIGHUP reads the configuration and certificate files again");
                assertTrue(client(port, billing, "localhost").contains("hello from web"));
                assertFalse(client(port, ledger, "localhost").contains("hello from"));

                String routed = """
                            routes:
                              - names: [api.localhost]
                                target: 127.0.0.1:%d
                        """.formatted(api.port());
                Files.writeString(config, tunnels(port, web.port(), "ledger", routed, true) + """
                          - name: extra
                            listen: 127.0.0.1:0
                            target: 127.0.0.1:%d
                            cert: %s
                            key: %s
                        """.formatted(web.port(), server.chainPem(), server.keyPem()));
                daemon.signal("HUP");
                String waits = " (waits for a restart: tunnel other needs a new socket on the address it listens on)";
                daemon.awaitLogLine("reload: changed, but not applied until a restart: tunnel other: proxy_protocol"
                        + waits + "; tunnel extra added" + waits);
                assertTrue(daemon.logText().contains("reload: tunnel sidecar (CN=localhost,O=tlsd tests until "),
                        daemon.logText());
                String refused = client(port, billing, "localhost");
                assertFalse(refused.contains("hello from"), refused);
                assertTrue(client(port, ledger, "localhost").contains("hello from web"));
                assertTrue(client(port, ledger, "api.localhost").contains("hello from api"), "the new route");

                Files.writeString(config, "tunnels: [\n");
                daemon.signal("HUP");
                daemon.awaitLogLine("reload failed, still using the previous settings and certificates: " + config);
                assertTrue(client(port, ledger, "api.localhost").contains("hello from api"), "nothing changed");
                assertFalse(client(port, billing, "localhost").contains("hello from"), "nothing changed");

                Files.writeString(config, tunnels(port, web.port(), "ledger", "", false));
                daemon.signal("HUP");
                daemon.awaitLogLine("reload: tunnel sidecar (CN=localhost,O=tlsd tests until ", 2);
                assertTrue(client(port, ledger, "api.localhost").contains("hello from web"), "the route is gone");
                assertTrue(daemon.process.isAlive());
            }
        }
    }

    /**
     * A server-role file with the tunnel {@code sidecar}, which lets in the client {@code allowed},
     * and the tunnel {@code other}.
     */
    private String tunnels(int port, int backend, String allowed, String routes, boolean otherProxyProtocol) {
        return """
                socket: none
                tunnels:
                  - name: other
                    listen: 127.0.0.1:%9$d
                    target: 127.0.0.1:%2$d
                    cert: %3$s
                    key: %4$s
                    proxy_protocol: %5$s
                  - name: sidecar
                    listen: 127.0.0.1:%1$d
                    target: 127.0.0.1:%2$d
                    cert: %3$s
                    key: %4$s
                    client_auth: required
                    client_ca_file: %6$s
                    allowed_clients: {common_names: [%7$s]}
                %8$s""".formatted(port, backend, server.chainPem(), server.keyPem(), otherProxyProtocol, pki.caPem(),
                allowed, routes, otherPort);
    }

    @Test
    void aListenerTakesItsNewClientSettingsAndAddressAndTheRestWaitsForARestart() throws Exception {
        Path config = dir.resolve("listener.yaml");
        Files.writeString(config, listeners("billing", server.chainPem(), "127.0.0.1"));
        try (LogCapture log = LogCapture.start();
             TlsdDaemon daemon = TlsdDaemon.start(load(config, DaemonConfig.Role.SERVER));
             TlsdClient app = TlsdClient.builder().socket(daemon.socketPath()).build()) {
            int port = daemon.listenerAddress("mtls").getPort();
            assertTrue(acceptedSubject(app, port, billing).contains("CN=billing"));

            Files.writeString(config, listeners("ledger", server.chainPem(), "127.0.0.2")
                    .replace("worker_threads: 2", "worker_threads: 1"));
            TlsdDaemon.Reloaded reloaded = daemon.reload(load(config, DaemonConfig.Role.SERVER));
            assertEquals(List.of("worker_threads"), reloaded.notApplied());
            assertTrue(reloaded.used().get(0).startsWith("listener mtls (CN=localhost"), reloaded.used().toString());
            assertTrue(reloaded.used().get(1).startsWith("listener other moved to 127.0.0.2:"
                    + daemon.listenerAddress("other").getPort() + " (was 127.0.0.1:"), reloaded.used().toString());
            Operation<TlsConnection> accept = app.accept("mtls");
            String refused = client(port, billing, "localhost");
            assertTrue(refused.contains("alert"), refused);
            log.awaitLine("client certificate CN=billing,O=tlsd tests is not among allowed_clients", T);
            assertFalse(accept.isDone(), "a refused client never reaches the application");
            accept.cancel();
            assertThrows(TlsdException.class, () -> accept.await(T));
            assertTrue(acceptedSubject(app, port, ledger).contains("CN=ledger"));
            assertEquals(reloaded.notApplied(), daemon.reload(load(config, DaemonConfig.Role.SERVER)).notApplied(),
                    "until a restart, each reload says what in the file is not what runs");

            Files.writeString(config, listeners("billing", dir.resolve("missing.pem"), "127.0.0.2"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> daemon.reload(load(config, DaemonConfig.Role.SERVER)));
            assertTrue(e.getMessage().startsWith("listener mtls: "), e.getMessage());
            assertTrue(acceptedSubject(app, port, ledger).contains("CN=ledger"), "nothing changed");
            assertEquals(List.of(2L, 1L, 0L, 1L), reloadMetrics(daemon), "applied, failed, last successful, waiting");

            assertThrows(IllegalArgumentException.class, () -> daemon.reload(() -> load(dir.resolve("gone.yaml"),
                    DaemonConfig.Role.SERVER)), "a file that cannot be read");
            assertEquals(List.of(2L, 2L, 0L, 1L), reloadMetrics(daemon));
            Files.writeString(config, listeners("ledger", server.chainPem(), "127.0.0.1"));
            daemon.reload(() -> load(config, DaemonConfig.Role.SERVER));
            assertEquals(List.of(3L, 2L, 1L, 0L), reloadMetrics(daemon), "the file says what runs again");

            Path otherChain = Files.copy(server.chainPem(), dir.resolve("other.pem"));
            Files.writeString(config, listeners("ledger", server.chainPem(), "127.0.0.1")
                    .replaceAll("(?s)(name: other.*cert: )\\S+", "$1" + otherChain));
            daemon.reload(load(config, DaemonConfig.Role.SERVER));
            Files.delete(otherChain); // renamed, say, in the same edit as the address
            Files.writeString(config, listeners("ledger", server.chainPem(), "127.0.0.2"));
            reloaded = daemon.reload(load(config, DaemonConfig.Role.SERVER));
            assertEquals(List.of(), reloaded.notApplied());
            assertTrue(reloaded.used().get(1).startsWith("listener other moved to 127.0.0.2:"), reloaded.used().toString());
            assertEquals("127.0.0.2", daemon.listenerAddress("other").getAddress().getHostAddress(),
                    "a listener moves with the files the configuration names now");
        }
    }

    /**
     * {@code tlsd_reloads_total} applied and failed, {@code tlsd_last_reload_successful}, {@code
     * tlsd_reload_changes_waiting}.
     */
    private static List<Long> reloadMetrics(TlsdDaemon daemon) {
        List<Sample> samples = daemon.metricSamples();
        return List.of(value(samples, "tlsd_reloads_total", "applied"), value(samples, "tlsd_reloads_total", "failed"),
                value(samples, "tlsd_last_reload_successful", null), value(samples, "tlsd_reload_changes_waiting", null));
    }

    private static long value(List<Sample> samples, String name, String result) {
        return samples.stream().filter(s -> s.name().equals(name) && Objects.equals(s.labels().get("result"), result))
                .findFirst().orElseThrow(() -> new AssertionError("no " + name + " " + result)).value();
    }

    /**
     * Listeners {@code mtls}, which serves {@code chain} and lets in the client {@code allowed},
     * and {@code other} on {@code otherHost}.
     */
    private String listeners(String allowed, Path chain, String otherHost) {
        return """
                socket: %s
                worker_threads: 2
                listeners:
                  - name: mtls
                    address: 127.0.0.1:0
                    certificates:
                      - cert: %s
                        key: %s
                    client_auth: required
                    client_ca_file: %s
                    allowed_clients: {common_names: [%s]}
                  - name: other
                    address: %s:0
                    certificates:
                      - cert: %s
                        key: %s
                """.formatted(dir.resolve("server.sock"), chain, server.keyPem(), pki.caPem(), allowed,
                otherHost, server.chainPem(), server.keyPem());
    }

    @Test
    void theClientRoleTakesNewTrustAnchorsAndAllowedServersFromTheFile() throws Exception {
        TestPki other = TestPki.create(Files.createDirectories(dir.resolve("other")));
        String workload = "spiffe://example.org/ns/prod/sa/backend";
        Issued backend = pki.issueServer("backend", workload);
        Issued localhost = pki.issueServer("localhost", "localhost");
        Path config = dir.resolve("client.yaml");
        try (TlsPeer byIdentity = TlsPeer.opensslServer(backend, "-rev");
             TlsPeer byName = TlsPeer.opensslServer(localhost, "-rev")) {
            String before = """
                    socket: %s
                    tls:
                      ca_file: %s
                    tunnels:
                      - name: workload
                        listen: 127.0.0.1:0
                        target: localhost:%d
                        ca_file: %s
                        allowed_servers: {uris: ["spiffe://example.org/ns/prod/sa/other"]}
                    """.formatted(dir.resolve("client.sock"), other.caPem(), byIdentity.port(), pki.caPem());
            Files.writeString(config, before);
            try (LogCapture log = LogCapture.start();
                 TlsdDaemon daemon = TlsdDaemon.start(load(config, DaemonConfig.Role.CLIENT));
                 TlsdClient app = TlsdClient.builder().socket(daemon.socketPath()).build()) {
                int tunnel = daemon.tunnelAddress("workload").getPort();
                assertNull(ReversedLine.byTunnel(tunnel, "hello"));
                log.awaitLine("server certificate CN=backend,O=tlsd tests is not among allowed_servers", T);
                assertThrows(TlsdException.class, () -> ReversedLine.byOpen(app, byName.port(), "hello"), "another CA");

                String allowed = before.replace("sa/other", "sa/backend");
                Files.writeString(config, allowed);
                assertEquals(List.of(), daemon.reload(load(config, DaemonConfig.Role.CLIENT)).notApplied());
                assertEquals("olleh", ReversedLine.byTunnel(tunnel, "hello"), "the listed identity");
                assertThrows(TlsdException.class, () -> ReversedLine.byOpen(app, byName.port(), "hello"),
                        "the daemon's trust anchors are still the other CA");

                Files.writeString(config, allowed.replaceFirst(other.caPem().toString(), pki.caPem().toString()));
                daemon.reload(load(config, DaemonConfig.Role.CLIENT));
                assertEquals("olleh", ReversedLine.byOpen(app, byName.port(), "hello"), "the new trust anchors");
                assertEquals("olleh", ReversedLine.byTunnel(tunnel, "hello"));

                Files.writeString(config, Files.readString(config).replace("allowed_servers", "allowed_servers_typo"));
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> daemon.reload(load(config, DaemonConfig.Role.CLIENT)));
                assertTrue(e.getMessage().contains("allowed_servers_typo"), e.getMessage());
                assertEquals("olleh", ReversedLine.byTunnel(tunnel, "hello"), "nothing changed");
            }
        }
    }

    @Test
    void aTunnelTakesItsNewConnectionLimitWhileItsConnectionsGoOn() throws Exception {
        Issued localhost = pki.issueServer("localhost", "localhost");
        Path config = dir.resolve("limit.yaml");
        try (JsseServer echo = JsseServer.start(localhost, JsseServer.echo())) { // a thread per connection
            String one = """
                    socket: none
                    tls:
                      ca_file: %s
                    tunnels:
                      - name: out
                        listen: 127.0.0.1:0
                        target: localhost:%d
                        max_connections: 1
                    """.formatted(pki.caPem(), echo.port());
            Files.writeString(config, one);
            try (LogCapture log = LogCapture.start();
                 TlsdDaemon daemon = TlsdDaemon.start(load(config, DaemonConfig.Role.CLIENT));
                 Socket held = new Socket(InetAddress.getLoopbackAddress(), daemon.tunnelAddress("out").getPort())) {
                int port = daemon.tunnelAddress("out").getPort();
                held.setSoTimeout(10_000);
                assertEquals("hello", ReversedLine.through(held, "hello"), "the one connection the limit allows");
                assertNull(ReversedLine.byTunnel(port, "second"));
                log.awaitLine("max_connections (1) reached", T);

                Files.writeString(config, one.replace("max_connections: 1", "max_connections: 2"));
                assertEquals(List.of(), daemon.reload(load(config, DaemonConfig.Role.CLIENT)).notApplied());
                assertEquals("second", ReversedLine.byTunnel(port, "second"));
                assertEquals("again", ReversedLine.through(held, "again"), "connections up go on");
            }
        }
    }

    @Test
    void aShorterHandshakeTimeoutClosesSilentClientsAcceptedAfterTheReload() throws Exception {
        Path config = dir.resolve("timeouts.yaml");
        try (ServerSocket quietBackend = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) { // never accepts
            String slow = """
                    socket: %s
                    timeouts:
                      handshake: 30s
                    listeners:
                      - name: api
                        address: 127.0.0.1:0
                        handshake_timeout: 30s
                        certificates:
                          - cert: %s
                            key: %s
                    tunnels:
                      - name: sidecar
                        listen: 127.0.0.1:0
                        target: 127.0.0.1:%d
                        cert: %s
                        key: %s
                    """.formatted(dir.resolve("server.sock"), server.chainPem(), server.keyPem(),
                    quietBackend.getLocalPort(), server.chainPem(), server.keyPem());
            Files.writeString(config, slow);
            try (TlsdDaemon daemon = TlsdDaemon.start(load(config, DaemonConfig.Role.SERVER));
                 Socket silentAtListener = silent(daemon.listenerAddress("api").getPort());
                 Socket silentAtTunnel = silent(daemon.tunnelAddress("sidecar").getPort())) {
                Files.writeString(config, slow.replace("30s", "1s"));
                assertEquals(List.of(), daemon.reload(load(config, DaemonConfig.Role.SERVER)).notApplied());
                try (Socket listenerAfter = silent(daemon.listenerAddress("api").getPort());
                     Socket tunnelAfter = silent(daemon.tunnelAddress("sidecar").getPort())) {
                    assertEquals(-1, listenerAfter.getInputStream().read(), "closed after the listener's new 1 s");
                    assertEquals(-1, tunnelAfter.getInputStream().read(), "closed after timeouts.handshake's new 1 s");
                }
                silentAtListener.setSoTimeout(500);
                silentAtTunnel.setSoTimeout(500);
                assertThrows(SocketTimeoutException.class, () -> silentAtListener.getInputStream().read(),
                        "accepted before the reload: its 30 s still run");
                assertThrows(SocketTimeoutException.class, () -> silentAtTunnel.getInputStream().read());
            }
        }
    }

    /** A TCP connection to {@code port} that sends nothing; reads time out after 10 s. */
    private static Socket silent(int port) throws Exception {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
        s.setSoTimeout(10_000);
        return s;
    }

    private static DaemonConfig load(Path config, DaemonConfig.Role role) {
        return ConfigFile.load(config).toBuilder().role(role).build();
    }

    /** The subject of the client certificate that an ACCEPT gets from openssl s_client presenting {@code cert}. */
    private String acceptedSubject(TlsdClient app, int port, Issued cert) throws Exception {
        Operation<TlsConnection> accept = app.accept("mtls");
        try (TlsClientProcess c = TlsClientProcess.opensslClient(port, pki.caPem(), "-servername", "localhost",
                "-cert", cert.certPem().toString(), "-key", cert.keyPem().toString(), "-quiet")) {
            TlsConnection conn = accept.await(T);
            conn.close().await(T);
            c.await();
            return conn.info().peerSubject();
        }
    }

    /** openssl s_client presenting {@code cert}, asking for {@code serverName}: what it printed. */
    private String client(int port, Issued cert, String serverName) throws Exception {
        try (TlsClientProcess c = TlsClientProcess.opensslClient(port, pki.caPem(), "-servername", serverName,
                "-cert", cert.certPem().toString(), "-key", cert.keyPem().toString(), "-ign_eof")) {
            c.closeStdin();
            c.await();
            return c.stdout() + c.stderr();
        }
    }
}
