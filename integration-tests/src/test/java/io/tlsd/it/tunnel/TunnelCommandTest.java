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

    /** A server tunnel to an echo backend and a client tunnel to it, both `tlsd` processes. */
    private interface WithPair {
        void run(int plainPort, int tlsPort, PlainBackend backend) throws Exception;
    }

    /**
     * Starts the pair with {@code serverFlags} and {@code clientFlags} added, runs {@code body} once
     * both are up, then stops them with SIGTERM and checks that both exit 0.
     */
    private void withTunnelPair(List<String> serverFlags, List<String> clientFlags, WithPair body) throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        Issued localhost = pki.issueServer("localhost", "localhost");
        try (PlainBackend backend = PlainBackend.start(PlainBackend.echo())) {
            int tlsPort = FreePorts.loopback();
            int plainPort = FreePorts.loopback();
            List<String> server = new ArrayList<>(List.of("server", "--listen", "127.0.0.1:" + tlsPort,
                    "--target", "127.0.0.1:" + backend.address().getPort(),
                    "--cert", localhost.chainPem().toString(), "--key", localhost.keyPem().toString()));
            server.addAll(serverFlags);
            List<String> client = new ArrayList<>(List.of("client", "--listen", "127.0.0.1:" + plainPort,
                    "--target", "localhost:" + tlsPort, "--ca-file", pki.caPem().toString()));
            client.addAll(clientFlags);
            Process serverProcess = tlsd("server", server.toArray(String[]::new));
            Process clientProcess = tlsd("client", client.toArray(String[]::new));
            try {
                connectWhenUp(tlsPort).close();
                body.run(plainPort, tlsPort, backend);
            } finally {
                clientProcess.destroy();
                serverProcess.destroy();
                assertTrue(clientProcess.waitFor(20, TimeUnit.SECONDS) && serverProcess.waitFor(20, TimeUnit.SECONDS));
            }
            assertEquals(0, clientProcess.exitValue(), Files.readString(dir.resolve("client.log")));
            assertEquals(0, serverProcess.exitValue(), Files.readString(dir.resolve("server.log")));
        }
    }

    /** --idle-timeout takes a duration on both roles (and whole seconds, as it used to on the server). */
    @Test
    void idleTimeoutTakesADurationOnBothRoles() throws Exception {
        withTunnelPair(List.of("--idle-timeout", "30"), List.of("--idle-timeout", "1s"), (plainPort, tls, backend) -> {
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
        });
        assertTrue(Files.readString(dir.resolve("client.log")).contains("idle timeout 1000 ms"),
                Files.readString(dir.resolve("client.log")));
        assertTrue(Files.readString(dir.resolve("server.log")).contains("idle timeout 30000 ms"),
                Files.readString(dir.resolve("server.log")));
    }

    @Test
    void tunnelPairCarriesLinesBothWaysAndStopsOnSigterm() throws Exception {
        int[] ports = new int[3];
        withTunnelPair(List.of("--access-log"), List.of("--access-log"), (plainPort, tlsPort, backend) -> {
            ports[0] = plainPort;
            ports[1] = tlsPort;
            ports[2] = backend.address().getPort();
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
        });
        assertTrue(Files.readString(dir.resolve("server.log")).contains("IPC off"),
                "a tunnel on the command line runs without an IPC socket");
        // --access-log: one line per connection relayed (not the probe that never got there)
        String accessLine = "tunnel tunnel-1 127.0.0.1:%d → %s: client 127.0.0.1:\\d+ done after \\d+ ms:"
                + " 20 bytes from the client, 20 bytes to it, TLSv1.3 TLS_\\w+";
        assertAccessLine(dir.resolve("client.log"),
                String.format(accessLine, ports[0], "target localhost:" + ports[1]));
        assertAccessLine(dir.resolve("server.log"),
                String.format(accessLine, ports[1], "backend 127.0.0.1:" + ports[2]));
    }
}
