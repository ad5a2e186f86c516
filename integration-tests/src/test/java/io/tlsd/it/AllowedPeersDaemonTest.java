package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.security.auth.module.UnixSystem;
import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.ipc.AllowedPeers;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code allowed_peers}: the daemon checks the user and primary group the kernel reports for the
 * process that connects (SO_PEERCRED), on top of the socket file's mode. This test's own process
 * is the peer.
 */
class AllowedPeersDaemonTest {
    private static final UnixSystem ME = new UnixSystem();

    @TempDir
    Path dir;

    @Test
    void aProcessOfAnAllowedUserOrGroupGetsASession() throws Exception {
        for (AllowedPeers allowed : List.of(AllowedPeers.of(List.of((int) ME.getUid()), List.of()),
                AllowedPeers.of(List.of((int) ME.getUid() + 1), List.of((int) ME.getGid())))) {
            Path socket = dir.resolve("allowed-" + System.nanoTime() + ".sock");
            try (TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder().socket(socket).allowedPeers(allowed).build());
                 TlsdClient app = TlsdClient.builder().socket(socket).appName("allowed").build()) {
                assertEquals("client", app.role(), allowed.describe());
                assertEquals(0, metric(daemon, "tlsd_sessions_refused_total"));
            }
        }
    }

    @Test
    void anyOtherProcessIsToldItIsNotAllowed() throws Exception {
        AllowedPeers others = AllowedPeers.of(List.of((int) ME.getUid() + 1), List.of((int) ME.getGid() + 1));
        Path socket = dir.resolve("client.sock");
        try (TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder().socket(socket).allowedPeers(others).build())) {
            TlsdException refused = assertThrows(TlsdException.class,
                    () -> TlsdClient.builder().socket(socket).appName("intruder").build().close());
            assertEquals(Status.UNAUTHORIZED, refused.status());
            assertEquals("uid " + ME.getUid() + " gid " + ME.getGid() + " may not use this tlsd socket (allowed_peers)",
                    refused.detail());
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (sessions(daemon) != 0 && System.nanoTime() < end) {
                Thread.sleep(10); // the daemon closes its side right after the Goodbye
            }
            assertEquals(0, sessions(daemon), "nothing of it is left");
            assertEquals(1, metric(daemon, "tlsd_sessions_refused_total"));
        }
    }

    private static long sessions(TlsdDaemon daemon) {
        return metric(daemon, "tlsd_sessions");
    }

    private static long metric(TlsdDaemon daemon, String name) {
        return daemon.metricSamples().stream().filter(s -> s.name().equals(name)).mapToLong(s -> s.value()).sum();
    }

    /**
     * A listener's own {@code allowed_peers}: only the processes it lists may ACCEPT on it, so that
     * applications sharing a server daemon do not take each other's clients.
     */
    @Test
    void aListenerLetsOnlyItsOwnProcessesAcceptOnIt() throws Exception {
        io.tlsd.testing.TestPki pki = ServerDaemonFixture.pki(dir);
        ListenerConfig mine = listener(pki, "mine", MINE);
        ListenerConfig theirs = listener(pki, "theirs", THEIRS);
        try (ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(mine, theirs));
             TlsdClient app = fixture.app()) {
            TlsdException refused = assertThrows(TlsdException.class,
                    () -> app.accept("theirs").await(Duration.ofSeconds(10)));
            assertEquals(Status.UNAUTHORIZED, refused.status());
            assertEquals("uid " + ME.getUid() + " gid " + ME.getGid()
                    + " may not accept on listener 'theirs' (its allowed_peers)", refused.detail());

            io.tlsd.sdk.Operation<io.tlsd.sdk.TlsConnection> accepted = app.accept("mine");
            try (TlsClientProcess client = TlsClientProcess.opensslClient(fixture.port("mine"), pki.caPem(),
                    "-servername", "localhost", "-quiet")) {
                io.tlsd.sdk.TlsConnection conn = accepted.await(Duration.ofSeconds(10));
                conn.write("mine\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).await();
                conn.close().await();
                client.await();
                assertEquals("mine\n", client.stdout());
            }
        }
    }

    @Test
    void anAcceptWaitingFromAProcessAReloadNoLongerAllowsFails() throws Exception {
        ListenerConfig mine = listener(ServerDaemonFixture.pki(dir), "web", MINE);
        try (ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(mine));
             TlsdClient app = fixture.app()) {
            io.tlsd.sdk.Operation<io.tlsd.sdk.TlsConnection> waiting = app.accept("web");
            Thread.sleep(200); // it waits in the listener
            io.tlsd.daemon.DaemonConfig running = fixture.daemon.config();
            ListenerConfig others = withPeers(running.listeners().get(0), THEIRS);
            fixture.daemon.reload(running.toBuilder().listeners(List.of(others)).build());
            TlsdException refused = assertThrows(TlsdException.class, () -> waiting.await(Duration.ofSeconds(10)));
            assertEquals(Status.UNAUTHORIZED, refused.status());
            assertEquals("this process may no longer accept on listener 'web' (its allowed_peers changed)",
                    refused.detail());
        }
    }

    /** This test's process, by its uid. */
    private static final AllowedPeers MINE = AllowedPeers.of(List.of((int) ME.getUid()), List.of());
    /** Other processes: neither this test's uid nor its gid. */
    private static final AllowedPeers THEIRS =
            AllowedPeers.of(List.of((int) ME.getUid() + 1), List.of((int) ME.getGid() + 1));

    /** A listener on a free loopback port with a certificate for localhost, for {@code peers}. */
    private static ListenerConfig listener(io.tlsd.testing.TestPki pki, String name, AllowedPeers peers) {
        return withPeers(ServerDaemonFixture.listener(name,
                ServerDaemonFixture.pem(pki.issueServer("localhost", "localhost"), "localhost")), peers);
    }

    private static ListenerConfig withPeers(ListenerConfig l, AllowedPeers peers) {
        return new ListenerConfig(l.name(), l.address(), l.certificates(), l.alpn(), l.clientAuth(), l.clientCaFile(),
                l.handshakeTimeout(), l.backlog(), l.maxPendingConnections(), l.maxPendingConnectionsPerClient(),
                l.clientCrlFile(), l.allowedClients(), peers);
    }

    @Test
    void theNioTransportCannotTellAndRefusesToStart() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TlsdDaemon.start(DaemonConfig.builder().socket(dir.resolve("nio.sock")).transport("nio")
                        .allowedPeers(AllowedPeers.of(List.of(1000), List.of())).build()).close());
        assertTrue(e.getMessage().startsWith("allowed_peers needs the epoll transport"), e.getMessage());
    }
}
