package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.metrics.Sample;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reload adds the server role's listeners of new names and removes those whose names are gone:
 * an added one serves ACCEPTs at once; a removed one stops listening, fails the ACCEPTs waiting on
 * it (UNAVAILABLE) and later ones (NOT_FOUND), and leaves the connections applications took alone.
 * One whose address changed moves: it listens on the new address only, and keeps its clients and
 * the ACCEPTs waiting on it.
 */
@Timeout(60)
class ListenerReloadTest {
    private static final Duration T = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    void aReloadAddsAndRemovesListeners() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        ListenerConfig web = ServerDaemonFixture.listener("web",
                ServerDaemonFixture.pem(pki.issueServer("localhost", "localhost"), "localhost"));
        ListenerConfig api = ServerDaemonFixture.listener("api",
                ServerDaemonFixture.pem(pki.issueServer("localhost", "localhost"), "localhost"));
        SSLContext tls = pki.clientContext();
        try (ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(web));
             TlsdClient app = fixture.app()) {
            int webPort = fixture.port("web");
            try (SSLSocket client = overTls(tls, webPort)) {
                TlsConnection taken = app.accept("web").await(T);
                Operation<TlsConnection> waiting = app.accept("web");
                Thread.sleep(300); // it reaches the daemon and waits in the listener

                TlsdDaemon.Reloaded reloaded = fixture.daemon.reload(like(fixture, List.of(api)));

                assertEquals(List.of(), reloaded.notApplied());
                int apiPort = fixture.port("api");
                assertTrue(reloaded.used().contains("listener web removed (1 waiting ACCEPT(s) failed)"),
                        reloaded.used().toString());
                assertTrue(reloaded.used().stream().anyMatch(u -> u.startsWith("listener api added, listening on 127.0.0.1:"
                        + apiPort + " (")), reloaded.used().toString());
                TlsdException failed = assertThrows(TlsdException.class, () -> waiting.await(T));
                assertEquals(Status.UNAVAILABLE, failed.status(), failed.toString());
                TlsdException notFound = assertThrows(TlsdException.class, () -> app.accept("web").await(T));
                assertEquals(Status.NOT_FOUND, notFound.status(), notFound.toString());
                assertThrows(IOException.class, () -> overTls(tls, webPort), "web listens no more");

                // what the application took from web goes on
                taken.write("hi\n".getBytes(US_ASCII)).await(T);
                assertArrayEquals("hi\n".getBytes(US_ASCII), client.getInputStream().readNBytes(3));
                client.getOutputStream().write("yo\n".getBytes(US_ASCII));
                client.getOutputStream().flush();
                assertArrayEquals("yo\n".getBytes(US_ASCII), taken.read(3).await(T));

                Operation<TlsConnection> onApi = app.accept("api");
                try (SSLSocket viaApi = overTls(tls, apiPort)) {
                    TlsConnection conn = onApi.await(T);
                    assertEquals("api", conn.info().listener());
                    conn.close().await(T);
                }
                taken.close().await(T);
            }

            // one that cannot listen fails the reload, and nothing changes
            try (ServerSocket used = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                ListenerConfig blocked = new ListenerConfig("blocked", new InetSocketAddress("127.0.0.1",
                        used.getLocalPort()), web.certificates(), List.of(), web.clientAuth(), null,
                        web.handshakeTimeout(), web.backlog(), web.maxPendingConnections());
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> fixture.daemon.reload(like(fixture, List.of(blocked))));
                assertTrue(e.getMessage().startsWith("listener blocked: cannot listen on 127.0.0.1:" + used.getLocalPort()),
                        e.getMessage());
                fixture.port("api"); // still there
                assertThrows(IllegalArgumentException.class, () -> fixture.port("blocked"));
            }
        }
    }

    @Test
    void aReloadMovesAListenerWithItsClientsAndItsWaitingAccepts() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        ListenerConfig web = ServerDaemonFixture.listener("web",
                ServerDaemonFixture.pem(pki.issueServer("localhost", "localhost"), "localhost"));
        ListenerConfig moved = new ListenerConfig("web", new InetSocketAddress("127.0.0.2", 0), web.certificates(),
                web.alpn(), web.clientAuth(), null, web.handshakeTimeout(), web.backlog(), web.maxPendingConnections());
        SSLContext tls = pki.clientContext();
        try (ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(web));
             TlsdClient app = fixture.app()) {
            int oldPort = fixture.port("web");
            Operation<TlsConnection> waiting = app.accept("web");
            Socket early = new Socket("127.0.0.1", oldPort); // accepted by the old socket; its handshake comes later
            awaitPending(fixture, "web", 1); // taken from the kernel's backlog: a closed socket would reset it there

            TlsdDaemon.Reloaded reloaded = fixture.daemon.reload(like(fixture, List.of(moved)));

            assertEquals(List.of(), reloaded.notApplied());
            int newPort = fixture.port("web");
            assertTrue(reloaded.used().stream().anyMatch(u -> u.startsWith("listener web moved to 127.0.0.2:" + newPort
                    + " (was 127.0.0.1:" + oldPort + ") (")), reloaded.used().toString());
            assertThrows(IOException.class, () -> overTls(tls, "127.0.0.1", oldPort), "the old address listens no more");

            // the client the old socket accepted handshakes now, and the ACCEPT that waited takes it
            try (SSLSocket client = (SSLSocket) tls.getSocketFactory().createSocket(early, "127.0.0.1", oldPort, true)) {
                client.setSoTimeout(10_000);
                client.startHandshake();
                TlsConnection conn = waiting.await(T);
                conn.write("hi\n".getBytes(US_ASCII)).await(T);
                assertArrayEquals("hi\n".getBytes(US_ASCII), client.getInputStream().readNBytes(3));
                conn.close().await(T);
            }
            Operation<TlsConnection> onNew = app.accept("web");
            try (SSLSocket client = overTls(tls, "127.0.0.2", newPort)) {
                TlsConnection conn = onNew.await(T);
                assertEquals("web", conn.info().listener());
                client.getOutputStream().write("yo\n".getBytes(US_ASCII));
                client.getOutputStream().flush();
                assertArrayEquals("yo\n".getBytes(US_ASCII), conn.read(3).await(T));
                conn.close().await(T);
            }

            // a move whose new address is taken fails the reload, and the listener stays where it is
            try (ServerSocket used = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
                ListenerConfig blocked = new ListenerConfig("web", new InetSocketAddress("127.0.0.1", used.getLocalPort()),
                        web.certificates(), web.alpn(), web.clientAuth(), null, web.handshakeTimeout(), web.backlog(),
                        web.maxPendingConnections());
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> fixture.daemon.reload(like(fixture, List.of(blocked))));
                assertTrue(e.getMessage().startsWith("listener web: cannot listen on 127.0.0.1:" + used.getLocalPort()),
                        e.getMessage());
                assertEquals(newPort, fixture.port("web"));
                Operation<TlsConnection> still = app.accept("web");
                try (SSLSocket client = overTls(tls, "127.0.0.2", newPort)) {
                    still.await(T).close().await(T);
                }
            }
        }
    }

    @Test
    void aMoveIsUndoneWhenAnotherListenerCannotListen() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        ListenerConfig web = ServerDaemonFixture.listener("web",
                ServerDaemonFixture.pem(pki.issueServer("localhost", "localhost"), "localhost"));
        int freePort = FreePorts.loopback();
        ListenerConfig moved = new ListenerConfig("web", new InetSocketAddress("127.0.0.2", freePort),
                web.certificates(), web.alpn(), web.clientAuth(), null, web.handshakeTimeout(), web.backlog(),
                web.maxPendingConnections());
        SSLContext tls = pki.clientContext();
        try (ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(web));
             TlsdClient app = fixture.app();
             ServerSocket used = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int oldPort = fixture.port("web");
            ListenerConfig blocked = new ListenerConfig("blocked", new InetSocketAddress("127.0.0.1",
                    used.getLocalPort()), web.certificates(), List.of(), web.clientAuth(), null,
                    web.handshakeTimeout(), web.backlog(), web.maxPendingConnections());

            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> fixture.daemon.reload(like(fixture, List.of(moved, blocked))));

            assertTrue(e.getMessage().startsWith("listener blocked: cannot listen on"), e.getMessage());
            assertEquals(oldPort, fixture.port("web"));
            assertThrows(IOException.class, () -> overTls(tls, "127.0.0.2", freePort), "the new socket was closed again");
            Operation<TlsConnection> onOld = app.accept("web");
            try (SSLSocket client = overTls(tls, oldPort)) {
                onOld.await(T).close().await(T);
            }
            assertEquals(List.of(), fixture.daemon.reload(like(fixture, List.of(moved))).notApplied(),
                    "the next reload moves it");
            assertEquals(freePort, fixture.port("web"));
        }
    }

    /** Waits until {@code listener} has {@code n} clients accepted and not yet taken by an ACCEPT. */
    private static void awaitPending(ServerDaemonFixture fixture, String listener, long n) throws InterruptedException {
        long deadline = System.nanoTime() + T.toNanos();
        while (true) {
            long pending = fixture.daemon.metricSamples().stream()
                    .filter(s -> s.name().equals("tlsd_listener_pending_connections")
                            && listener.equals(s.labels().get("listener")))
                    .mapToLong(Sample::value).findFirst().orElse(-1);
            if (pending == n) {
                return;
            }
            assertTrue(System.nanoTime() < deadline, "pending connections of " + listener + ": " + pending);
            Thread.sleep(10);
        }
    }

    /** The fixture's configuration with {@code listeners} instead of its own. */
    private static DaemonConfig like(ServerDaemonFixture fixture, List<ListenerConfig> listeners) {
        return DaemonConfig.builder().role(DaemonConfig.Role.SERVER).socket(fixture.socket()).listeners(listeners)
                .workerThreads(2).build();
    }

    private static SSLSocket overTls(SSLContext context, int port) throws IOException {
        return overTls(context, "127.0.0.1", port);
    }

    private static SSLSocket overTls(SSLContext context, String host, int port) throws IOException {
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(host, port);
        socket.setSoTimeout(10_000);
        socket.startHandshake();
        return socket;
    }
}
