package io.tlsd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.AllowedIdentities;
import io.tlsd.daemon.tls.ServerTlsContexts;
import io.tlsd.daemon.transport.ProxySources;
import io.tlsd.daemon.tunnel.TunnelConfig;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What a reload takes from a configuration read again, and what it leaves for a restart. */
class ConfigReloadTest {
    private static final Path CA = Path.of("/etc/tlsd/ca.pem");
    private static final AllowedIdentities ONLY_API =
            new AllowedIdentities(List.of(), List.of(), List.of("spiffe://example.org/api"));

    private static TunnelConfig clientTunnel(String name, int port, String serverName) {
        return TunnelConfig.client(name, new InetSocketAddress("127.0.0.1", port), "api.internal:443", serverName);
    }

    /** A listener for 127.0.0.1:{@code port}, its certificate from a.pem and a.key. */
    private static ListenerConfig listener(String name, int port) {
        return ListenerConfig.simple(name, new InetSocketAddress("127.0.0.1", port), Path.of("a.pem"), Path.of("a.key"));
    }

    private static DaemonConfig.Builder client(TunnelConfig... tunnels) {
        return DaemonConfig.builder().socket(Path.of("/run/tlsd/client.sock")).tunnels(List.of(tunnels));
    }

    private static TunnelConfig withTrust(TunnelConfig t, List<String> alpn, AllowedIdentities allowedServers) {
        return new TunnelConfig(t.name(), t.listen(), t.target(), t.serverName(), null, alpn, t.clientAuth(), null,
                false, t.idleTimeout(), t.maxConnections(), CA, t.accessLog(), 0, List.of(), null, null, List.of(),
                null, allowedServers);
    }

    @Test
    void theClientRolesTrustAndATunnelsAllowedServersAreTakenTheRestIsListed() {
        DaemonConfig running = client(clientTunnel("api", 7000, null), clientTunnel("old", 7001, null),
                clientTunnel("moved", 7002, null)).build();
        TunnelConfig api = withTrust(clientTunnel("api", 7000, null), List.of("h2"), ONLY_API);
        TunnelConfig moved = withTrust(clientTunnel("moved", 7102, "moved.example"), List.of(), ONLY_API);
        DaemonConfig next = client(api, moved, clientTunnel("new", 7003, null)).caFile(CA)
                .workerThreads(running.workerThreads() + 1)
                .maxHandshakesInFlight(3).signing(io.tlsd.daemon.tls.signing.SigningPolicy.parse("off-loop")).build();

        ConfigReload reload = ConfigReload.of(running, next);

        assertEquals(List.of("worker_threads", "max_handshakes_in_flight"), reload.notApplied(),
                "tls.signing is the server role's");
        DaemonConfig applied = reload.applied();
        assertEquals(CA, applied.caFile());
        assertEquals(running.workerThreads(), applied.workerThreads());
        assertEquals(List.of(api, moved, next.tunnels().get(2)), applied.tunnels(),
                "api takes its new trust settings; moved is replaced, on its new address; new is added");
        assertEquals(Set.of("moved"), reload.replacedTunnels());
        assertEquals(Set.of("old"), reload.removedTunnels());
        assertEquals(Set.of("new"), reload.addedTunnels());
        assertEquals(Set.of(), reload.heldTunnels());
    }

    @Test
    void aTunnelThatNeedsANewSocketWhereItListensWaitsAndSoDoTheOthers() {
        DaemonConfig running = client(clientTunnel("api", 7000, null), clientTunnel("old", 7001, null)).build();
        // an unnamed tunnel removed ahead of another: the second takes the first one's name and place
        DaemonConfig shifted = client(clientTunnel("api", 7001, null)).build();

        ConfigReload reload = ConfigReload.of(running, shifted);

        assertEquals(List.of("tunnel api: listen (waits for a restart: tunnel api would listen where tunnel old does)",
                "tunnel old removed (waits for a restart: tunnel api would listen where tunnel old does)"),
                reload.notApplied());
        assertEquals(running.tunnels(), reload.applied().tunnels(), "as they run");
        assertEquals(Set.of(), reload.replacedTunnels());

        // a change a running tunnel cannot take, on the address it listens on
        DaemonConfig.Builder server = DaemonConfig.builder().role(DaemonConfig.Role.SERVER).ipcEnabled(false);
        reload = ConfigReload.of(server.tunnels(List.of(serverTunnel("web", 8443, false), serverTunnel("a", 8444, false)))
                .build(), server.tunnels(List.of(serverTunnel("web", 8443, true))).build());
        String waits = " (waits for a restart: tunnel web needs a new socket on the address it listens on)";
        assertEquals(List.of("tunnel web: proxy_protocol" + waits, "tunnel a removed" + waits), reload.notApplied());
        assertEquals(Set.of("web", "a"), reload.heldTunnels());
    }

    private static TunnelConfig serverTunnel(String name, int port, boolean proxyProtocol) {
        return new TunnelConfig(name, new InetSocketAddress("127.0.0.1", port), "127.0.0.1:8080", null,
                ListenerConfig.CertificateSpec.pem(List.of(), Path.of("a.pem"), Path.of("a.key"), null), List.of(),
                ServerTlsContexts.ClientAuthPolicy.NONE, null, proxyProtocol, java.time.Duration.ofMinutes(1), 4096,
                null, false, 0, List.of(), null, null, List.of(), null, null, null);
    }

    @Test
    void tunnelsOfNewNamesAreAddedAndThoseWhoseNamesAreGoneRemoved() {
        DaemonConfig running = client(clientTunnel("api", 7000, null), clientTunnel("old", 7001, null)).build();
        TunnelConfig api = withTrust(clientTunnel("api", 7000, null), List.of("h2"), ONLY_API);
        TunnelConfig added = clientTunnel("new", 7003, null);

        ConfigReload reload = ConfigReload.of(running, client(added, api).build());

        assertEquals(List.of(), reload.notApplied());
        assertEquals(List.of(added, api), reload.applied().tunnels(), "in the file's order");
        assertEquals(Set.of("new"), reload.addedTunnels());
        assertEquals(Set.of("old"), reload.removedTunnels());
        assertEquals(Set.of(), reload.heldTunnels());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigReload.of(running,
                client(clientTunnel("api", 7000, null), clientTunnel("old", 7001, null), new TunnelConfig("in",
                        new InetSocketAddress("127.0.0.1", 7004), "127.0.0.1:8080", null,
                        ListenerConfig.CertificateSpec.pem(List.of(), Path.of("a.pem"), Path.of("a.key"), null),
                        List.of(), ServerTlsContexts.ClientAuthPolicy.NONE, null, true, java.time.Duration.ofMinutes(1),
                        4096, null, false, 0, List.of(), null, null, List.of(), null, null, null)).build()));
        assertEquals("tunnel in: proxy_protocol applies to server-role tunnels only", e.getMessage(),
                "an added tunnel is checked for the role as a running one is");
    }

    @Test
    void aTunnelAddedWhereARemovedOneListensWaitsWithItForARestart() {
        DaemonConfig running = client(clientTunnel("api", 7000, null), clientTunnel("old", 7001, null),
                clientTunnel("gone", 7002, null)).build();
        TunnelConfig renamed = clientTunnel("web", 7001, null);
        TunnelConfig added = clientTunnel("new", 7003, null);

        ConfigReload reload = ConfigReload.of(running, client(renamed, clientTunnel("api", 7000, null), added).build());

        String waits = " (waits for a restart: tunnel web would listen where tunnel old does)";
        assertEquals(List.of("tunnel old removed" + waits, "tunnel gone removed" + waits, "tunnel web added" + waits,
                "tunnel new added" + waits), reload.notApplied());
        assertEquals(Set.of("old", "gone"), reload.heldTunnels());
        assertEquals(Set.of(), reload.addedTunnels(), "nothing added or removed while a rename waits");
        assertEquals(Set.of(), reload.removedTunnels());
        assertEquals(List.of(running.tunnels().get(0), running.tunnels().get(1), running.tunnels().get(2)),
                reload.applied().tunnels(), "in the file's order, those it no longer has last");
    }

    @Test
    void aRenameIsTheSamePortOnTheSameAddressOrAWildcard() {
        InetSocketAddress any = new InetSocketAddress(7001);
        InetSocketAddress loopback = new InetSocketAddress("127.0.0.1", 7001);
        assertEquals(true, ConfigReload.sameListeningSocket(any, loopback));
        assertEquals(true, ConfigReload.sameListeningSocket(loopback, new InetSocketAddress("127.0.0.1", 7001)));
        assertEquals(true, ConfigReload.sameListeningSocket(new InetSocketAddress("::", 7001), loopback));
        assertEquals(false, ConfigReload.sameListeningSocket(loopback, new InetSocketAddress("127.0.0.2", 7001)));
        assertEquals(false, ConfigReload.sameListeningSocket(loopback, new InetSocketAddress("127.0.0.1", 7002)));
        assertEquals(false, ConfigReload.sameListeningSocket(new InetSocketAddress("127.0.0.1", 0),
                new InetSocketAddress("127.0.0.1", 0)), "port 0 picks a free port each time");
    }

    @Test
    void listenersOfNewNamesAreAddedAndThoseWhoseNamesAreGoneRemoved() {
        ListenerConfig api = listener("api", 8443);
        ListenerConfig admin = listener("admin", 8444);
        ListenerConfig web = listener("web", 8445);
        DaemonConfig.Builder server = DaemonConfig.builder().role(DaemonConfig.Role.SERVER)
                .socket(Path.of("/run/tlsd/server.sock"));

        ConfigReload reload = ConfigReload.of(server.listeners(List.of(api, admin)).build(),
                server.listeners(List.of(web, api)).build());

        assertEquals(List.of(), reload.notApplied());
        assertEquals(List.of(web, api), reload.applied().listeners());
        assertEquals(Set.of("web"), reload.addedListeners());
        assertEquals(Set.of("admin"), reload.removedListeners());

        ListenerConfig adminRenamed = listener("ops", admin.address().getPort());
        reload = ConfigReload.of(server.listeners(List.of(api, admin)).build(),
                server.listeners(List.of(api, adminRenamed)).build());
        String waits = " (waits for a restart: listener ops would listen where listener admin does)";
        assertEquals(List.of("listener admin removed" + waits, "listener ops added" + waits), reload.notApplied());
    }

    @Test
    void aListenersLoadBalancersAreTaken() {
        ListenerConfig api = listener("api", 8443);
        ListenerConfig behind = new ListenerConfig(api.name(), api.address(), api.certificates(), api.alpn(),
                api.clientAuth(), api.clientCaFile(), api.handshakeTimeout(), api.backlog(),
                api.maxPendingConnections(), 0, null, null, null, ProxySources.of(List.of("10.0.0.0/8")));
        DaemonConfig.Builder server = DaemonConfig.builder().role(DaemonConfig.Role.SERVER)
                .socket(Path.of("/run/tlsd/server.sock"));

        ConfigReload reload = ConfigReload.of(server.listeners(List.of(api)).build(),
                server.listeners(List.of(behind)).build());

        assertEquals(List.of(), reload.notApplied());
        assertEquals(List.of(behind), reload.applied().listeners());
    }

    @Test
    void theSessionLimitsAreTaken() {
        DaemonConfig running = client().build();
        SessionLimits fewerOps = new SessionLimits(1 << 20, 1 << 20, 16, 64L << 20, 1024, 256 << 10);
        ConfigReload reload = ConfigReload.of(running, client().maxSessions(512).maxSessionsPerUid(8).limits(fewerOps)
                .build());
        assertEquals(List.of(), reload.notApplied());
        assertEquals(512, reload.applied().maxSessions());
        assertEquals(8, reload.applied().maxSessionsPerUid());
        assertEquals(fewerOps, reload.applied().limits());
    }

    @Test
    void aListenersClientSettingsAreTakenAndOneWhoseAddressChangedMoves() {
        ListenerConfig api = listener("api", 8443);
        ListenerConfig admin = listener("admin", 8444);
        ListenerConfig apiNext = new ListenerConfig("api", api.address(),
                List.of(ListenerConfig.CertificateSpec.pem(List.of(), Path.of("b.pem"), Path.of("b.key"), null)),
                List.of("h2"), ServerTlsContexts.ClientAuthPolicy.REQUIRED, CA, api.handshakeTimeout(), api.backlog(),
                api.maxPendingConnections(), 0, null, ONLY_API);
        ListenerConfig adminNext = new ListenerConfig("admin", new InetSocketAddress("127.0.0.1", 9444),
                admin.certificates(), List.of(), ServerTlsContexts.ClientAuthPolicy.REQUIRED, CA,
                admin.handshakeTimeout(), 8, admin.maxPendingConnections(), 0, null, ONLY_API);
        DaemonConfig.Builder server = DaemonConfig.builder().role(DaemonConfig.Role.SERVER)
                .socket(Path.of("/run/tlsd/server.sock"));

        ConfigReload reload = ConfigReload.of(server.listeners(List.of(api, admin)).build(),
                server.listeners(List.of(apiNext, adminNext)).sendBufferBytes(1 << 20).build());

        assertEquals(List.of(), reload.notApplied(), "send_buffer is the client role's");
        assertEquals(List.of(apiNext, adminNext), reload.applied().listeners());
        assertEquals(Set.of("admin"), reload.movedListeners());
        assertEquals(Set.of(), reload.heldListeners());

        // the same port on the wildcard address: the old socket would keep the new one from listening
        ListenerConfig adminEverywhere = new ListenerConfig("admin", new InetSocketAddress(8444), admin.certificates(),
                List.of("h2"), admin.clientAuth(), admin.clientCaFile(), admin.handshakeTimeout(), admin.backlog(),
                admin.maxPendingConnections(), 0, null, null);
        ListenerConfig web = listener("web", 8445);
        reload = ConfigReload.of(server.listeners(List.of(api, admin)).build(),
                server.listeners(List.of(api, adminEverywhere, web)).build());
        String waits = " (waits for a restart: listener admin needs a new socket on the address it listens on)";
        assertEquals(List.of("listener admin: address (its other changes wait with it)" + waits,
                "listener web added" + waits), reload.notApplied());
        assertEquals(List.of(api, admin), reload.applied().listeners());
        assertEquals(Set.of("admin"), reload.heldListeners());
        assertEquals(Set.of(), reload.movedListeners());
        assertEquals(Set.of(), reload.addedListeners());
    }

    @Test
    void listenersAndTunnelsAreToldApartByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> client(clientTunnel("api", 7000, null), clientTunnel("api", 7001, null)).build());
        assertEquals("two tunnels are named 'api' (a tunnel without a name is named tunnel-N, N its place in the list)",
                e.getMessage());
    }

    @Test
    void aConfigurationOfTheOtherRoleOrWithSettingsOfTheOtherRoleIsRefused() {
        DaemonConfig running = client(clientTunnel("api", 7000, null)).build();
        IllegalArgumentException role = assertThrows(IllegalArgumentException.class, () -> ConfigReload.of(running,
                running.toBuilder().role(DaemonConfig.Role.SERVER).tunnels(List.of()).ipcEnabled(true)
                        .listeners(List.of(ListenerConfig.simple("a", new InetSocketAddress(0), CA, CA))).build()));
        assertEquals("the configuration is for the server role, the daemon runs the client role", role.getMessage());

        TunnelConfig api = clientTunnel("api", 7000, null);
        TunnelConfig withClientCa = new TunnelConfig(api.name(), api.listen(), api.target(), null, null, List.of(),
                api.clientAuth(), CA, false, api.idleTimeout(), api.maxConnections(), null);
        IllegalArgumentException misplaced = assertThrows(IllegalArgumentException.class,
                () -> ConfigReload.of(running, client(withClientCa).build()));
        assertEquals("tunnel api: client_ca_file applies to server-role tunnels only", misplaced.getMessage());
    }
}
