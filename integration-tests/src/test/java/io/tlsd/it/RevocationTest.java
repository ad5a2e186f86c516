package io.tlsd.it;

import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
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
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Certificate revocation lists, from configuration files: the server role refuses a client
 * certificate its {@code client_crl_file} lists (on a listener and on a tunnel) and accepts one it
 * does not; the client role refuses a server certificate its {@code tls.crl_file} lists, any server
 * once the list is no longer current, and a client tunnel checks its own {@code crl_file}. A
 * reload reads the lists again, and {@code tlsd_crl_next_update_timestamp_seconds} says until when
 * each issuer's lists are current. The peers are openssl s_client and s_server.
 */
@Timeout(60)
class RevocationTest {
    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    TestPki pki;

    @BeforeEach
    void setUp() {
        pki = ServerDaemonFixture.pki(dir);
    }

    private TlsdDaemon start(DaemonConfig.Role role, String yaml) throws Exception {
        Path config = Files.writeString(dir.resolve(role.name().toLowerCase() + ".yaml"), yaml);
        return TlsdDaemon.start(ConfigFile.load(config).toBuilder().role(role).build());
    }

    @Test
    void theServerRoleRefusesARevokedClientCertificateOnAListenerAndATunnel() throws Exception {
        Issued server = pki.issueServer("localhost", "localhost");
        Issued good = pki.issueClient("good-client");
        Issued revoked = pki.issueClient("revoked-client");
        Path crl = pki.crl(Duration.ofDays(1), revoked);
        try (GreetingBackend backend = new GreetingBackend("hello");
             TlsdDaemon daemon = start(DaemonConfig.Role.SERVER, """
                     socket: %s
                     listeners:
                       - name: mtls
                         address: 127.0.0.1:0
                         certificates:
                           - cert: %s
                             key: %s
                         client_auth: required
                         client_ca_file: %s
                         client_crl_file: %s
                     tunnels:
                       - name: sidecar
                         listen: 127.0.0.1:0
                         target: 127.0.0.1:%d
                         cert: %s
                         key: %s
                         client_auth: required
                         client_ca_file: %s
                         client_crl_file: %s
                     """.formatted(dir.resolve("server.sock"), server.chainPem(), server.keyPem(), pki.caPem(), crl,
                     backend.port(), server.chainPem(), server.keyPem(), pki.caPem(), crl));
             TlsdClient app = TlsdClient.builder().socket(daemon.socketPath()).build()) {
            assertEquals(nextUpdate(crl), crlMetrics(daemon, "listener", "mtls"));
            assertEquals(nextUpdate(crl), crlMetrics(daemon, "server_tunnel", "sidecar"));
            int listener = daemon.listenerAddress("mtls").getPort();
            Operation<TlsConnection> accept = app.accept("mtls");
            assertRefusedAsRevoked(listener, revoked);
            assertFalse(accept.isDone(), "a refused client never reaches the application");
            try (TlsClientProcess client = presenting(listener, good, "-quiet")) {
                TlsConnection conn = accept.await(T);
                assertTrue(conn.info().peerSubject().contains("CN=good-client"), conn.info().peerSubject());
                conn.close().await(T);
                client.await();
            }

            int tunnel = daemon.tunnelAddress("sidecar").getPort();
            assertRefusedAsRevoked(tunnel, revoked);
            try (TlsClientProcess client = presenting(tunnel, good, "-quiet")) {
                client.closeStdin();
                client.await();
                assertTrue(client.stdout().contains("hello"), client.stdout() + client.stderr());
            }
        }
    }

    @Test
    void theCommandLineTunnelsTakeTheirListsToo() throws Exception {
        Issued server = pki.issueServer("localhost", "localhost");
        Issued good = pki.issueClient("good-client");
        Issued revoked = pki.issueClient("revoked-client");
        Issued revokedServer = pki.issueServer("localhost", "localhost");
        Path crl = pki.crl(Duration.ofDays(1), revoked, revokedServer);
        int serverPort = FreePorts.loopback();
        int clientPort = FreePorts.loopback();
        try (GreetingBackend backend = new GreetingBackend("hello");
             TlsPeer revokedTarget = TlsPeer.opensslServer(revokedServer, "-rev");
             DaemonProcess serverTunnel = DaemonProcess.start(dir.resolve("server.log"), "server",
                     "--listen", "127.0.0.1:" + serverPort, "--target", "127.0.0.1:" + backend.port(),
                     "--cert", server.chainPem().toString(), "--key", server.keyPem().toString(),
                     "--client-auth", "required", "--client-ca", pki.caPem().toString(), "--client-crl", crl.toString());
             DaemonProcess clientTunnel = DaemonProcess.start(dir.resolve("client.log"), "client",
                     "--listen", "127.0.0.1:" + clientPort, "--target", "localhost:" + revokedTarget.port(),
                     "--ca-file", pki.caPem().toString(), "--crl-file", crl.toString())) {
            serverTunnel.awaitLogLine("listening");
            clientTunnel.awaitLogLine("listening");
            assertRefusedAsRevoked(serverPort, revoked);
            try (TlsClientProcess client = presenting(serverPort, good, "-quiet")) {
                client.closeStdin();
                client.await();
                assertTrue(client.stdout().contains("hello"), client.stdout() + client.stderr());
            }
            assertNull(ReversedLine.byTunnel(clientPort, "hello"), "the client tunnel closes a connection to a revoked server");
            clientTunnel.awaitLogLine("Certificate has been revoked");
        }
        // where the flags would not apply, they are refused rather than ignored
        Path config = Files.writeString(dir.resolve("listeners.yaml"), "listeners:\n  - address: 127.0.0.1:0\n"
                + "    certificates:\n      - cert: " + server.chainPem() + "\n        key: " + server.keyPem() + "\n");
        ConnectCommandTest.Run run = ConnectCommandTest.tlsd("", "server", "--config", config.toString(),
                "--client-ca", pki.caPem().toString(), "--client-crl", crl.toString());
        assertEquals(2, run.exitCode(), run.stderr());
        assertTrue(run.stderr().contains("--client-ca and --client-crl go with --listen"), run.stderr());
        Path serverRoleCrl = Files.writeString(dir.resolve("server-crl.yaml"), Files.readString(config)
                + "tls:\n  crl_file: " + crl + "\n");
        run = ConnectCommandTest.tlsd("", "server", "--config", serverRoleCrl.toString());
        assertEquals(2, run.exitCode(), run.stderr());
        assertTrue(run.stderr().contains("tls.crl_file applies to the client role"), run.stderr());
    }

    /** openssl s_client presenting {@code cert}, verifying the daemon's certificate. */
    private TlsClientProcess presenting(int port, Issued cert, String... extra) throws IOException {
        String[] args = new String[6 + extra.length];
        args[0] = "-servername";
        args[1] = "localhost";
        args[2] = "-cert";
        args[3] = cert.certPem().toString();
        args[4] = "-key";
        args[5] = cert.keyPem().toString();
        System.arraycopy(extra, 0, args, 6, extra.length);
        return TlsClientProcess.opensslClient(port, pki.caPem(), args);
    }

    /**
     * TLS 1.3 clients finish their side of the handshake before the server judges their
     * certificate, so the refusal is an alert on the next read: -ign_eof keeps s_client reading.
     */
    private void assertRefusedAsRevoked(int port, Issued cert) throws Exception {
        try (TlsClientProcess client = presenting(port, cert, "-ign_eof")) {
            client.closeStdin();
            client.await();
            String all = client.stdout() + client.stderr();
            assertTrue(all.contains("certificate revoked"), all);
        }
    }

    @Test
    void theClientRoleRefusesARevokedServerAndEveryServerOnceItsListIsStale() throws Exception {
        Issued good = pki.issueServer("localhost", "localhost");
        Issued revoked = pki.issueServer("localhost", "localhost");
        Path crl = Files.copy(pki.crl(Duration.ofDays(1), revoked), dir.resolve("crl.pem"));
        try (TlsPeer goodServer = TlsPeer.opensslServer(good, "-rev");
             TlsPeer revokedServer = TlsPeer.opensslServer(revoked, "-rev");
             TlsdDaemon daemon = start(DaemonConfig.Role.CLIENT, """
                     socket: %s
                     tls:
                       ca_file: %s
                       crl_file: %s
                     """.formatted(dir.resolve("client.sock"), pki.caPem(), crl));
             TlsdClient app = TlsdClient.builder().socket(daemon.socketPath()).build()) {
            assertEquals("olleh", ReversedLine.byOpen(app, goodServer.port(), "hello"));
            assertEquals(nextUpdate(crl), crlMetrics(daemon, "client", ""));
            TlsdException refused = assertThrows(TlsdException.class,
                    () -> ReversedLine.byOpen(app, revokedServer.port(), "hello"));
            assertEquals(Status.CERT_INVALID, refused.status(), refused.toString());
            assertTrue(refused.getMessage().contains("revoked"), refused.getMessage());

            // a list past its nextUpdate no longer says that a certificate was not revoked
            Files.copy(pki.crl(Duration.ofHours(-1)), crl, REPLACE_EXISTING);
            assertTrue(daemon.reload().get(0).contains(", CRLs " + crl + " (1 list)"));
            assertEquals(nextUpdate(crl), crlMetrics(daemon, "client", ""), "the metric follows the reload");
            assertTrue(crlMetrics(daemon, "client", "").values().iterator().next() < System.currentTimeMillis() / 1000);
            TlsdException stale = assertThrows(TlsdException.class, () -> ReversedLine.byOpen(app, goodServer.port(), "hello"));
            assertEquals(Status.CERT_INVALID, stale.status(), stale.toString());

            Files.copy(pki.crl(Duration.ofDays(1)), crl, REPLACE_EXISTING); // current, and lists nothing
            daemon.reload();
            assertEquals("olleh", ReversedLine.byOpen(app, goodServer.port(), "hello"));
            assertEquals("olleh", ReversedLine.byOpen(app, revokedServer.port(), "hello"));
        }
    }

    @Test
    void aClientTunnelChecksItsOwnList() throws Exception {
        TestPki partner = TestPki.create(Files.createDirectories(dir.resolve("partner")));
        Issued revoked = partner.issueServer("localhost", "localhost");
        Path partnerCrl = partner.crl(Duration.ofDays(1), revoked);
        try (TlsPeer revokedServer = TlsPeer.opensslServer(revoked, "-rev");
             LogCapture log = LogCapture.start();
             TlsdDaemon daemon = start(DaemonConfig.Role.CLIENT, """
                     socket: none
                     tls:
                       ca_file: %s
                       crl_file: %s
                     tunnels:
                       - name: partner
                         listen: 127.0.0.1:0
                         target: localhost:%d
                         ca_file: %s
                         crl_file: %s
                       - name: unchecked
                         listen: 127.0.0.1:0
                         target: localhost:%d
                         ca_file: %s
                     """.formatted(pki.caPem(), pki.crl(Duration.ofDays(1)), revokedServer.port(), partner.caPem(),
                     partnerCrl, revokedServer.port(), partner.caPem()))) {
            assertEquals(nextUpdate(partnerCrl), crlMetrics(daemon, "client_tunnel", "partner"));
            assertEquals(Map.of(), crlMetrics(daemon, "client_tunnel", "unchecked"));
            assertNull(ReversedLine.byTunnel(daemon.tunnelAddress("partner").getPort(), "hello"),
                    "the tunnel closes a connection to a revoked server");
            // tls.crl_file goes with tls.ca_file: a tunnel with anchors of its own and no list checks none
            assertEquals("olleh", ReversedLine.byTunnel(daemon.tunnelAddress("unchecked").getPort(), "hello"));
            assertTrue(log.text().contains("WARN TlsdDaemon - tunnel unchecked: no revocation check for its target"),
                    log.text());
            assertFalse(log.text().contains("tunnel partner: no revocation check"), log.text());
        }
    }

    /** The CRL in {@code file}: its issuer → its nextUpdate, in seconds since the epoch. */
    private static Map<String, Long> nextUpdate(Path file) throws Exception {
        try (InputStream in = Files.newInputStream(file)) {
            X509CRL crl = (X509CRL) CertificateFactory.getInstance("X.509").generateCRL(in);
            return Map.of(crl.getIssuerX500Principal().getName(), crl.getNextUpdate().getTime() / 1000);
        }
    }

    /** {@code tlsd_crl_next_update_timestamp_seconds} of one use and name: issuer → value. */
    private static Map<String, Long> crlMetrics(TlsdDaemon daemon, String use, String name) {
        Map<String, Long> out = new HashMap<>();
        for (Sample s : daemon.metricSamples()) {
            if (s.name().equals("tlsd_crl_next_update_timestamp_seconds") && s.labels().get("use").equals(use)
                    && s.labels().get("name").equals(name)) {
                out.put(s.labels().get("issuer"), s.value());
            }
        }
        return out;
    }
}
