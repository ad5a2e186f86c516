package io.tlsd.it;

import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.config.ConfigFile;
import io.tlsd.daemon.metrics.Sample;
import io.tlsd.it.tunnel.LogCapture;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * OCSP stapling ({@code ocsp_file}): openssl s_client {@code -status} gets the response of the
 * certificate its SNI name picks, none for a certificate without one, and none once the file is
 * stale; a reload staples the renewed file; a response from a delegated responder is stapled, one
 * that says "revoked", is about another certificate or is signed by a certificate that is no
 * responder stops the start; {@code tlsd server --ocsp-file} staples too.
 */
@Timeout(60)
class OcspStaplingTest {
    @TempDir
    Path dir;
    TestPki pki;
    Issued web;
    Issued api;

    @BeforeEach
    void setUp() {
        pki = ServerDaemonFixture.pki(dir);
        web = pki.issueServer("web.test", "web.test");
        api = pki.issueServer("api.test", "api.test");
    }

    private TlsdDaemon start(GreetingBackend backend, Path webOcsp) throws Exception {
        Path config = Files.writeString(dir.resolve("server.yaml"), """
                socket: none
                tunnels:
                  - name: sidecar
                    listen: 127.0.0.1:0
                    target: 127.0.0.1:%d
                    certificates:
                      - cert: %s
                        key: %s
                        ocsp_file: %s
                      - names: [api.test]
                        cert: %s
                        key: %s
                """.formatted(backend.port(), web.chainPem(), web.keyPem(), webOcsp, api.chainPem(), api.keyPem()));
        return TlsdDaemon.start(ConfigFile.load(config).toBuilder().role(DaemonConfig.Role.SERVER).build());
    }

    @Test
    void theResponseOfTheCertificateServedIsStapledAndFollowsReloads() throws Exception {
        Path ocsp = Files.copy(pki.ocspResponse(web, Duration.ofDays(2), false), dir.resolve("web.ocsp"));
        try (GreetingBackend backend = new GreetingBackend("hello");
             TlsdDaemon daemon = start(backend, ocsp)) {
            int port = daemon.tunnelAddress("sidecar").getPort();
            String stapled = status(port, "web.test");
            assertTrue(stapled.contains("OCSP Response Status: successful"), stapled);
            assertTrue(stapled.contains("Cert Status: good"), stapled);
            assertTrue(status(port, "api.test").contains("OCSP response: no response sent"), "api.test has none");
            long first = ocspMetric(daemon);

            Files.copy(pki.ocspResponse(web, Duration.ofDays(3), false), ocsp, REPLACE_EXISTING);
            daemon.reload();
            assertTrue(ocspMetric(daemon) > first + 86_000, "the renewed response's nextUpdate");
            assertTrue(status(port, "web.test").contains("Cert Status: good"));

            try (LogCapture log = LogCapture.start()) {
                Files.copy(pki.ocspResponse(web, Duration.ofHours(-1), false), ocsp, REPLACE_EXISTING);
                daemon.reload();
                assertTrue(log.text().contains("the OCSP response is not current"), log.text());
            }
            assertTrue(status(port, "web.test").contains("OCSP response: no response sent"), "a stale one is not sent");
            assertTrue(ocspMetric(daemon) < System.currentTimeMillis() / 1000, "its series stays, in the past, for alerts");

            ConnectCommandTest.Run check = ConnectCommandTest.tlsd("", "check-config", dir.resolve("server.yaml").toString());
            assertEquals(2, check.exitCode(), check.stdout());
            assertTrue(check.stderr().contains("tunnel sidecar: " + ocsp + ": the OCSP response is not current"),
                    check.stderr());
        }
    }

    @Test
    void aResponseFromAResponderTheIssuerCertifiedIsStapled() throws Exception {
        Issued responder = pki.issueOcspResponder("ocsp responder");
        try (GreetingBackend backend = new GreetingBackend("hello");
             TlsdDaemon daemon = start(backend, pki.ocspResponse(web, Duration.ofDays(1), false, responder))) {
            String stapled = status(daemon.tunnelAddress("sidecar").getPort(), "web.test");
            assertTrue(stapled.contains("Cert Status: good"), stapled);
            assertTrue(stapled.contains("ocsp responder"), "the responder's certificate is in the response: " + stapled);
        }
    }

    @Test
    void aResponseThatSaysRevokedOrIsAboutAnotherCertificateStopsTheStart() throws Exception {
        try (GreetingBackend backend = new GreetingBackend("hello")) {
            IllegalArgumentException revoked = assertThrows(IllegalArgumentException.class,
                    () -> start(backend, pki.ocspResponse(web, Duration.ofDays(1), true)).close());
            assertTrue(revoked.getMessage().contains("the response says the certificate CN=web.test,O=tlsd tests is revoked"),
                    revoked.getMessage());
            IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
                    () -> start(backend, pki.ocspResponse(api, Duration.ofDays(1), false)).close());
            assertTrue(other.getMessage().contains("the response is not about the certificate CN=web.test"),
                    other.getMessage());
            Issued notAResponder = pki.issueClient("not-a-responder");
            IllegalArgumentException unauthorised = assertThrows(IllegalArgumentException.class,
                    () -> start(backend, pki.ocspResponse(web, Duration.ofDays(1), false, notAResponder)).close());
            assertTrue(unauthorised.getMessage().contains("its signature is not the issuer's"), unauthorised.getMessage());
            TestPki stranger = TestPki.untrusted(dir);
            Issued strangers = stranger.issueServer("web.test", "web.test");
            IllegalArgumentException forged = assertThrows(IllegalArgumentException.class,
                    () -> start(backend, stranger.ocspResponse(strangers, Duration.ofDays(1), false)).close());
            assertTrue(forged.getMessage().contains("its signature is not the issuer's"), forged.getMessage());
        }
    }

    @Test
    void aListenerWhoseCertificatesAllHaveNamesStaplesTooAndCountsEachOnce() throws Exception {
        Path config = Files.writeString(dir.resolve("listener.yaml"), """
                socket: %s
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    certificates:
                      - names: [web.test]
                        cert: %s
                        key: %s
                        ocsp_file: %s
                      - names: [api.test]
                        cert: %s
                        key: %s
                """.formatted(dir.resolve("server.sock"), web.chainPem(), web.keyPem(),
                pki.ocspResponse(web, Duration.ofDays(1), false), api.chainPem(), api.keyPem()));
        try (TlsdDaemon daemon = TlsdDaemon.start(ConfigFile.load(config).toBuilder().role(DaemonConfig.Role.SERVER).build());
             TlsClientProcess client = TlsClientProcess.opensslClient(daemon.listenerAddress("web").getPort(), pki.caPem(),
                     "-servername", "web.test", "-status")) {
            client.closeStdin(); // after the handshake: the listener holds the connection for an ACCEPT
            assertEquals(0, client.await(), client.stderr());
            assertTrue(client.stdout().contains("Cert Status: good"), client.stdout());
            assertEquals(1, daemon.metricSamples().stream()
                    .filter(s -> s.name().equals("tlsd_ocsp_next_update_timestamp_seconds")).count());
        }
    }

    @Test
    void theServerCommandStaplesItsOcspFile() throws Exception {
        int port = FreePorts.loopback();
        try (GreetingBackend backend = new GreetingBackend("hello");
             DaemonProcess daemon = DaemonProcess.start(dir.resolve("server.log"), "server",
                     "--listen", "127.0.0.1:" + port, "--target", "127.0.0.1:" + backend.port(),
                     "--cert", web.chainPem().toString(), "--key", web.keyPem().toString(),
                     "--ocsp-file", pki.ocspResponse(web, Duration.ofDays(1), false).toString())) {
            daemon.awaitLogLine("listening");
            assertTrue(status(port, "web.test").contains("Cert Status: good"));
        }
    }

    /** What openssl s_client -status prints about the OCSP response, after the backend's greeting. */
    private String status(int port, String serverName) throws Exception {
        return status(pki.caPem(), port, serverName);
    }

    /** As {@link #status(int, String)}, the server's chain verified with {@code caPem}. */
    static String status(Path caPem, int port, String serverName) throws Exception {
        try (TlsClientProcess client = TlsClientProcess.opensslClient(port, caPem, "-servername", serverName,
                "-status", "-ign_eof")) {
            client.closeStdin();
            assertEquals(0, client.await(), client.stderr());
            String out = client.stdout();
            assertTrue(out.contains("hello"), out);
            return out;
        }
    }

    /** {@code tlsd_ocsp_next_update_timestamp_seconds} of the tunnel {@code sidecar}. */
    static long ocspMetric(TlsdDaemon daemon) {
        return daemon.metricSamples().stream().filter(s -> s.name().equals("tlsd_ocsp_next_update_timestamp_seconds"))
                .filter(s -> s.labels().get("name").equals("sidecar")).mapToLong(Sample::value).findFirst()
                .orElseThrow();
    }
}
