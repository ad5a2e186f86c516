package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tunnel.TunnelConfig;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A graceful stop ({@link TlsdDaemon#drain}, SIGTERM for the foreground daemon): no new work from
 * the first moment, the socket path free for a successor, the work under way let finish, and what
 * is left closed at the timeout. Real peers: openssl s_server -rev behind the client role and a
 * client tunnel.
 */
@Timeout(90)
class DrainTest {
    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void aDrainTakesNoNewWorkAndLetsTheConnectionsUnderWayFinish() throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        Path socket = dir.resolve("run/client.sock");
        Issued localhost = pki.issueServer("localhost", "localhost");
        // s_server serves one client at a time: one for each connection held at once
        try (TlsPeer forOpen = TlsPeer.opensslServer(localhost, "-rev");
             TlsPeer forTunnel = TlsPeer.opensslServer(localhost, "-rev");
             TlsPeer forOthers = TlsPeer.opensslServer(localhost, "-rev");
             TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder()
                     .socket(socket).caFile(pki.caPem())
                     .tunnels(List.of(TunnelConfig.client("out", new InetSocketAddress("127.0.0.1", 0),
                             "localhost:" + forTunnel.port(), null)))
                     .build());
             TlsdClient busy = TlsdClient.builder().socket(socket).appName("busy").build();
             TlsdClient idle = TlsdClient.builder().socket(socket).appName("idle").build();
             Socket through = new Socket(InetAddress.getLoopbackAddress(), daemon.tunnelAddress("out").getPort())) {
            int tunnelPort = daemon.tunnelAddress("out").getPort();
            TlsConnection conn = busy.open("localhost", forOpen.port()).await(T);
            assertEquals("olleh", ReversedLine.through(conn, "hello"));
            assertEquals("olleh", ReversedLine.through(through, "hello"));
            TlsConnection once = idle.open("localhost", forOthers.port()).await(T);
            assertEquals("ecno", ReversedLine.through(once, "once"));
            once.close().await(T); // the idle session holds no connection now

            CompletableFuture<Boolean> drained = drainInBackground(daemon, Duration.ofSeconds(30));
            awaitGone(socket);
            Instant deadline = busy.draining().toCompletableFuture().get(T.toSeconds(), TimeUnit.SECONDS);
            Duration left = Duration.between(Instant.now(), deadline);
            assertTrue(left.compareTo(Duration.ofSeconds(20)) > 0 && left.compareTo(Duration.ofSeconds(30)) <= 0,
                    "told of the drain and its deadline: " + left);
            assertEquals(deadline.getEpochSecond(), idle.draining().toCompletableFuture().get(T.toSeconds(), TimeUnit.SECONDS).getEpochSecond(),
                    1, "a session without connections is told too, before its Goodbye");
            // a successor can take the socket path at once
            try (TlsdDaemon successor = TlsdDaemon.start(DaemonConfig.builder().socket(socket).caFile(pki.caPem())
                    .build());
                 TlsdClient moved = TlsdClient.builder().socket(socket).appName("moved").build()) {
                TlsConnection fresh = moved.open("localhost", forOthers.port()).await(T);
                assertEquals("deeccus", ReversedLine.through(fresh, "succeed"));
                fresh.close().await(T);
            }
            assertThrows(ConnectException.class, () -> new Socket(InetAddress.getLoopbackAddress(), tunnelPort).close(),
                    "the tunnel no longer listens");
            TlsdException refused = assertThrows(TlsdException.class,
                    () -> busy.open("localhost", forOthers.port()).await(T));
            assertEquals(Status.UNAVAILABLE, refused.status(), refused.toString());
            TlsdException ended = assertThrows(TlsdException.class,
                    () -> idle.open("localhost", forOthers.port()).await(T), "a session without connections ends at once");
            assertEquals(Status.UNAVAILABLE, ended.status(), ended.toString());

            // what was under way goes on
            assertEquals("gniniard", ReversedLine.through(conn, "draining"));
            assertEquals("gniniard", ReversedLine.through(through, "draining"));
            assertFalse(drained.isDone(), "it waits for the connections under way");

            conn.close().await(T);
            through.close();
            assertTrue(drained.get(T.toSeconds(), TimeUnit.SECONDS), "drained before its timeout");
        }
    }

    @Test
    void anApplicationToldOfTheDrainMovesItsLongLivedConnectionToTheSuccessor() throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        Path socket = dir.resolve("run/client.sock");
        Issued localhost = pki.issueServer("localhost", "localhost");
        try (TlsPeer first = TlsPeer.opensslServer(localhost, "-rev");
             TlsPeer second = TlsPeer.opensslServer(localhost, "-rev");
             TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder().socket(socket).caFile(pki.caPem()).build());
             TlsdClient client = TlsdClient.builder().socket(socket).appName("pool").build()) {
            // a pool of one keep-alive connection, which follows the daemon when it is replaced
            TlsConnection conn = client.open("localhost", first.port()).await(T);
            assertEquals("evila-peek", ReversedLine.through(conn, "keep-alive"));
            record Moved(TlsdClient client, TlsConnection conn) { }
            // off the SDK's reader thread, as its callbacks must not block
            CompletableFuture<Moved> moved = client.draining().toCompletableFuture().thenApplyAsync(deadline -> {
                try {
                    TlsdClient next = awaitSuccessor(socket);
                    TlsConnection replacement = next.open("localhost", second.port()).await(T);
                    conn.close(); // the old one goes once the new one is up
                    return new Moved(next, replacement);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });

            CompletableFuture<Boolean> drained = drainInBackground(daemon, Duration.ofSeconds(60));
            awaitGone(socket);
            try (TlsdDaemon successor = TlsdDaemon.start(DaemonConfig.builder().socket(socket).caFile(pki.caPem())
                    .build());
                 TlsdClient next = moved.get(T.toSeconds(), TimeUnit.SECONDS).client()) {
                TlsConnection replacement = moved.get().conn();
                assertEquals("devom", ReversedLine.through(replacement, "moved"));
                assertTrue(drained.get(T.toSeconds(), TimeUnit.SECONDS),
                        "the old daemon drained long before its timeout");
                awaitClosed(client);
                replacement.close().await(T);
            }
        }
    }

    /** {@link TlsdDaemon#drain} on another thread: its result, true if drained before the timeout. */
    static CompletableFuture<Boolean> drainInBackground(TlsdDaemon daemon, Duration timeout) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return daemon.drain(timeout);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** Until the SDK has read the Goodbye that ends {@code client}'s session. */
    private static void awaitClosed(TlsdClient client) throws InterruptedException {
        long end = System.nanoTime() + T.toNanos();
        while (!client.isClosed()) {
            if (System.nanoTime() > end) {
                fail(client + " is still open");
            }
            Thread.sleep(10);
        }
    }

    /** A client of the daemon that takes over {@code socket}, once it listens there. */
    private static TlsdClient awaitSuccessor(Path socket) throws TlsdException, InterruptedException {
        long end = System.nanoTime() + T.toNanos();
        while (true) {
            try {
                return TlsdClient.builder().socket(socket).appName("pool").build();
            } catch (TlsdException e) {
                if (System.nanoTime() > end) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    @Test
    void whatIsLeftAtTheTimeoutIsClosed() throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        Path socket = dir.resolve("run/client.sock");
        try (TlsPeer echo = TlsPeer.opensslServer(pki.issueServer("localhost", "localhost"), "-rev");
             TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder().socket(socket).caFile(pki.caPem()).build());
             TlsdClient app = TlsdClient.builder().socket(socket).appName("lingering").build()) {
            TlsConnection conn = app.open("localhost", echo.port()).await(T);
            Operation<byte[]> pending = conn.read(64);
            long start = System.nanoTime();
            assertFalse(daemon.drain(Duration.ofSeconds(1)), "the connection was still open");
            assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(900));
            TlsdException closed = assertThrows(TlsdException.class, () -> pending.await(T));
            assertEquals(Status.UNAVAILABLE, closed.status(), closed.toString());
        }
    }

    @Test
    void aWaitingAcceptFailsAtOnceAndTheServerRoleDrains() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        Issued localhost = pki.issueServer("localhost", "localhost");
        ListenerConfig listener = ListenerConfig.simple("default", ServerDaemonFixture.anyLoopbackPort(),
                localhost.chainPem(), localhost.keyPem());
        try (ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(listener));
             TlsdClient app = fixture.app()) {
            Operation<TlsConnection> waiting = app.accept();
            assertFalse(waiting.isDone());
            long start = System.nanoTime();
            assertTrue(fixture.daemon.drain(Duration.ofSeconds(20)), "nothing under way: drained at once");
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5));
            TlsdException e = assertThrows(TlsdException.class, () -> waiting.await(T));
            assertEquals(Status.UNAVAILABLE, e.status(), e.toString());
        }
    }

    @Test
    void sigtermDrainsTheForegroundDaemonAndItExitsZeroWhenTheLastConnectionEnds() throws Exception {
        withAConnectionThroughATunnel((daemon, through) -> {
            daemon.signal("TERM");
            daemon.awaitLogLine("draining for up to 60000 ms: 0 IPC session(s) and 1 tunnel connection(s)");
            assertEquals("gniniard", ReversedLine.through(through, "draining"));
            assertTrue(daemon.process.isAlive(), "still draining");
        }, daemon -> {
            assertTrue(daemon.process.waitFor(20, TimeUnit.SECONDS), "exits once the connection ended");
            assertEquals(0, daemon.process.exitValue(), daemon.logText());
            assertTrue(daemon.logText().contains("drained: every session and tunnel connection ended"));
        });
    }

    @Test
    void aSecondSigtermStopsAtOnceAndSaysSo() throws Exception {
        withAConnectionThroughATunnel((daemon, through) -> {
            daemon.signal("TERM");
            daemon.awaitLogLine("draining for up to 60000 ms");
            daemon.signal("TERM");
            assertTrue(daemon.process.waitFor(20, TimeUnit.SECONDS), "stops without waiting for the drain");
        }, daemon -> {
            assertEquals(0, daemon.process.exitValue(), daemon.logText());
            String text = daemon.logText();
            assertTrue(text.contains("SIGTERM received again, stopping at once: connections still open are cut"),
                    text);
            assertFalse(text.contains("drained:"), "the drain did not end it: " + text);
        });
    }

    private interface WhileConnected {
        void run(DaemonProcess daemon, Socket through) throws Exception;
    }

    private interface Afterwards {
        void run(DaemonProcess daemon) throws Exception;
    }

    /**
     * A foreground client daemon (`--drain-timeout 60s`) with a tunnel to an `openssl s_server
     * -rev`, and one connection through it that has made a round trip: {@code whileConnected} runs
     * with it, {@code afterwards} once it is closed.
     */
    private void withAConnectionThroughATunnel(WhileConnected whileConnected, Afterwards afterwards)
            throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        int tunnelPort = FreePorts.loopback();
        Path log = dir.resolve("daemon.log");
        try (TlsPeer echo = TlsPeer.opensslServer(pki.issueServer("localhost", "localhost"), "-rev")) {
            try (DaemonProcess daemon = DaemonProcess.start(log, "client",
                    "--socket", dir.resolve("run/client.sock").toString(), "--ca-file", pki.caPem().toString(),
                    "--listen", "127.0.0.1:" + tunnelPort, "--target", "localhost:" + echo.port(),
                    "--drain-timeout", "60s")) {
                daemon.awaitLogLine(DaemonProcess.SIGNALS_CLAIMED);
                try (Socket through = new Socket(InetAddress.getLoopbackAddress(), tunnelPort)) {
                    assertEquals("olleh", ReversedLine.through(through, "hello"));
                    whileConnected.run(daemon, through);
                }
                afterwards.run(daemon);
            }
        }
    }

    private static void awaitGone(Path file) throws InterruptedException {
        long deadline = System.nanoTime() + T.toNanos();
        while (Files.exists(file)) {
            if (System.nanoTime() > deadline) {
                fail(file + " is still there");
            }
            Thread.sleep(10);
        }
    }
}
