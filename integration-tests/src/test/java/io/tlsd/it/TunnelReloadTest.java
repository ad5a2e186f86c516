package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.metrics.Sample;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.ServerTlsContexts;
import io.tlsd.daemon.tunnel.TunnelConfig;
import io.tlsd.daemon.tunnel.TunnelSettings;
import io.tlsd.it.tunnel.LogCapture;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reload adds the tunnels of new names and removes those whose names are gone: an added one
 * listens at once; a removed one stops listening, and the connections it carries go on until they
 * end. A tunnel that cannot listen fails the whole reload.
 */
@Timeout(60)
class TunnelReloadTest {
    private static final Duration T = Duration.ofSeconds(20);

    @TempDir
    Path dir;
    TestPki pki;
    /** The server tunnels' certificate. */
    Issued server;
    /** A client that trusts {@link #pki}. */
    SSLContext tls;

    @BeforeEach
    void setUp() {
        pki = ServerDaemonFixture.pki(dir);
        server = pki.issueServer("localhost", "localhost");
        tls = pki.clientContext();
    }

    @Test
    void aServerRoleReloadAddsAndRemovesTunnels() throws Exception {
        try (ServerSocket backend = backend();
             LogCapture log = LogCapture.start()) {
            TunnelConfig a = serverTunnel("a", server, backend.getLocalPort(), ServerDaemonFixture.anyLoopbackPort());
            TunnelConfig b = serverTunnel("b", server, backend.getLocalPort(), ServerDaemonFixture.anyLoopbackPort());
            try (TlsdDaemon daemon = TlsdDaemon.start(serverRole(List.of(a)))) {
                int aPort = daemon.tunnelAddress("a").getPort();
                try (SSLSocket held = overTls(tls, aPort); Socket heldAtBackend = backend.accept()) {
                    roundTrip(held, heldAtBackend);

                    TlsdDaemon.Reloaded added = daemon.reload(serverRole(List.of(a, b)));
                    assertEquals(List.of(), added.notApplied());
                    int bPort = daemon.tunnelAddress("b").getPort();
                    assertTrue(added.used().stream().anyMatch(u -> u.startsWith("tunnel b added, listening on 127.0.0.1:"
                            + bPort + " (")), added.used().toString());
                    try (SSLSocket viaB = overTls(tls, bPort); Socket bAtBackend = backend.accept()) {
                        roundTrip(viaB, bAtBackend);
                    }
                    assertEquals(Set.of("a", "b"), tunnelsInMetrics(daemon));

                    TlsdDaemon.Reloaded removed = daemon.reload(serverRole(List.of(b)));
                    assertEquals(List.of(), removed.notApplied());
                    assertTrue(removed.used().contains("tunnel a removed (1 connection(s) may finish)"),
                            removed.used().toString());
                    assertThrows(IOException.class, () -> overTls(tls, aPort), "a listens no more");
                    assertThrows(IllegalArgumentException.class, () -> daemon.tunnelAddress("a"));
                    roundTrip(held, heldAtBackend); // but what it carries goes on
                    assertEquals(Set.of("b"), tunnelsInMetrics(daemon));
                    assertEquals(1L, removedTunnelConnections(daemon));
                }
                assertTrue(log.awaitLine("tunnel a: closed, its last connection ended", T) != null, log.text());
                assertEquals(0L, removedTunnelConnections(daemon));

                // a tunnel that cannot listen fails the reload, and nothing of it is applied
                try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                    TunnelConfig c = serverTunnel("c", server, backend.getLocalPort(),
                            new InetSocketAddress("127.0.0.1", taken.getLocalPort()));
                    TunnelConfig d = serverTunnel("d", server, backend.getLocalPort(), ServerDaemonFixture.anyLoopbackPort());
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> daemon.reload(serverRole(List.of(d, c))));
                    assertTrue(e.getMessage().startsWith("tunnel c: cannot listen on 127.0.0.1:" + taken.getLocalPort()),
                            e.getMessage());
                    assertThrows(IllegalArgumentException.class, () -> daemon.tunnelAddress("d"), "d was closed again");
                    assertEquals(Set.of("b"), tunnelsInMetrics(daemon));
                }
                try (SSLSocket viaB = overTls(tls, daemon.tunnelAddress("b").getPort());
                     Socket bAtBackend = backend.accept()) {
                    roundTrip(viaB, bAtBackend);
                }
            }
        }
    }

    @Test
    void aClientRoleReloadAddsAndRemovesTunnels() throws Exception {
        try (ServerSocket backend = backend();
             TlsdDaemon serverSide = TlsdDaemon.start(serverRole(List.of(
                     serverTunnel("in", server, backend.getLocalPort(), ServerDaemonFixture.anyLoopbackPort()))))) {
            String target = "127.0.0.1:" + serverSide.tunnelAddress("in").getPort();
            DaemonConfig.Builder client = DaemonConfig.builder().socket(dir.resolve("client.sock")).caFile(pki.caPem());
            try (TlsdDaemon daemon = TlsdDaemon.start(client.tunnels(List.of()).build())) {
                TunnelConfig out = TunnelConfig.client("out", ServerDaemonFixture.anyLoopbackPort(), target, "localhost");
                TlsdDaemon.Reloaded added = daemon.reload(client.tunnels(List.of(out)).build());
                assertEquals(List.of(), added.notApplied());
                int outPort = daemon.tunnelAddress("out").getPort();
                try (Socket plain = new Socket(InetAddress.getLoopbackAddress(), outPort);
                     Socket atBackend = backend.accept()) {
                    plain.setSoTimeout(10_000);
                    roundTrip(plain, atBackend);
                    TlsdDaemon.Reloaded removed = daemon.reload(client.tunnels(List.of()).build());
                    assertTrue(removed.used().contains("tunnel out removed (1 connection(s) may finish)"),
                            removed.used().toString());
                    assertThrows(IOException.class, () -> {
                        try (Socket refused = new Socket(InetAddress.getLoopbackAddress(), outPort)) {
                            refused.getInputStream().read();
                        }
                    });
                    roundTrip(plain, atBackend);
                }
            }
        }
    }

    /**
     * A tunnel whose listen address changed is replaced: the new one listens on the new address,
     * the old one stops listening, and the connections it carries go on.
     */
    @Test
    void aTunnelMovedToAnotherAddressIsReplaced() throws Exception {
        try (ServerSocket backend = backend();
             LogCapture log = LogCapture.start()) {
            TunnelConfig a = serverTunnel("a", server, backend.getLocalPort(), ServerDaemonFixture.anyLoopbackPort());
            try (TlsdDaemon daemon = TlsdDaemon.start(serverRole(List.of(a)))) {
                int oldPort = daemon.tunnelAddress("a").getPort();
                int newPort = freePortOtherThan(oldPort);
                TunnelConfig moved = serverTunnel("a", server, backend.getLocalPort(),
                        new InetSocketAddress("127.0.0.1", newPort));
                try (SSLSocket held = overTls(tls, oldPort); Socket heldAtBackend = backend.accept()) {
                    roundTrip(held, heldAtBackend);

                    TlsdDaemon.Reloaded reloaded = daemon.reload(serverRole(List.of(moved)));

                    assertEquals(List.of(), reloaded.notApplied());
                    assertTrue(reloaded.used().stream().anyMatch(u -> u.startsWith(
                            "tunnel a replaced, listening on 127.0.0.1:" + newPort + " (")), reloaded.used().toString());
                    assertTrue(reloaded.used().contains("tunnel a: the one replaced stopped listening on 127.0.0.1:"
                            + oldPort + " (1 connection(s) may finish)"), reloaded.used().toString());
                    assertEquals(newPort, daemon.tunnelAddress("a").getPort());
                    assertThrows(IOException.class, () -> overTls(tls, oldPort), "the old address listens no more");
                    try (SSLSocket viaNew = overTls(tls, newPort); Socket newAtBackend = backend.accept()) {
                        roundTrip(viaNew, newAtBackend);
                    }
                    roundTrip(held, heldAtBackend); // the old one's connection goes on
                    assertEquals(1L, removedTunnelConnections(daemon));
                    assertEquals(Set.of("a"), tunnelsInMetrics(daemon));
                    held.close();
                    heldAtBackend.close();
                    assertTrue(log.awaitLine("tunnel a (the one replaced, on 127.0.0.1:" + oldPort
                            + "): closed, its last connection ended", T) != null, log.text());
                    assertEquals(newPort, daemon.tunnelAddress("a").getPort(), "the new one listens on");
                }
            }
        }
    }

    /** A plain backend on loopback whose accept gives up after 10 s. */
    private static ServerSocket backend() throws IOException {
        ServerSocket backend = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        backend.setSoTimeout(10_000);
        return backend;
    }

    /** A free loopback port, not {@code taken}. */
    private static int freePortOtherThan(int taken) {
        int port;
        do {
            port = io.tlsd.testing.FreePorts.loopback();
        } while (port == taken);
        return port;
    }

    /** A drain waits for the connections of a tunnel a reload removed, and refuses reloads meanwhile. */
    @Test
    void aDrainWaitsForARemovedTunnelsConnections() throws Exception {
        try (ServerSocket backend = backend()) {
            TunnelConfig a = serverTunnel("a", server, backend.getLocalPort(), ServerDaemonFixture.anyLoopbackPort());
            TunnelConfig b = serverTunnel("b", server, backend.getLocalPort(), ServerDaemonFixture.anyLoopbackPort());
            TlsdDaemon daemon = TlsdDaemon.start(serverRole(List.of(a, b)));
            try (SSLSocket held = overTls(tls, daemon.tunnelAddress("a").getPort());
                 Socket heldAtBackend = backend.accept()) {
                roundTrip(held, heldAtBackend);
                daemon.reload(serverRole(List.of(b)));

                java.util.concurrent.CompletableFuture<Boolean> drained = java.util.concurrent.CompletableFuture
                        .supplyAsync(() -> {
                            try {
                                return daemon.drain(Duration.ofSeconds(20));
                            } catch (InterruptedException e) {
                                throw new IllegalStateException(e);
                            }
                        });
                Thread.sleep(500);
                assertFalse(drained.isDone(), "the removed tunnel's connection is still up");
                IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                        () -> daemon.reload(serverRole(List.of(a, b))));
                assertEquals("the daemon is stopping: nothing reloaded", refused.getMessage());
                roundTrip(held, heldAtBackend);
                held.close(); // both ends close it (each close goes through as a half-close)
                heldAtBackend.close();
                assertTrue(drained.get(20, java.util.concurrent.TimeUnit.SECONDS), "ended within the drain");
            } finally {
                daemon.close();
            }
        }
    }

    /**
     * A client tunnel's target and server name are taken by a reload: connections accepted after
     * it go to the new target; those up already stay with the old one.
     */
    @Test
    void aClientTunnelsTargetIsTakenByAReload() throws Exception {
        Issued other = pki.issueServer("other.test", "other.test");
        try (ServerSocket oldBackend = backend();
             ServerSocket newBackend = backend();
             TlsdDaemon serverSide = TlsdDaemon.start(serverRole(List.of(
                     serverTunnel("old", server, oldBackend.getLocalPort(), ServerDaemonFixture.anyLoopbackPort()),
                     serverTunnel("new", other, newBackend.getLocalPort(), ServerDaemonFixture.anyLoopbackPort()))))) {
            String oldTarget = "127.0.0.1:" + serverSide.tunnelAddress("old").getPort();
            String newTarget = "127.0.0.1:" + serverSide.tunnelAddress("new").getPort();
            DaemonConfig.Builder client = DaemonConfig.builder().socket(dir.resolve("client.sock")).caFile(pki.caPem());
            TunnelConfig out = TunnelConfig.client("out", ServerDaemonFixture.anyLoopbackPort(), oldTarget, "localhost");
            try (TlsdDaemon daemon = TlsdDaemon.start(client.tunnels(List.of(out)).build());
                 LogCapture log = LogCapture.start()) {
                int outPort = daemon.tunnelAddress("out").getPort();
                try (Socket before = new Socket(InetAddress.getLoopbackAddress(), outPort);
                     Socket beforeAtBackend = oldBackend.accept()) {
                    before.setSoTimeout(10_000);
                    roundTrip(before, beforeAtBackend);

                    TunnelConfig moved = TunnelConfig.client("out", out.listen(), newTarget, "other.test");
                    TlsdDaemon.Reloaded reloaded = daemon.reload(client.tunnels(List.of(moved)).build());
                    assertEquals(List.of(), reloaded.notApplied());
                    assertTrue(log.awaitLine("tunnel out: target " + newTarget + " (TLS server name other.test) from now on",
                            T) != null, log.text());
                    assertEquals(outPort, daemon.tunnelAddress("out").getPort(), "the same listening socket");
                    try (Socket after = new Socket(InetAddress.getLoopbackAddress(), outPort);
                         Socket afterAtBackend = newBackend.accept()) {
                        after.setSoTimeout(10_000);
                        roundTrip(after, afterAtBackend);
                    }
                    roundTrip(before, beforeAtBackend); // still to the old target
                }

                // a target that cannot be one fails the reload before anything of it is applied
                TunnelConfig extra = TunnelConfig.client("extra", ServerDaemonFixture.anyLoopbackPort(), newTarget,
                        "other.test");
                TunnelConfig nowhere = TunnelConfig.client("out", out.listen(), "127.0.0.1:0", "localhost");
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> daemon.reload(client.tunnels(List.of(nowhere, extra)).build()));
                assertTrue(e.getMessage().startsWith("tunnel out: "), e.getMessage());
                assertThrows(IllegalArgumentException.class, () -> daemon.tunnelAddress("extra"), "not added");
                try (Socket still = new Socket(InetAddress.getLoopbackAddress(), outPort);
                     Socket stillAtBackend = newBackend.accept()) {
                    still.setSoTimeout(10_000);
                    roundTrip(still, stillAtBackend);
                }
            }
        }
    }

    private static DaemonConfig serverRole(List<TunnelConfig> tunnels) {
        return DaemonConfig.builder().role(DaemonConfig.Role.SERVER).ipcEnabled(false).tunnels(tunnels).build();
    }

    private static TunnelConfig serverTunnel(String name, Issued server, int backendPort, InetSocketAddress listen) {
        return new TunnelConfig(name, listen, "127.0.0.1:" + backendPort, null,
                ListenerConfig.CertificateSpec.pem(List.of(), server.chainPem(), server.keyPem(), null),
                List.of(), ServerTlsContexts.ClientAuthPolicy.NONE, null, false, Duration.ofMinutes(1),
                TunnelSettings.DEFAULT_MAX_CONNECTIONS, null, false, 0, List.of(), null, null, List.of(), null, null,
                null);
    }

    private static long removedTunnelConnections(TlsdDaemon daemon) {
        return daemon.metricSamples().stream().filter(m -> m.name().equals("tlsd_removed_tunnel_connections"))
                .mapToLong(Sample::value).sum();
    }

    private static Set<String> tunnelsInMetrics(TlsdDaemon daemon) {
        return daemon.metricSamples().stream().filter(m -> m.name().equals("tlsd_tunnel_connections"))
                .map(m -> m.labels().get("tunnel")).collect(Collectors.toSet());
    }

    private static SSLSocket overTls(SSLContext context, int port) throws IOException {
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), port);
        socket.setSoTimeout(10_000);
        socket.startHandshake();
        return socket;
    }

    /** A line from the client side to the backend's side and one back. */
    private static void roundTrip(Socket client, Socket atBackend) throws IOException {
        atBackend.setSoTimeout(10_000);
        client.getOutputStream().write("ping\n".getBytes(US_ASCII));
        client.getOutputStream().flush();
        assertEquals("ping\n", new String(atBackend.getInputStream().readNBytes(5), US_ASCII));
        atBackend.getOutputStream().write("pong\n".getBytes(US_ASCII));
        assertEquals("pong\n", new String(client.getInputStream().readNBytes(5), US_ASCII));
    }
}
