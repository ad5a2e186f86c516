package io.tlsd.it;

import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.config.ConfigFile;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A resumed TLS session skips the client's certificate, so the server role resumes one only where
 * the same client-certificate settings would accept the client again: not after a reload whose
 * revocation list names it, and not on a tunnel that asks for a certificate when the session began
 * on one that did not (the daemon's tunnels and listeners share their ticket keys). openssl
 * s_client saves its session ({@code -sess_out}) and offers it again ({@code -sess_in}).
 */
@Timeout(60)
class SessionResumptionTest {
    @TempDir
    Path dir;
    TestPki pki;
    Issued server;
    GreetingBackend backend;

    @BeforeEach
    void setUp() {
        pki = ServerDaemonFixture.pki(dir);
        server = pki.issueServer("localhost", "localhost");
        backend = new GreetingBackend("hello");
    }

    @AfterEach
    void tearDown() throws Exception {
        backend.close();
    }

    /** A server daemon with tunnels to the greeting backend, each {@code name: client settings}. */
    private TlsdDaemon start(String... tunnels) throws Exception {
        StringBuilder yaml = new StringBuilder("socket: none\ntunnels:\n");
        for (String t : tunnels) {
            String[] nameAndSettings = t.split(":", 2);
            yaml.append("  - name: ").append(nameAndSettings[0]).append('\n')
                    .append("    listen: 127.0.0.1:0\n")
                    .append("    target: 127.0.0.1:").append(backend.port()).append('\n')
                    .append("    cert: ").append(server.chainPem()).append('\n')
                    .append("    key: ").append(server.keyPem()).append('\n')
                    .append(nameAndSettings[1].strip().isEmpty() ? "" : nameAndSettings[1]);
        }
        Path config = Files.writeString(dir.resolve("server.yaml"), yaml);
        return TlsdDaemon.start(ConfigFile.load(config).toBuilder().role(DaemonConfig.Role.SERVER).build());
    }

    @Test
    void aSessionDoesNotOutliveTheRevocationOfItsClientsCertificate() throws Exception {
        Issued client = pki.issueClient("soon-revoked");
        Path crl = Files.copy(pki.crl(Duration.ofDays(1)), dir.resolve("clients.crl"));
        Path session = dir.resolve("session.pem");
        try (TlsdDaemon daemon = start("sidecar:    client_auth: required\n    client_ca_file: " + pki.caPem()
                + "\n    client_crl_file: " + crl + "\n")) {
            int port = daemon.tunnelAddress("sidecar").getPort();
            String first = greeting(port, client, "-sess_out", session.toString());
            assertTrue(first.contains("New, TLSv1.3") && first.contains("hello"), first);
            String again = greeting(port, client, "-sess_in", session.toString());
            assertTrue(again.contains("Reused, TLSv1.3") && again.contains("hello"), "resumption works: " + again);

            Files.copy(pki.crl(Duration.ofDays(1), client), crl, REPLACE_EXISTING);
            daemon.reload();
            String revoked = refused(port, client, "-sess_in", session.toString());
            assertFalse(revoked.contains("Reused"), revoked);
            assertTrue(revoked.contains("certificate revoked"), revoked);
        }
    }

    @Test
    void aSessionBegunWithoutACertificateDoesNotResumeWhereOneIsRequired() throws Exception {
        Path session = dir.resolve("session.pem");
        try (TlsdDaemon daemon = start("open: ", "mtls:    client_auth: required\n    client_ca_file: " + pki.caPem()
                + "\n")) {
            String open = greeting(daemon.tunnelAddress("open").getPort(), null, "-sess_out", session.toString());
            assertTrue(open.contains("New, TLSv1.3") && open.contains("hello"), open);
            assertTrue(greeting(daemon.tunnelAddress("open").getPort(), null, "-sess_in", session.toString())
                    .contains("Reused, TLSv1.3"), "resumption works where the session began");
            String mtls = refused(daemon.tunnelAddress("mtls").getPort(), null, "-sess_in", session.toString());
            assertFalse(mtls.contains("Reused"), mtls);
            assertTrue(mtls.contains("alert"), mtls);
        }
    }

    /** openssl s_client's output when it gets the backend's greeting (it exits 0). */
    private String greeting(int port, Issued cert, String... args) throws Exception {
        try (TlsClientProcess c = TlsClientProcess.opensslClient(port, pki.caPem(), withClient(cert, args))) {
            c.closeStdin();
            assertEquals(0, c.await(), c.stdout() + c.stderr());
            return c.stdout() + c.stderr();
        }
    }

    /** openssl s_client's output when the daemon refuses it (TLS 1.3: by an alert after its Finished). */
    private String refused(int port, Issued cert, String... args) throws Exception {
        try (TlsClientProcess c = TlsClientProcess.opensslClient(port, pki.caPem(), withClient(cert, args))) {
            c.closeStdin();
            c.await();
            String all = c.stdout() + c.stderr();
            assertFalse(all.contains("hello"), "the backend was reached: " + all);
            return all;
        }
    }

    /** -servername localhost -ign_eof (reads until the tunnel closes), the client certificate if any, then {@code args}. */
    private static String[] withClient(Issued cert, String... args) {
        List<String> all = new ArrayList<>(List.of("-servername", "localhost", "-ign_eof"));
        if (cert != null) {
            all.addAll(List.of("-cert", cert.certPem().toString(), "-key", cert.keyPem().toString()));
        }
        all.addAll(List.of(args));
        return all.toArray(new String[0]);
    }
}
