package io.tlsd.it;

import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.cli.TlsdCommand;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy;
import io.tlsd.daemon.tunnel.TunnelConfig;
import io.tlsd.daemon.tunnel.TunnelSettings;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Certificate rotation without a restart: the server role reads its certificate files again on
 * reload (SIGHUP for the foreground daemon) and serves them to new clients, as openssl s_client
 * sees them; files that cannot be used change nothing.
 */
@Timeout(60)
class CertificateReloadTest {
    private static final Pattern SUBJECT = Pattern.compile("subject=.*CN ?= ?([^,\\s/]+)");

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
        }
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
                             TunnelSettings.DEFAULT_MAX_CONNECTIONS)))
                     .build())) {
            int port = daemon.tunnelAddress("sidecar").getPort();
            assertEquals("before.test", servedName(port));
            serve(after);
            List<String> served = daemon.reload();
            assertEquals(List.of("tunnel sidecar"), served.stream().map(s -> s.substring(0, s.indexOf(" ("))).toList());
            assertEquals("after.test", servedName(port));
        }
    }

    @Test
    void sighupMakesTheForegroundServerDaemonServeTheRenewedFiles() throws Exception {
        int port = FreePorts.loopback();
        Path log = dir.resolve("daemon.log");
        Path socket = dir.resolve("run/server.sock");
        Process daemon = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), TlsdCommand.class.getName(), "server",
                "--socket", socket.toString(), "--listen", "127.0.0.1:" + port,
                "--cert", cert.toString(), "--key", key.toString())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(log.toFile()).start();
        try {
            awaitLogLine(log, daemon, "SIGHUP reads the certificate files again"); // before it, SIGHUP would stop it
            assertEquals("before.test", servedName(port));

            serve(after);
            Process hup = new ProcessBuilder("kill", "-HUP", Long.toString(daemon.pid())).start();
            assertEquals(0, hup.waitFor());
            awaitLogLine(log, daemon, "reload: listener default (CN=after.test,O=tlsd tests until ");
            assertEquals("after.test", servedName(port));
            assertTrue(daemon.isAlive(), "SIGHUP does not stop the daemon");
        } finally {
            daemon.destroy();
            daemon.waitFor(20, TimeUnit.SECONDS);
            daemon.destroyForcibly();
        }
    }

    /** The CN of the certificate a new openssl s_client gets, verified against the test CA. */
    private String servedName(int port) throws Exception {
        try (TlsClientProcess client = TlsClientProcess.opensslClient(port, pki.caPem(), "-servername", "localhost")) {
            client.closeStdin();
            assertEquals(0, client.await(), client.stderr());
            String out = client.stdout();
            Matcher m = SUBJECT.matcher(out);
            if (!m.find()) {
                fail("no subject in openssl's output:\n" + out);
            }
            return m.group(1);
        }
    }

    private static void awaitLogLine(Path log, Process daemon, String fragment) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            if (text.contains(fragment)) {
                return;
            }
            if (!daemon.isAlive()) {
                fail("the daemon exited with " + daemon.exitValue() + ":\n" + text);
            }
            Thread.sleep(50);
        }
        fail("no log line with `" + fragment + "` in:\n" + Files.readString(log, StandardCharsets.UTF_8));
    }
}
