package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.cli.TlsdCommand;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.sdk.Status;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tlsd client} as a service manager runs it: a foreground process stopped by SIGTERM. */
class DaemonProcessTest {
    @TempDir
    Path dir;

    private Process startDaemon(Path socket, String... extra) throws Exception {
        List<String> command = new ArrayList<>(DaemonProcess.SIGHUP_AS_DEFAULT);
        command.addAll(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                TlsdCommand.class.getName(), "client", "--socket", socket.toString()));
        command.addAll(List.of(extra));
        lastLog = dir.resolve("daemon-" + System.nanoTime() + ".log");
        return new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(lastLog.toFile()).start();
    }

    /** The log of the daemon {@link #startDaemon} started last. */
    private Path lastLog;

    /** Until the daemon has claimed its signals (it logs so after the stop signals): before, SIGTERM kills it. */
    private void awaitSignalsClaimed(Process daemon) throws Exception {
        DaemonProcess.awaitLine(lastLog, daemon, DaemonProcess.SIGNALS_CLAIMED, Duration.ofSeconds(20));
    }

    private static void awaitSocket(Path socket, Process daemon) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!Files.exists(socket)) {
            assertTrue(daemon.isAlive(), "the daemon exited with " + (daemon.isAlive() ? 0 : daemon.exitValue()));
            assertTrue(System.nanoTime() < deadline, "no socket after 20 s");
            Thread.sleep(50);
        }
    }

    @Test
    void aSecondSigtermEndsTheDrainAtOnceWithGoodbyeAndExitZero() throws Exception {
        Path socket = dir.resolve("run/tlsd.sock");
        // the OPEN below must stay under way for the whole test
        Path config = Files.writeString(dir.resolve("slow-handshakes.yaml"), "timeouts:\n  handshake: 120s\n");
        Process daemon = startDaemon(socket, "--config", config.toString());
        try {
            awaitSocket(socket, daemon);
            awaitSignalsClaimed(daemon);
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
            // A TCP server that never answers the handshake keeps an OPEN pending, and the drain waiting for it.
            try (ServerSocket silent = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
                 TlsdClient client = TlsdClient.builder().socket(socket).build()) {
                assertEquals("client", client.role());
                var pending = client.open("127.0.0.1", silent.getLocalPort());
                java.net.Socket accepted = silent.accept(); // and never answered
                daemon.destroy(); // SIGTERM: a drain
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (Files.exists(socket) && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertFalse(Files.exists(socket), "the socket file goes when the drain starts");
                assertFalse(daemon.waitFor(500, TimeUnit.MILLISECONDS), "it drains: the OPEN is under way");
                daemon.destroy(); // the second SIGTERM: at once
                assertTrue(daemon.waitFor(20, TimeUnit.SECONDS), "the daemon did not stop");
                assertEquals(0, daemon.exitValue());
                TlsdException e = assertThrows(TlsdException.class, () -> pending.await(Duration.ofSeconds(5)));
                assertEquals(Status.UNAVAILABLE, e.status(), e.toString());
                accepted.close();
            }
        } finally {
            daemon.destroyForcibly();
        }
    }

    @Test
    void aServerDaemonOnALiveSocketRefusesToStartBeforeItTakesItsListenersPorts() throws Exception {
        Path socket = dir.resolve("taken.sock");
        try (ClientDaemonFixture first = new ClientDaemonFixture(dir.resolve("first"),
                b -> b.socket(socket));
             io.tlsd.it.tunnel.LogCapture log = io.tlsd.it.tunnel.LogCapture.start()) {
            io.tlsd.testing.TestPki pki = ServerDaemonFixture.pki(dir);
            var listener = ServerDaemonFixture.listener("default",
                    ServerDaemonFixture.pem(pki.issueServer("localhost", "localhost"), "localhost"));
            java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                    () -> io.tlsd.daemon.TlsdDaemon.start(io.tlsd.daemon.DaemonConfig.builder()
                            .role(io.tlsd.daemon.DaemonConfig.Role.SERVER).socket(socket)
                            .listeners(java.util.List.of(listener)).build()).close());
            assertEquals("another daemon is listening on " + socket, e.getMessage());
            assertTrue(!log.text().contains("listener default on"), "no listener was bound: " + log.text());
            try (io.tlsd.sdk.TlsdClient app = first.client()) {
                assertEquals("client", app.role(), "the first daemon is untouched");
            }
        }
    }

    @Test
    void secondDaemonOnALiveSocketRefusesToStart() throws Exception {
        Path socket = dir.resolve("tlsd.sock");
        Process first = startDaemon(socket);
        try {
            awaitSocket(socket, first);
            Path log = dir.resolve("second.log");
            Process second = new ProcessBuilder(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"),
                    TlsdCommand.class.getName(), "client", "--socket", socket.toString())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            assertTrue(second.waitFor(30, TimeUnit.SECONDS));
            assertEquals(1, second.exitValue());
            String output = Files.readString(log, StandardCharsets.UTF_8);
            assertTrue(output.contains("another daemon is listening on " + socket), output);
            assertTrue(first.isAlive(), "the first daemon is untouched");
        } finally {
            first.destroy();
            first.waitFor(20, TimeUnit.SECONDS);
        }
    }

    @Test
    void staleSocketFileIsReplaced() throws Exception {
        Path socket = dir.resolve("stale.sock");
        // what a crashed daemon leaves: a socket file nobody listens on
        try (var dead = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            dead.bind(java.net.UnixDomainSocketAddress.of(socket));
        }
        assertTrue(Files.exists(socket));
        Process daemon = startDaemon(socket);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (true) {
                try (TlsdClient client = TlsdClient.builder().socket(socket).build()) {
                    assertEquals("client", client.role());
                    break;
                } catch (TlsdException e) {
                    assertTrue(System.nanoTime() < deadline, "daemon never answered: " + e);
                    Thread.sleep(100);
                }
            }
        } finally {
            daemon.destroy();
            daemon.waitFor(20, TimeUnit.SECONDS);
        }
    }

    @Test
    void aRegularFileInTheSocketsPlaceIsNotDeleted() throws Exception {
        Path socket = dir.resolve("precious.txt");
        Files.writeString(socket, "not a socket");
        Process daemon = startDaemon(socket);
        assertTrue(daemon.waitFor(30, TimeUnit.SECONDS));
        assertEquals(1, daemon.exitValue());
        assertEquals("not a socket", Files.readString(socket));
    }

    @Test
    void unreadableCaFileIsAUsageError() throws Exception {
        Process daemon = startDaemon(dir.resolve("x.sock"), "--ca-file", dir.resolve("missing.pem").toString());
        assertTrue(daemon.waitFor(30, TimeUnit.SECONDS));
        assertEquals(2, daemon.exitValue());
    }
}
