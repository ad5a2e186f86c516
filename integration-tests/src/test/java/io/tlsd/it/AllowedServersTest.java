package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.config.ConfigFile;
import io.tlsd.it.tunnel.LogCapture;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client tunnel's {@code allowed_servers} (ghostunnel's {@code --verify-uri} and friends): a
 * target whose certificate names a workload (a SPIFFE ID) rather than its host is accepted when
 * that identity is listed, and refused when another is; without the list the host name is
 * checked, which such a certificate fails. The targets are openssl s_server.
 */
@Timeout(60)
class AllowedServersTest {
    private static final String BACKEND = "spiffe://example.org/ns/prod/sa/backend";

    @TempDir
    Path dir;

    @Test
    void aTargetIsCheckedAgainstTheListedIdentitiesInsteadOfItsHostName() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        Issued backend = pki.issueServer("backend", BACKEND);
        Issued other = pki.issueServer("other", "spiffe://example.org/ns/prod/sa/other");
        try (TlsPeer backendServer = TlsPeer.opensslServer(backend, "-rev");
             TlsPeer otherServer = TlsPeer.opensslServer(other, "-rev");
             LogCapture log = LogCapture.start();
             TlsdDaemon daemon = TlsdDaemon.start(ConfigFile.load(Files.writeString(dir.resolve("client.yaml"), """
                     socket: none
                     tls:
                       ca_file: %1$s
                     tunnels:
                       - name: workload
                         listen: 127.0.0.1:0
                         target: localhost:%2$d
                         allowed_servers: {uris: ["%4$s"]}
                       - name: impostor
                         listen: 127.0.0.1:0
                         target: localhost:%3$d
                         allowed_servers: {uris: ["%4$s"]}
                       - name: by-name
                         listen: 127.0.0.1:0
                         target: localhost:%2$d
                     """.formatted(pki.caPem(), backendServer.port(), otherServer.port(), BACKEND)))
                     .toBuilder().role(DaemonConfig.Role.CLIENT).build())) {
            assertEquals("olleh", ReversedLine.byTunnel(daemon.tunnelAddress("workload").getPort(), "hello"));
            assertNull(ReversedLine.byTunnel(daemon.tunnelAddress("impostor").getPort(), "hello"));
            assertTrue(log.text().contains("server certificate CN=other,O=tlsd tests is not among allowed_servers"),
                    log.text());
            assertNull(ReversedLine.byTunnel(daemon.tunnelAddress("by-name").getPort(), "hello"),
                    "without the list, the certificate must name localhost");
            daemon.reload(); // the tunnels' contexts again: the lists stay
            assertEquals("olleh", ReversedLine.byTunnel(daemon.tunnelAddress("workload").getPort(), "hello"));
            assertNull(ReversedLine.byTunnel(daemon.tunnelAddress("impostor").getPort(), "hello"));
        }
    }

    @Test
    void theCommandLinesAllowServerFlagsCheckTheTunnelsTargetByIdentity() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        Issued backend = pki.issueServer("backend", BACKEND);
        try (TlsPeer backendServer = TlsPeer.opensslServer(backend, "-rev")) {
            for (String allowed : List.of(BACKEND, "spiffe://example.org/ns/prod/sa/other")) {
                int port = FreePorts.loopback();
                try (DaemonProcess daemon = DaemonProcess.start(dir.resolve("client.log"), "client",
                        "--listen", "127.0.0.1:" + port, "--target", "localhost:" + backendServer.port(),
                        "--ca-file", pki.caPem().toString(), "--allow-server-uri", allowed)) {
                    daemon.awaitLogLine("listening");
                    String reversed = ReversedLine.byTunnel(port, "hello");
                    if (allowed.equals(BACKEND)) {
                        assertEquals("olleh", reversed);
                    } else {
                        assertNull(reversed);
                        daemon.awaitLogLine("server certificate CN=backend,O=tlsd tests is not among allowed_servers");
                    }
                }
            }
        }
        ConnectCommandTest.Run run = ConnectCommandTest.tlsd("", "client", "--socket", dir.resolve("c.sock").toString(),
                "--allow-server-uri", BACKEND);
        assertEquals(2, run.exitCode(), run.stderr());
        assertTrue(run.stderr().contains("--allow-server-uri go with --listen and --target"), run.stderr());
    }
}
