package io.tlsd.it;

import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.metrics.Sample;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy;
import io.tlsd.daemon.tunnel.TunnelConfig;
import io.tlsd.daemon.tunnel.TunnelSettings;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Certificate rotation without a restart: on reload (SIGHUP for the foreground daemon) the server
 * role reads its certificate files again and serves them to new clients, as openssl s_client sees
 * them; the client role reads its trust anchors and client certificate again and uses them for
 * new connections to openssl s_server. Files that cannot be used change nothing.
 */
@Timeout(60)
class CertificateReloadTest {
    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    TestPki pki;
    Issued before;
    Issued after;
    /** The files the daemon serves, which the test overwrites. */
    Path cert;
    Path key;

    @BeforeEach
    void issue() throws Exception {
        pki = ServerDaemonFixture.pki(dir);
        before = pki.issueServer("before.test", "localhost");
        after = pki.issueServer("after.test", "localhost");
        cert = dir.resolve("served-chain.pem");
        key = dir.resolve("served-key.pem");
        serve(before);
    }

    private void serve(Issued issued) throws Exception {
        Files.copy(issued.chainPem(), cert, REPLACE_EXISTING);
        Files.copy(issued.keyPem(), key, REPLACE_EXISTING);
    }

    @Test
    void reloadServesRenewedFilesToNewClientsAndUnusableFilesChangeNothing() throws Exception {
        ListenerConfig listener = ListenerConfig.simple("default", ServerDaemonFixture.anyLoopbackPort(), cert, key);
        try (ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(listener))) {
            int port = fixture.port("default");
            assertEquals("before.test", servedName(port));
            assertEquals(expiryOf(before), expiries(fixture.daemon, "listener", "default"));

            serve(after);
            List<String> served = fixture.daemon.reload();
            assertEquals(1, served.size(), served.toString());
            assertTrue(served.get(0).startsWith("listener default (CN=after.test,O=tlsd tests until "), served.get(0));
            assertEquals("after.test", servedName(port));

            Files.copy(before.keyPem(), key, REPLACE_EXISTING); // not the key of the certificate served
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, fixture.daemon::reload);
            assertTrue(e.getMessage().startsWith("listener default: "), e.getMessage());
            assertTrue(e.getMessage().contains("does not belong to the certificate"), e.getMessage());
            assertEquals("after.test", servedName(port), "still the certificate of the last good reload");
            assertEquals(expiryOf(after), expiries(fixture.daemon, "listener", "default"), "and its expiry");
        }
    }

    /** The expiry metrics of one listener's or tunnel's certificates: subject → notAfter in Unix seconds. */
    private static Map<String, Long> expiries(TlsdDaemon daemon, String use, String name) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (Sample s : daemon.metricSamples()) {
            if (s.name().equals("tlsd_certificate_expiry_timestamp_seconds") && s.labels().get("use").equals(use)
                    && s.labels().get("name").equals(name)) {
                out.put(s.labels().get("subject"), s.value());
            }
        }
        return out;
    }

    private static Map<String, Long> expiryOf(Issued issued) {
        return Map.of(issued.certificate().getSubjectX500Principal().getName(),
                issued.certificate().getNotAfter().toInstant().getEpochSecond());
    }

    @Test
    void reloadServesRenewedFilesOnAServerTunnel() throws Exception {
        try (ServerSocket backend = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
             TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder()
                     .role(DaemonConfig.Role.SERVER)
                     .ipcEnabled(false)
                     .tunnels(List.of(new TunnelConfig("sidecar", ServerDaemonFixture.anyLoopbackPort(),
                             "127.0.0.1:" + backend.getLocalPort(), null,
                             ListenerConfig.CertificateSpec.pem(List.of(), cert, key, null), List.of(),
                             ClientAuthPolicy.NONE, null, false, Duration.ofMinutes(1),
                             TunnelSettings.DEFAULT_MAX_CONNECTIONS, null)))
                     .build())) {
            int port = daemon.tunnelAddress("sidecar").getPort();
            assertEquals("before.test", servedName(port));
            assertEquals(expiryOf(before), expiries(daemon, "server_tunnel", "sidecar"));
            serve(after);
            List<String> served = daemon.reload();
            assertEquals(List.of("tunnel sidecar"), served.stream().map(s -> s.substring(0, s.indexOf(" ("))).toList());
            assertEquals("after.test", servedName(port));
            assertEquals(expiryOf(after), expiries(daemon, "server_tunnel", "sidecar"));
        }
    }

    @Test
    void sighupMakesTheForegroundServerDaemonServeTheRenewedFiles() throws Exception {
        int port = FreePorts.loopback();
        Path log = dir.resolve("daemon.log");
        Path socket = dir.resolve("run/server.sock");
        try (DaemonProcess daemon = DaemonProcess.start(log, "server", "--socket", socket.toString(),
                "--listen", "127.0.0.1:" + port, "--cert", cert.toString(), "--key", key.toString())) {
            daemon.awaitLogLine(DaemonProcess.SIGNALS_CLAIMED); // before it, SIGHUP would stop it
            assertEquals("before.test", servedName(port));
            // the test CA's certificates last two days
            daemon.awaitLogLine("WARN TlsdDaemon - certificate CN=before.test,O=tlsd tests (listener default) expires at ");

            serve(after);
            daemon.signal("HUP");
            daemon.awaitLogLine("reload: listener default (CN=after.test,O=tlsd tests until ");
            daemon.awaitLogLine("certificate CN=after.test,O=tlsd tests (listener default) expires at ");
            assertEquals("after.test", servedName(port));
            assertTrue(daemon.process.isAlive(), "SIGHUP does not stop the daemon");
        }
    }

    @Test
    void clientRoleReloadTrustsTheAnchorsNowInItsFileAndForgetsVerdictsOfTheOldOnes() throws Exception {
        TestPki other = TestPki.create(Files.createDirectories(dir.resolve("other")));
        Path trust = Files.copy(pki.caPem(), dir.resolve("trust.pem"));
        Issued localhost = pki.issueServer("localhost", "localhost");
        try (TlsPeer echo = TlsPeer.opensslServer(localhost, "-rev");
             TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder()
                     .socket(dir.resolve("client.sock")).caFile(trust)
                     .tunnels(List.of(new TunnelConfig("out", ServerDaemonFixture.anyLoopbackPort(),
                             "localhost:" + echo.port(), null, null, List.of(), ClientAuthPolicy.NONE, null, false,
                             Duration.ofMinutes(1), TunnelSettings.DEFAULT_MAX_CONNECTIONS, null)))
                     .build());
             TlsdClient app = TlsdClient.builder().socket(daemon.socketPath()).build()) {
            int tunnel = daemon.tunnelAddress("out").getPort();
            assertEquals("olleh", ReversedLine.byOpen(app, echo.port(), "hello"));
            assertEquals("olleh", ReversedLine.byTunnel(tunnel, "hello"));

            Files.copy(other.caPem(), trust, REPLACE_EXISTING);
            assertEquals(List.of("client role (trust anchors " + trust + " (1 certificate), client certificate none)",
                    "tunnel out (the client role's TLS settings; max connections 4096, idle timeout 60000 ms)"),
                    daemon.reload());
            TlsdException refused = assertThrows(TlsdException.class, () -> ReversedLine.byOpen(app, echo.port(), "hello"));
            assertEquals(Status.CERT_INVALID, refused.status(), refused.toString());
            assertNull(ReversedLine.byTunnel(tunnel, "hello"), "the tunnel closes what it cannot verify");

            Files.writeString(trust, "not a certificate\n");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, daemon::reload);
            assertTrue(e.getMessage().startsWith("client role: " + trust + ": "), e.getMessage());
            assertThrows(TlsdException.class, () -> ReversedLine.byOpen(app, echo.port(), "hello"),
                    "still the anchors of the last good reload");

            Files.copy(pki.caPem(), trust, REPLACE_EXISTING);
            daemon.reload();
            assertEquals("olleh", ReversedLine.byOpen(app, echo.port(), "hello"));
            assertEquals("olleh", ReversedLine.byTunnel(tunnel, "hello"));
        }
    }

    @Test
    void clientRoleReloadPresentsTheRenewedClientCertificate() throws Exception {
        TestPki other = TestPki.create(Files.createDirectories(dir.resolve("other")));
        Issued untrusted = other.issueClient("billing-api-old");
        Issued trusted = pki.issueClient("billing-api");
        Files.copy(untrusted.chainPem(), cert, REPLACE_EXISTING);
        Files.copy(untrusted.keyPem(), key, REPLACE_EXISTING);
        Issued localhost = pki.issueServer("localhost", "localhost");
        try (TlsPeer strict = TlsPeer.opensslServer(localhost, "-rev", "-Verify", "1", "-CAfile", pki.caPem().toString());
             TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder()
                     .socket(dir.resolve("client.sock")).caFile(pki.caPem())
                     .clientCertificate(ListenerConfig.CertificateSpec.pem(List.of(), cert, key, null))
                     .build());
             TlsdClient app = TlsdClient.builder().socket(daemon.socketPath()).build()) {
            assertThrows(TlsdException.class, () -> ReversedLine.byOpen(app, strict.port(), "mtls"),
                    "the server does not trust the first client certificate");
            assertEquals(expiryOf(untrusted), expiries(daemon, "client", ""));

            serve(trusted);
            List<String> used = daemon.reload();
            assertTrue(used.get(0).contains(", client certificate CN=billing-api,O=tlsd tests until "), used.toString());
            assertEquals("sltm", ReversedLine.byOpen(app, strict.port(), "mtls"));
            assertEquals(expiryOf(trusted), expiries(daemon, "client", ""));
        }
    }

    @Test
    void sighupMakesTheForegroundClientDaemonReadItsTrustAnchorsAgain() throws Exception {
        Path log = dir.resolve("client.log");
        try (DaemonProcess daemon = DaemonProcess.start(log, "client",
                "--socket", dir.resolve("run/client.sock").toString(), "--ca-file", pki.caPem().toString())) {
            daemon.awaitLogLine(DaemonProcess.SIGNALS_CLAIMED);
            daemon.signal("HUP");
            daemon.awaitLogLine("reload: client role (trust anchors " + pki.caPem() + " (1 certificate)");
            assertTrue(daemon.process.isAlive(), "SIGHUP does not stop the daemon");
        }
    }

    @Test
    void aDaemonStartedWithSighupIgnoredSaysThatItCannotReloadBySignal() throws Exception {
        Path log = dir.resolve("nohup.log");
        try (DaemonProcess daemon = DaemonProcess.start(log, List.of("nohup"), "client",
                "--socket", dir.resolve("run/client.sock").toString(), "--ca-file", pki.caPem().toString())) {
            daemon.awaitLogLine("SIGHUP is ignored by this process (started with nohup?)");
        }
    }

    /** The CN of the certificate a new openssl s_client gets, verified against the test CA. */
    private String servedName(int port) throws Exception {
        try (TlsClientProcess client = TlsClientProcess.opensslClient(port, pki.caPem(), "-servername", "localhost")) {
            client.closeStdin();
            assertEquals(0, client.await(), client.stderr());
            return TlsClientProcess.servedCommonName(client.stdout());
        }
    }
}
