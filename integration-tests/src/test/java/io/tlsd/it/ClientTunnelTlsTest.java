package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.server.ListenerConfig.CertificateSpec;
import io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy;
import io.tlsd.daemon.tunnel.TunnelConfig;
import io.tlsd.daemon.tunnel.TunnelSettings;
import io.tlsd.it.tunnel.LogCapture;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client-role tunnel's own TLS settings for its target, as a sidecar to a partner with a
 * private CA needs them (stunnel's per-service CAfile, cert and key): trust anchors ({@code
 * ca_file}), a client certificate ({@code cert}, {@code key}) and ALPN, each replacing the
 * daemon's for that tunnel alone, and read again on reload. Real peers: openssl s_server that
 * requires a client certificate, gnutls-serv that refuses a foreign ALPN protocol.
 */
@Timeout(120)
class ClientTunnelTlsTest {
    private static final InetSocketAddress ANY_LOOPBACK_PORT = new InetSocketAddress("127.0.0.1", 0);
    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void aTunnelTrustsItsOwnAnchorsPresentsItsOwnCertificateAndOffersItsAlpn() throws Exception {
        TestPki ours = TestPki.create(Files.createDirectories(dir.resolve("daemon-pki")));
        TestPki partner = TestPki.create(Files.createDirectories(dir.resolve("partner-pki")));
        Issued partnerServer = partner.issueServer("localhost", "localhost");
        Issued sidecarCert = partner.issueClient("billing-sidecar");
        CertificateSpec sidecar = pem(sidecarCert);
        Path tunnelCa = Files.copy(partner.caPem(), dir.resolve("partner-ca.pem"));
        Path otherCa = Files.copy(partner.caPem(), dir.resolve("partner-ca-too.pem"));
        try (TlsPeer strict = TlsPeer.opensslServer(partnerServer, "-rev", "-Verify", "1",
                     "-CAfile", partner.caPem().toString());
             // --alpn-fatal: a client that offers protocols but not h2 gets alert 120
             TlsPeer partnerH2 = TlsPeer.gnutlsServer(partnerServer, "--echo", "--alpn=h2", "--alpn-fatal",
                     "--disable-client-cert");
             TlsPeer oursH2 = TlsPeer.gnutlsServer(ours.issueServer("localhost", "localhost"), "--echo", "--alpn=h2",
                     "--alpn-fatal", "--disable-client-cert");
             LogCapture log = LogCapture.start();
             TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder()
                     .socket(dir.resolve("run/client.sock")).caFile(ours.caPem())
                     .tunnels(List.of(
                             tunnel("mtls", strict.port(), tunnelCa, sidecar, List.of()),
                             tunnel("no-cert", strict.port(), tunnelCa, null, List.of()),
                             tunnel("daemon-trust", strict.port(), null, sidecar, List.of()),
                             tunnel("h2", oursH2.port(), null, null, List.of("h2")),
                             tunnel("http1", oursH2.port(), null, null, List.of("http/1.1")),
                             tunnel("partner-h2", partnerH2.port(), otherCa, null, List.of("h2")),
                             tunnel("partner-http1", partnerH2.port(), otherCa, null, List.of("http/1.1"))))
                     .build())) {
            assertEquals("olleh", line(daemon, "mtls", "hello"), "s_server -rev answers reversed");
            // its client certificate's expiry, for an alert (the daemon itself presents none)
            List<String> expiries = daemon.metricSamples().stream()
                    .filter(s -> s.name().equals("tlsd_certificate_expiry_timestamp_seconds"))
                    .map(s -> s.labels() + "=" + s.value()).toList();
            long notAfter = sidecarCert.certificate().getNotAfter().toInstant().getEpochSecond();
            String serial = sidecarCert.certificate().getSerialNumber().toString(16);
            assertEquals(List.of(
                    "{use=client_tunnel, name=mtls, subject=CN=billing-sidecar,O=tlsd tests, serial=" + serial + "}=" + notAfter,
                    "{use=client_tunnel, name=daemon-trust, subject=CN=billing-sidecar,O=tlsd tests, serial=" + serial + "}="
                            + notAfter),
                    expiries);
            // s_server -Verify 1 wants a client certificate
            assertRefused(daemon, log, "no-cert", "CERTIFICATE_REQUIRED");
            // the partner's CA is the mtls tunnel's alone
            assertRefused(daemon, log, "daemon-trust", "certificate of localhost rejected");
            // ALPN offered from the daemon's contexts and from a tunnel's own
            assertEquals("hello", line(daemon, "h2", "hello"), "gnutls-serv --echo answers as sent");
            assertEquals("hello", line(daemon, "partner-h2", "hello"));
            // gnutls-serv --alpn-fatal refuses a client that offers only http/1.1
            assertRefused(daemon, log, "http1", "NO_APPLICATION_PROTOCOL");
            assertRefused(daemon, log, "partner-http1", "NO_APPLICATION_PROTOCOL");

            // the tunnel's anchors renewed (here: replaced by the daemon's CA) and read again
            Files.copy(ours.caPem(), tunnelCa, StandardCopyOption.REPLACE_EXISTING);
            List<String> used = daemon.reload();
            assertTrue(used.stream().anyMatch(u -> u.startsWith("tunnel mtls (trust anchors " + tunnelCa)), used.toString());
            assertRefused(daemon, log, "mtls", "certificate of localhost rejected");
            assertEquals("again", line(daemon, "partner-h2", "again"), "ALPN and anchors kept through the reload");
            assertRefused(daemon, log, "partner-http1", "NO_APPLICATION_PROTOCOL");

            // all or nothing: the last tunnel's anchors unreadable, so nothing changes
            Files.copy(partner.caPem(), tunnelCa, StandardCopyOption.REPLACE_EXISTING);
            Files.writeString(otherCa, "not a certificate");
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, daemon::reload);
            assertTrue(refused.getMessage().startsWith("tunnel partner-h2: "), refused.getMessage());
            assertRefused(daemon, log, "mtls", "certificate of localhost rejected"); // the anchors of the reload before
            assertEquals("still", line(daemon, "partner-h2", "still"));
        }
    }

    /** A line through {@code tunnel} finds the connection closed, and the log says {@code why}. */
    private static void assertRefused(TlsdDaemon daemon, LogCapture log, String tunnel, String why) throws Exception {
        String prefix = "tunnel " + tunnel + " 127.0.0.1:";
        int before = count(log.text(), prefix, why);
        assertNull(line(daemon, tunnel, "hello"), tunnel + " carried a line");
        long end = System.nanoTime() + T.toNanos();
        while (count(log.text(), prefix, why) == before) {
            if (System.nanoTime() > end) {
                fail("no `" + why + "` logged for tunnel " + tunnel + ":\n" + log.text());
            }
            Thread.sleep(10);
        }
    }

    private static int count(String text, String prefix, String why) {
        return (int) text.lines().filter(l -> l.contains(prefix) && l.contains(why)).count();
    }

    @Test
    void settingsOfTheOtherRoleAreRefusedNotIgnored() throws Exception {
        TunnelConfig proxied = new TunnelConfig("out", ANY_LOOPBACK_PORT, "localhost:443", null, null, List.of(),
                ClientAuthPolicy.NONE, null, true, Duration.ofMinutes(1), TunnelSettings.DEFAULT_MAX_CONNECTIONS, null);
        IllegalArgumentException client = assertThrows(IllegalArgumentException.class,
                () -> TlsdDaemon.start(DaemonConfig.builder().socket(dir.resolve("c.sock")).tunnels(List.of(proxied))
                        .build()).close());
        assertEquals("tunnel out: proxy_protocol applies to server-role tunnels only", client.getMessage());

        Issued server = TestPki.create(Files.createDirectories(dir.resolve("pki"))).issueServer("localhost", "localhost");
        TunnelConfig named = new TunnelConfig("in", ANY_LOOPBACK_PORT, "127.0.0.1:8080", "backend.test", pem(server),
                List.of(), ClientAuthPolicy.NONE, null, false, Duration.ofMinutes(1),
                TunnelSettings.DEFAULT_MAX_CONNECTIONS, dir.resolve("ca.pem"));
        IllegalArgumentException serverRole = assertThrows(IllegalArgumentException.class,
                () -> TlsdDaemon.start(DaemonConfig.builder().role(DaemonConfig.Role.SERVER).ipcEnabled(false)
                        .tunnels(List.of(named)).build()).close());
        assertEquals("tunnel in: servername, ca_file apply to client-role tunnels only", serverRole.getMessage());

        io.tlsd.daemon.server.ListenerConfig listener = io.tlsd.daemon.server.ListenerConfig.simple("web",
                ANY_LOOPBACK_PORT, server.chainPem(), server.keyPem());
        IllegalArgumentException listeners = assertThrows(IllegalArgumentException.class,
                () -> TlsdDaemon.start(DaemonConfig.builder().socket(dir.resolve("l.sock")).listeners(List.of(listener))
                        .build()).close());
        assertEquals("listeners apply to the server role only (tlsd server); this daemon is the client role",
                listeners.getMessage());
    }

    private static CertificateSpec pem(Issued issued) {
        return CertificateSpec.pem(List.of(), issued.chainPem(), issued.keyPem(), null);
    }

    private static TunnelConfig tunnel(String name, int port, Path caFile, CertificateSpec certificate,
                                       List<String> alpn) {
        return new TunnelConfig(name, ANY_LOOPBACK_PORT, "localhost:" + port, null, certificate, alpn,
                ClientAuthPolicy.NONE, null, false, Duration.ofMinutes(1), TunnelSettings.DEFAULT_MAX_CONNECTIONS,
                caFile);
    }

    /**
     * A line through tunnel {@code name} and the line its target answers, stripped; null when
     * the tunnel closes the connection first (its TLS handshake failed).
     */
    private static String line(TlsdDaemon daemon, String name, String line) throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), daemon.tunnelAddress(name).getPort())) {
            return ReversedLine.through(s, line);
        }
    }
}
