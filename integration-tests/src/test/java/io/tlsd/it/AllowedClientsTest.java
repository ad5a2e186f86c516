package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.config.ConfigFile;
import io.tlsd.it.tunnel.LogCapture;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code allowed_clients} (ghostunnel's {@code --allow-cn/--allow-dns/--allow-uri}): of the client
 * certificates the CA verifies, a server tunnel and a listener let in only those whose common name,
 * DNS or URI subject alternative name is listed; openssl s_client presents them. The others get a
 * TLS alert, and the refusal is logged with the subject. A session resumes only under the same list.
 */
@Timeout(60)
class AllowedClientsTest {
    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    TestPki pki;
    Issued server;

    @BeforeEach
    void setUp() {
        pki = ServerDaemonFixture.pki(dir);
        server = pki.issueServer("localhost", "localhost");
    }

    @Test
    void onlyTheListedClientsGetThroughATunnelAndAListener() throws Exception {
        Issued byCn = pki.issueClient("billing");
        Issued byDns = pki.issueClientWithNames("anything", "payments.internal");
        Issued byUri = pki.issueClientWithNames("workload", "spiffe://example.org/ns/prod/sa/ledger");
        Issued other = pki.issueClientWithNames("intruder", "other.internal", "spiffe://example.org/ns/dev/sa/x");
        String allowed = """
                    client_auth: required
                    client_ca_file: %s
                    allowed_clients:
                      common_names: [billing]
                      dns_names: [PAYMENTS.internal]
                      uris: ["spiffe://example.org/ns/prod/sa/ledger"]
                """.formatted(pki.caPem());
        try (GreetingBackend backend = new GreetingBackend("hello");
             LogCapture log = LogCapture.start();
             TlsdDaemon daemon = start("""
                     socket: %s
                     listeners:
                       - name: mtls
                         address: 127.0.0.1:0
                         certificates:
                           - cert: %s
                             key: %s
                     %s
                     tunnels:
                       - name: sidecar
                         listen: 127.0.0.1:0
                         target: 127.0.0.1:%d
                         cert: %s
                         key: %s
                     %s""".formatted(dir.resolve("server.sock"), server.chainPem(), server.keyPem(),
                     allowed.stripTrailing(), backend.port(), server.chainPem(), server.keyPem(),
                     allowed.stripTrailing()));
             TlsdClient app = TlsdClient.builder().socket(daemon.socketPath()).build()) {
            int tunnel = daemon.tunnelAddress("sidecar").getPort();
            for (Issued in : List.of(byCn, byDns, byUri)) {
                assertTrue(client(tunnel, in).contains("hello"), in.certificate().getSubjectX500Principal().getName());
            }
            String refused = client(tunnel, other);
            assertFalse(refused.contains("hello"), refused);
            assertTrue(refused.contains("alert"), refused);
            assertTrue(log.text().contains("client certificate CN=intruder,O=tlsd tests is not among allowed_clients"),
                    log.text());

            int listener = daemon.listenerAddress("mtls").getPort();
            Operation<TlsConnection> accept = app.accept("mtls");
            String refusedByListener = client(listener, other);
            assertTrue(refusedByListener.contains("alert"), refusedByListener);
            assertTrue(log.text().contains("listener mtls: handshake with 127.0.0.1:")
                    && log.text().contains("failed: client certificate CN=intruder,O=tlsd tests is not among"
                    + " allowed_clients"), log.text());
            assertFalse(accept.isDone(), "a refused client never reaches the application");
            try (TlsClientProcess good = TlsClientProcess.opensslClient(listener, pki.caPem(), args(byUri, "-quiet"))) {
                TlsConnection conn = accept.await(T);
                assertTrue(conn.info().peerSubject().contains("CN=workload"), conn.info().peerSubject());
                conn.close().await(T);
                good.await();
            }
        }
    }

    @Test
    void revocationListsApplyToTheAllowedClientsToo() throws Exception {
        Issued billing = pki.issueClient("billing");
        Issued revokedBilling = pki.issueClient("billing");
        Path crl = pki.crl(Duration.ofDays(1), revokedBilling);
        try (GreetingBackend backend = new GreetingBackend("hello");
             TlsdDaemon daemon = start("""
                     socket: none
                     tunnels:
                       - name: sidecar
                         listen: 127.0.0.1:0
                         target: 127.0.0.1:%d
                         cert: %s
                         key: %s
                         client_auth: required
                         client_ca_file: %s
                         client_crl_file: %s
                         allowed_clients: {common_names: [billing]}
                     """.formatted(backend.port(), server.chainPem(), server.keyPem(), pki.caPem(), crl))) {
            int port = daemon.tunnelAddress("sidecar").getPort();
            assertTrue(client(port, billing).contains("hello"));
            String revoked = client(port, revokedBilling);
            assertTrue(revoked.contains("certificate revoked") && !revoked.contains("hello"), revoked);
        }
    }

    @Test
    void aSessionDoesNotResumeUnderAnotherList() throws Exception {
        Issued billing = pki.issueClient("billing");
        Path session = dir.resolve("session.pem");
        try (GreetingBackend backend = new GreetingBackend("hello");
             TlsdDaemon daemon = start("""
                     socket: none
                     tunnels:
                       - name: billing-only
                         listen: 127.0.0.1:0
                         target: 127.0.0.1:%1$d
                         cert: %2$s
                         key: %3$s
                         client_auth: required
                         client_ca_file: %4$s
                         allowed_clients: {common_names: [billing]}
                       - name: ledger-only
                         listen: 127.0.0.1:0
                         target: 127.0.0.1:%1$d
                         cert: %2$s
                         key: %3$s
                         client_auth: required
                         client_ca_file: %4$s
                         allowed_clients: {common_names: [ledger]}
                     """.formatted(backend.port(), server.chainPem(), server.keyPem(), pki.caPem()))) {
            String first = client(daemon.tunnelAddress("billing-only").getPort(), billing, "-sess_out", session.toString());
            assertTrue(first.contains("hello") && first.contains("New, TLSv1.3"), first);
            String again = client(daemon.tunnelAddress("billing-only").getPort(), billing, "-sess_in", session.toString());
            assertTrue(again.contains("Reused, TLSv1.3"), "resumption works under the same list: " + again);
            String other = client(daemon.tunnelAddress("ledger-only").getPort(), billing, "-sess_in", session.toString());
            assertFalse(other.contains("Reused"), other);
            assertFalse(other.contains("hello"), other);
        }
    }

    @Test
    void theCommandLinesAllowFlagsLetInOnlyTheListedClients() throws Exception {
        Issued billing = pki.issueClient("billing");
        Issued byUri = pki.issueClientWithNames("workload", "spiffe://example.org/ns/prod/sa/ledger");
        Issued other = pki.issueClient("intruder");
        int port = FreePorts.loopback();
        try (GreetingBackend backend = new GreetingBackend("hello");
             DaemonProcess daemon = DaemonProcess.start(dir.resolve("tunnel.log"), "server",
                     "--listen", "127.0.0.1:" + port, "--target", "127.0.0.1:" + backend.port(),
                     "--cert", server.chainPem().toString(), "--key", server.keyPem().toString(),
                     "--client-auth", "required", "--client-ca", pki.caPem().toString(),
                     "--allow-cn", "billing", "--allow-uri", "spiffe://example.org/ns/prod/sa/ledger")) {
            daemon.awaitLogLine("listening");
            assertTrue(client(port, billing).contains("hello"));
            assertTrue(client(port, byUri).contains("hello"));
            String refused = client(port, other);
            assertTrue(refused.contains("alert") && !refused.contains("hello"), refused);
            daemon.awaitLogLine("client certificate CN=intruder,O=tlsd tests is not among allowed_clients");
        }
        ConnectCommandTest.Run run = ConnectCommandTest.tlsd("", "server", "--listen", "127.0.0.1:0",
                "--cert", server.chainPem().toString(), "--key", server.keyPem().toString(),
                "--client-ca", pki.caPem().toString(), "--allow-cn", "billing");
        assertEquals(2, run.exitCode(), run.stderr());
        assertTrue(run.stderr().contains("--allow-cn, --allow-dns and --allow-uri need --client-auth required"),
                run.stderr());
    }

    private TlsdDaemon start(String yaml) throws Exception {
        Path config = Files.writeString(dir.resolve("server.yaml"), yaml);
        return TlsdDaemon.start(ConfigFile.load(config).toBuilder().role(DaemonConfig.Role.SERVER).build());
    }

    /** openssl s_client presenting {@code cert}: what it printed, reading until the daemon closes. */
    private String client(int port, Issued cert, String... extra) throws Exception {
        try (TlsClientProcess c = TlsClientProcess.opensslClient(port, pki.caPem(), args(cert, extra))) {
            c.closeStdin();
            c.await();
            return c.stdout() + c.stderr();
        }
    }

    /** s_client's arguments: SNI localhost, {@code cert} presented, reading until the daemon closes, then {@code extra}. */
    private static String[] args(Issued cert, String... extra) {
        List<String> all = new ArrayList<>(List.of("-servername", "localhost", "-cert", cert.certPem().toString(),
                "-key", cert.keyPem().toString(), "-ign_eof"));
        all.addAll(List.of(extra));
        return all.toArray(new String[0]);
    }
}
