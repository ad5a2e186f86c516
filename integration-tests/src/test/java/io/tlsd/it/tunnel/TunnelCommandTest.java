package io.tlsd.it.tunnel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.cli.TlsdCommand;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tunnel pair as an operator starts it: {@code tlsd server --listen --target --cert --key} and
 * {@code tlsd client --listen --target --ca-file}, two processes, stopped by SIGTERM.
 */
class TunnelCommandTest {
    @TempDir
    Path dir;

    private Process tlsd(String name, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), TlsdCommand.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".log").toFile())
                .start();
    }

    private static Socket connectWhenUp(int port) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try {
                return new Socket(InetAddress.getLoopbackAddress(), port);
            } catch (IOException e) {
                assertTrue(System.nanoTime() < deadline, "nothing listens on " + port);
                Thread.sleep(100);
            }
        }
    }

    private static void assertAccessLine(Path log, String regex) throws IOException {
        List<String> lines = Files.readAllLines(log).stream()
                .filter(l -> l.matches(".* INFO Relay - .*: client \\S+ .* after \\d+ ms: .*")).toList();
        assertEquals(1, lines.size(), String.join("\n", Files.readAllLines(log)));
        assertTrue(lines.get(0).matches(".* INFO Relay - " + regex), lines.get(0) + "\n !~ " + regex);
    }

    /** --idle-timeout takes a duration on both roles (and whole seconds, as it used to on the server). */
    @Test
    void idleTimeoutTakesADurationOnBothRoles() throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        Issued localhost = pki.issueServer("localhost", "localhost");
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            int tlsPort = FreePorts.loopback();
            int plainPort = FreePorts.loopback();
            Process server = tlsd("server", "server", "--listen", "127.0.0.1:" + tlsPort,
                    "--target", "127.0.0.1:" + backend.address().getPort(), "--idle-timeout", "30",
                    "--cert", localhost.chainPem().toString(), "--key", localhost.keyPem().toString());
            Process client = tlsd("client", "client", "--listen", "127.0.0.1:" + plainPort,
                    "--target", "localhost:" + tlsPort, "--ca-file", pki.caPem().toString(), "--idle-timeout", "1s");
            try {
                connectWhenUp(tlsPort).close();
                try (Socket app = connectWhenUp(plainPort)) {
                    app.setSoTimeout(10_000);
                    app.getOutputStream().write("ping\n".getBytes(StandardCharsets.US_ASCII));
                    assertEquals('p', app.getInputStream().read());
                    app.getInputStream().readNBytes(4);
                    long idleFrom = System.nanoTime();
                    int end;
                    try {
                        end = app.getInputStream().read(); // nothing comes: the client tunnel closes it
                    } catch (java.net.SocketException reset) {
                        end = -1;
                    }
                    long idleMillis = (System.nanoTime() - idleFrom) / 1_000_000;
                    assertEquals(-1, end);
                    assertTrue(idleMillis >= 800 && idleMillis < 8_000, "closed after " + idleMillis + " ms idle");
                }
            } finally {
                client.destroy();
                server.destroy();
                assertTrue(client.waitFor(20, TimeUnit.SECONDS) && server.waitFor(20, TimeUnit.SECONDS));
            }
            assertTrue(Files.readString(dir.resolve("client.log")).contains("idle timeout 1000 ms"),
                    Files.readString(dir.resolve("client.log")));
            assertTrue(Files.readString(dir.resolve("server.log")).contains("idle timeout 30000 ms"),
                    Files.readString(dir.resolve("server.log")));
        }
    }

    @Test
    void tunnelPairCarriesLinesBothWaysAndStopsOnSigterm() throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        Issued localhost = pki.issueServer("localhost", "localhost");
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            int tlsPort = FreePorts.loopback();
            int plainPort = FreePorts.loopback();
            Process server = tlsd("server", "server", "--listen", "127.0.0.1:" + tlsPort,
                    "--target", "127.0.0.1:" + backend.address().getPort(),
                    "--cert", localhost.chainPem().toString(), "--key", localhost.keyPem().toString(), "--access-log");
            Process client = tlsd("client", "client", "--listen", "127.0.0.1:" + plainPort,
                    "--target", "localhost:" + tlsPort, "--ca-file", pki.caPem().toString(), "--access-log");
            try {
                connectWhenUp(tlsPort).close();
                try (Socket app = connectWhenUp(plainPort)) {
                    app.setSoTimeout(10_000);
                    OutputStream out = app.getOutputStream();
                    BufferedReader in = new BufferedReader(new InputStreamReader(app.getInputStream(),
                            StandardCharsets.US_ASCII));
                    out.write("through two tunnels\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    assertEquals("through two tunnels", in.readLine());
                    app.shutdownOutput();
                    assertEquals(null, in.readLine(), "the backend's end reaches the application");
                }
            } finally {
                client.destroy();
                server.destroy();
                assertTrue(client.waitFor(20, TimeUnit.SECONDS) && server.waitFor(20, TimeUnit.SECONDS));
            }
            assertEquals(0, client.exitValue(), Files.readString(dir.resolve("client.log")));
            assertEquals(0, server.exitValue(), Files.readString(dir.resolve("server.log")));
            assertTrue(Files.readString(dir.resolve("server.log")).contains("IPC off"),
                    "a tunnel on the command line runs without an IPC socket");
            // --access-log: one line per connection relayed (not the probe that never got there)
            String accessLine = "tunnel tunnel-1 127.0.0.1:%d → %s: client 127.0.0.1:\\d+ done after \\d+ ms:"
                    + " 20 bytes from the client, 20 bytes to it, TLSv1.3 TLS_\\w+";
            assertAccessLine(dir.resolve("client.log"),
                    String.format(accessLine, plainPort, "target localhost:" + tlsPort));
            assertAccessLine(dir.resolve("server.log"),
                    String.format(accessLine, tlsPort, "backend 127.0.0.1:" + backend.address().getPort()));
        }
    }
}
