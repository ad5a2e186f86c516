package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.config.ConfigFile;
import io.tlsd.it.tunnel.LogCapture;
import io.tlsd.sdk.OpenOptions;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code allowed_targets}: a client daemon lets applications OPEN only the listed targets
 * (two openssl s_server here, one listed); another, or a listed one with another server_name,
 * fails UNAUTHORIZED before anything is dialled, with a warning; a reload changes the list for the
 * OPENs after it, wider or narrower. The server role refuses it.
 */
@Timeout(60)
class AllowedTargetsTest {
    @TempDir
    Path dir;

    private DaemonConfig load(Path file) {
        return ConfigFile.load(file).toBuilder().role(DaemonConfig.Role.CLIENT).build();
    }

    @Test
    void onlyTheListedTargetsMayBeOpened() throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        Issued cert = pki.issueServer("localhost", "localhost");
        try (TlsPeer listed = TlsPeer.opensslServer(cert, "-rev");
             TlsPeer other = TlsPeer.opensslServer(cert, "-rev")) {
            String yaml = "socket: %s\ntls:\n  ca_file: %s\nallowed_targets: [\"%s\"]\n";
            Path file = Files.writeString(dir.resolve("client.yaml"),
                    yaml.formatted(dir.resolve("client.sock"), pki.caPem(), "localhost:" + listed.port()));
            try (TlsdDaemon daemon = TlsdDaemon.start(load(file));
                 TlsdClient app = TlsdClient.builder().socket(daemon.socketPath()).build();
                 LogCapture log = LogCapture.start()) {
                assertEquals("olleh", ReversedLine.byOpen(app, listed.port(), "hello"));

                TlsdException refused = assertThrows(TlsdException.class,
                        () -> ReversedLine.byOpen(app, other.port(), "hello"));
                assertEquals(Status.UNAUTHORIZED, refused.status(), refused.toString());
                assertTrue(refused.detail().contains("localhost:" + other.port() + " is not among this daemon's"
                        + " allowed_targets"), refused.detail());
                assertFalse(refused.detail().contains(":" + listed.port()), "the list stays in the log: " + refused.detail());
                String line = log.awaitLine("refused: not among this daemon's allowed_targets", Duration.ofSeconds(10));
                assertTrue(line != null && line.contains("app=") && line.contains("open localhost:" + other.port()),
                        log.text());
                TlsdException byAddress = assertThrows(TlsdException.class,
                        () -> app.open("127.0.0.1", listed.port()).await(Duration.ofSeconds(10)));
                assertEquals(Status.UNAUTHORIZED, byAddress.status(), "a name is matched as written");
                // an allowed host cannot lend its address to another name's certificate and SNI
                TlsdException fronted = assertThrows(TlsdException.class, () -> app.open(
                        OpenOptions.builder("localhost", listed.port()).serverName("elsewhere.example").build())
                        .await(Duration.ofSeconds(10)));
                assertEquals(Status.UNAUTHORIZED, fronted.status());
                assertTrue(fronted.detail().contains("its server_name elsewhere.example is not among"), fronted.detail());
                assertEquals(3, daemon.stats().opensRefused());

                Files.writeString(file, yaml.formatted(dir.resolve("client.sock"), pki.caPem(), "localhost:*"));
                TlsdDaemon.Reloaded reloaded = daemon.reload(() -> load(file));
                assertEquals(List.of(), reloaded.notApplied());
                assertTrue(reloaded.used().get(0).contains("OPENs only to localhost:*"), reloaded.used().toString());
                assertEquals("olleh", ReversedLine.byOpen(app, other.port(), "hello"), "the reloaded list");

                Files.writeString(file, yaml.formatted(dir.resolve("client.sock"), pki.caPem(), "elsewhere.example:*"));
                daemon.reload(() -> load(file));
                assertEquals(Status.UNAUTHORIZED, assertThrows(TlsdException.class,
                        () -> ReversedLine.byOpen(app, listed.port(), "hello")).status(), "a narrower list too");
            }
            // the server role has no OPENs to limit: it refuses the key rather than ignore it
            Path server = Files.writeString(dir.resolve("server.yaml"), "socket: " + dir.resolve("server.sock")
                    + "\nallowed_targets: [\"localhost:443\"]\nlisteners:\n  - name: web\n    address: 127.0.0.1:0\n"
                    + "    certificates:\n      - {cert: " + cert.chainPem() + ", key: " + cert.keyPem() + "}\n");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TlsdDaemon.start(
                    ConfigFile.load(server).toBuilder().role(DaemonConfig.Role.SERVER).build()));
            assertTrue(e.getMessage().contains("allowed_targets applies to the client role only"), e.getMessage());
        }
        ConnectCommandTest.Run run = ConnectCommandTest.tlsd("", "server", "--allow-target", "localhost:443");
        assertEquals(2, run.exitCode(), run.stderr());
        assertTrue(run.stderr().contains("--allow-target"), run.stderr());
        run = ConnectCommandTest.tlsd("", "client", "--allow-target", "localhost");
        assertEquals(2, run.exitCode(), run.stderr());
        assertTrue(run.stderr().contains("--allow-target: \"localhost\" is not HOST:PORT"), run.stderr());
    }
}
