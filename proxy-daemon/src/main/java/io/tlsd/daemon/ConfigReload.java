package io.tlsd.daemon;

import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tunnel.TunnelConfig;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * What a reload takes from a configuration read again ({@link TlsdDaemon#reload(DaemonConfig)}):
 * the TLS settings of the listeners and tunnels the daemon runs (and a server tunnel's backends,
 * their connection limits), listeners and tunnels added, removed, moved and replaced, the connect
 * and handshake timeouts, and the client role's trust, the sessions' {@code limits}, and nothing else.
 * Every other change (worker threads, the write ring's size) needs a restart; it is listed, by its
 * key in the configuration file, so that the log says what was not applied.
 *
 * <p>A listener or tunnel of the new configuration is the running one of the same name. A
 * listener or tunnel of a new name is added ({@link #addedListeners()}, {@link #addedTunnels()}),
 * one whose name is gone is removed ({@link #removedListeners()}, {@link #removedTunnels()}), a
 * listener whose {@code address} changed moves there ({@link #movedListeners()}: it listens on the
 * new address and no more on the old one, and keeps its clients and waiting ACCEPTs), and a tunnel
 * whose other settings changed (its {@code listen}, a server tunnel's {@code proxy_protocol}) is
 * replaced ({@link #replacedTunnels()}): unless one would listen where a socket the reload frees
 * still does (a rename, a change on the same address, or a tunnel without a {@code name}, named
 * by its place, that moved in the file and so took its neighbour's name and address); then none
 * of that kind is added, removed, moved or replaced until a restart, and each of them stays as it
 * runs, contexts and all (its files are not read again, and the daemon-wide trust settings of a
 * client tunnel stay too: its TLS settings may belong with the rest, a new {@code target} with its
 * new {@code ca_file}).
 *
 * <p>Taken from the new configuration:
 * <ul>
 *   <li>a listener's {@code certificates}, {@code alpn}, {@code client_auth}, {@code
 *       client_ca_file}, {@code client_crl_file}, {@code allowed_clients} and {@code
 *       allowed_peers}, and its {@code backlog} and {@code max_pending_connections(_per_client)};
 *   <li>the TLS settings of a server-role tunnel, its {@code cert}/{@code key}/{@code pkcs12}, and
 *       its backends: {@code target} and {@code routes};
 *   <li>a client-role tunnel's {@code cert}/{@code key}/{@code pkcs12}, {@code alpn}, {@code
 *       ca_file}, {@code crl_file} and {@code allowed_servers}, and its {@code target} and {@code
 *       servername};
 *   <li>a tunnel's {@code idle_timeout}, {@code max_connections(_per_client)} and {@code
 *       access_log}; a listener's {@code handshake_timeout};
 *   <li>{@code timeouts.connect} and {@code timeouts.handshake};
 *   <li>{@code max_sessions} and {@code max_sessions_per_uid} (sessions open keep their places), and
 *       the sessions' {@code limits} (for the sessions that begin after it, debug ones too);
 *   <li>the client role's {@code tls.ca_file}, {@code tls.crl_file}, {@code
 *       tls.client_certificate} and {@code allowed_targets}.
 * </ul>
 * {@code log_level} and {@code log_format} are not the daemon's: the command line applies them.
 */
final class ConfigReload {
    private static final Set<String> LISTENER_RELOADED = Set.of("certificates", "alpn", "clientAuth", "clientCaFile",
            "clientCrlFile", "allowedClients", "backlog", "maxPendingConnections", "maxPendingConnectionsPerClient",
            "handshakeTimeout", "allowedPeers", "acceptProxyProtocol");
    private static final Set<String> SERVER_TUNNEL_RELOADED = Set.of("certificate", "certificates", "alpn",
            "clientAuth", "clientCaFile", "clientCrlFile", "allowedClients", "target", "routes", "idleTimeout",
            "maxConnections", "maxConnectionsPerClient", "accessLog", "acceptProxyProtocol");
    private static final Set<String> CLIENT_TUNNEL_RELOADED = Set.of("certificate", "alpn", "caFile", "crlFile",
            "allowedServers", "idleTimeout", "maxConnections", "maxConnectionsPerClient", "accessLog", "target",
            "serverName");
    /** Record components whose key in the file is not their name in snake case. */
    private static final Map<String, String> KEYS = Map.of("serverName", "servername", "certificate", "cert");

    /**
     * Settings of the whole daemon that only a restart changes, by their key in the file, for
     * both roles; {@link #CLIENT_RESTART} and {@link #SERVER_RESTART} hold those of one role.
     */
    private static final Map<String, Function<DaemonConfig, Object>> DAEMON_RESTART = daemonRestartKeys();
    private static final Map<String, Function<DaemonConfig, Object>> CLIENT_RESTART = new LinkedHashMap<>();
    private static final Map<String, Function<DaemonConfig, Object>> SERVER_RESTART = new LinkedHashMap<>();

    static {
        CLIENT_RESTART.put("max_handshakes_in_flight", DaemonConfig::maxHandshakesInFlight);
        CLIENT_RESTART.put("send_buffer", DaemonConfig::sendBufferBytes);
        SERVER_RESTART.put("tls.ticket_key_rotation", DaemonConfig::ticketKeyRotation);
        SERVER_RESTART.put("tls.signing", c -> c.signing().mode());
    }

    private static Map<String, Function<DaemonConfig, Object>> daemonRestartKeys() {
        Map<String, Function<DaemonConfig, Object>> keys = new LinkedHashMap<>();
        keys.put("socket", c -> c.ipcEnabled() ? c.socket() : "none");
        keys.put("transport", DaemonConfig::transport);
        keys.put("worker_threads", DaemonConfig::workerThreads);
        keys.put("handshake_threads", DaemonConfig::handshakeThreads);
        keys.put("worker_busy_poll", DaemonConfig::workerBusyPoll);
        keys.put("tls.protocols", DaemonConfig::tlsProtocols);
        keys.put("tls.groups", DaemonConfig::tlsGroups);
        keys.put("tls.provider", DaemonConfig::tlsProvider);
        keys.put("timeouts.hello", DaemonConfig::helloTimeout);
        keys.put("timeouts.drain", DaemonConfig::drainTimeout);
        keys.put("shared_memory.dir", DaemonConfig::sharedMemoryDir);
        keys.put("shared_memory.write_ring_bytes", DaemonConfig::writeRingBytes);
        keys.put("metrics", DaemonConfig::metrics);
        keys.put("allowed_peers", DaemonConfig::allowedPeers);
        keys.put("tcp_keepalive", DaemonConfig::tcpKeepalive);
        return keys;
    }

    private final DaemonConfig applied;
    private final List<String> notApplied;
    private final Set<String> heldListeners;
    private final Set<String> addedListeners;
    private final Set<String> removedListeners;
    private final Set<String> movedListeners;
    private final Set<String> heldTunnels;
    private final Set<String> addedTunnels;
    private final Set<String> removedTunnels;
    private final Set<String> replacedTunnels;

    private ConfigReload(DaemonConfig applied, List<String> notApplied, Entries listeners, Entries tunnels) {
        this.applied = applied;
        this.notApplied = List.copyOf(notApplied);
        this.heldListeners = Set.copyOf(listeners.held);
        this.addedListeners = Set.copyOf(listeners.added);
        this.removedListeners = Set.copyOf(listeners.removed);
        this.movedListeners = Set.copyOf(listeners.replaced);
        this.heldTunnels = Set.copyOf(tunnels.held);
        this.addedTunnels = Set.copyOf(tunnels.added);
        this.removedTunnels = Set.copyOf(tunnels.removed);
        this.replacedTunnels = Set.copyOf(tunnels.replaced);
    }

    /** The names of the listeners or tunnels that stay as they run, are added, removed, replaced. */
    private static final class Entries {
        final Set<String> held = new HashSet<>();
        final Set<String> added = new HashSet<>();
        final Set<String> removed = new HashSet<>();
        final Set<String> replaced = new HashSet<>();
    }

    /**
     * @param running the configuration the daemon runs with
     * @param next the configuration read again (file and command line)
     * @throws IllegalArgumentException if {@code next} is of the other role, or a listener or tunnel
     *     with the TLS settings of {@code next} would be invalid
     */
    static ConfigReload of(DaemonConfig running, DaemonConfig next) {
        if (running.role() != next.role()) {
            throw new IllegalArgumentException("the configuration is for the " + next.role().wireName()
                    + " role, the daemon runs the " + running.role().wireName() + " role");
        }
        boolean server = running.role() == DaemonConfig.Role.SERVER;
        TlsdDaemon.checkRole(next);
        List<String> notApplied = new ArrayList<>();
        Map<String, Function<DaemonConfig, Object>> restart = new LinkedHashMap<>(DAEMON_RESTART);
        restart.putAll(server ? SERVER_RESTART : CLIENT_RESTART);
        restart.forEach((key, value) -> {
            if (!Objects.equals(value.apply(running), value.apply(next))) {
                notApplied.add(key);
            }
        });

        Entries listenerEntries = new Entries();
        Entries tunnelEntries = new Entries();
        List<ListenerConfig> listeners = match("listener", running.listeners(), next.listeners(),
                ListenerConfig::name, LISTENER_RELOADED, l -> { }, ListenerConfig::address, notApplied,
                listenerEntries);
        List<TunnelConfig> tunnels = match("tunnel", running.tunnels(), next.tunnels(), TunnelConfig::name,
                server ? SERVER_TUNNEL_RELOADED : CLIENT_TUNNEL_RELOADED, t -> t.checkRole(server), TunnelConfig::listen,
                notApplied, tunnelEntries);

        DaemonConfig.Builder applied = running.toBuilder().listeners(listeners).tunnels(tunnels)
                .connectTimeout(next.connectTimeout()).handshakeTimeout(next.handshakeTimeout())
                .maxSessions(next.maxSessions()).maxSessionsPerUid(next.maxSessionsPerUid()).limits(next.limits());
        if (!server) {
            applied.caFile(next.caFile()).crlFile(next.crlFile()).clientCertificate(next.clientCertificate())
                    .allowedTargets(next.allowedTargets());
        }
        return new ConfigReload(applied.build(), notApplied, listenerEntries, tunnelEntries);
    }

    /**
     * The listeners or tunnels to run, in the order of {@code next}: each running one, or the one
     * of its name in {@code next} when that differs in {@code reloaded} components only, or in
     * others too (a new socket: a tunnel is replaced, a listener moves); those of new names too,
     * and not those whose names are gone. Unless one added, replaced or moved would listen ({@code
     * address}) where one removed, replaced or moved does (a rename, a change on the same address,
     * an unnamed tunnel that moved in the file): then none is added, removed, replaced or moved.
     * Adds to {@code notApplied} what waits, and to {@code entries} the names of those that stay as
     * they run, are added, removed and replaced (moved).
     */
    private static <T extends Record> List<T> match(String kind, List<T> running, List<T> next,
                                                    Function<T, String> name, Set<String> reloaded,
                                                    Consumer<T> check, Function<T, InetSocketAddress> address,
                                                    List<String> notApplied, Entries entries) {
        Map<String, T> byName = new LinkedHashMap<>();
        next.forEach(entry -> byName.put(name.apply(entry), entry));
        List<T> matched = new ArrayList<>();
        List<T> gone = new ArrayList<>();
        List<T> movingNow = new ArrayList<>();
        List<T> movingThen = new ArrayList<>();
        List<String> movingChanges = new ArrayList<>();
        for (T now : running) {
            T then = byName.remove(name.apply(now));
            if (then == null) {
                gone.add(now);
                continue;
            }
            check.accept(then);
            List<String> changed = changed(now, then, reloaded);
            if (changed.isEmpty()) {
                matched.add(then); // differs from the running one in reloaded settings only
            } else {
                movingNow.add(now);
                movingThen.add(then);
                movingChanges.add(entryWaits(kind + " " + name.apply(now), changed,
                        !changed(now, then, Set.of()).equals(changed)));
            }
        }
        // what would listen anew where a socket that the reload frees still listens: a rename, a
        // change that needs a new socket on the same address, or an unnamed tunnel that moved in
        // the file and took its neighbour's name (tunnel-N); none of those can be done in place
        List<T> takers = new ArrayList<>(byName.values());
        takers.addAll(movingThen);
        List<T> freed = new ArrayList<>(gone);
        freed.addAll(movingNow);
        Set<String> clashes = new LinkedHashSet<>();
        for (T then : takers) {
            for (T now : freed) {
                if (sameListeningSocket(address.apply(now), address.apply(then))) {
                    clashes.add(name.apply(then).equals(name.apply(now))
                            ? kind + " " + name.apply(now) + " needs a new socket on the address it listens on"
                            : kind + " " + name.apply(then) + " would listen where " + kind + " " + name.apply(now) + " does");
                }
            }
        }
        boolean apply = clashes.isEmpty();
        String waits = apply ? "" : " (waits for a restart: " + String.join("; ", clashes) + ")";
        for (int k = 0; k < movingNow.size(); k++) {
            if (apply) {
                matched.add(movingThen.get(k));
                entries.replaced.add(name.apply(movingNow.get(k)));
            } else {
                notApplied.add(movingChanges.get(k) + waits);
                matched.add(movingNow.get(k));
                entries.held.add(name.apply(movingNow.get(k)));
            }
        }
        for (T now : gone) {
            if (apply) {
                entries.removed.add(name.apply(now));
            } else {
                notApplied.add(kind + " " + name.apply(now) + " removed" + waits);
                matched.add(now);
                entries.held.add(name.apply(now));
            }
        }
        for (T then : byName.values()) {
            if (apply) {
                check.accept(then);
                matched.add(then);
                entries.added.add(name.apply(then));
            } else {
                notApplied.add(kind + " " + name.apply(then) + " added" + waits);
            }
        }
        // in the file's order (the metrics list them so); those it no longer has last
        Map<String, Integer> order = new HashMap<>();
        next.forEach(entry -> order.put(name.apply(entry), order.size()));
        matched.sort(Comparator.comparingInt(entry -> order.getOrDefault(name.apply(entry), Integer.MAX_VALUE)));
        return matched;
    }

    /**
     * Whether one socket listening on {@code a} keeps another from listening on {@code b}: the
     * same port (not 0, which picks a free one), and the same address or a wildcard on either side
     * ({@code :7001} and {@code 127.0.0.1:7001}).
     */
    static boolean sameListeningSocket(InetSocketAddress a, InetSocketAddress b) {
        if (a.getPort() == 0 || a.getPort() != b.getPort()) {
            return false;
        }
        InetAddress x = a.getAddress();
        InetAddress y = b.getAddress();
        return x == null || y == null || x.isAnyLocalAddress() || y.isAnyLocalAddress() || x.equals(y);
    }

    /**
     * "tunnel web: idle_timeout", and " (its other changes wait with it)" when {@code more} other
     * changes of the entry are held back too.
     */
    private static String entryWaits(String entry, List<String> changed, boolean more) {
        return entry + ": " + String.join(", ", changed) + (more ? " (its other changes wait with it)" : "");
    }

    /** The file keys of {@code a}'s components, but {@code reloaded}, that differ in {@code b}. */
    private static List<String> changed(Record a, Record b, Set<String> reloaded) {
        List<String> keys = new ArrayList<>();
        for (RecordComponent component : a.getClass().getRecordComponents()) {
            String name = component.getName();
            if (!reloaded.contains(name) && !Objects.equals(value(component, a), value(component, b))) {
                keys.add(KEYS.getOrDefault(name, snakeCase(name)));
            }
        }
        return keys;
    }

    private static Object value(RecordComponent component, Record of) {
        try {
            return component.getAccessor().invoke(of);
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("cannot read " + component.getName() + " of " + of.getClass(), e);
        }
    }

    private static String snakeCase(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
    }

    /** The configuration the daemon runs with after the reload: the running one, with what the new changes and can apply. */
    DaemonConfig applied() {
        return applied;
    }

    /**
     * The listeners that stay as they run until a restart, contexts and all (their files are not
     * read again): removed from the file, or moved, where that waits for a restart.
     */
    Set<String> heldListeners() {
        return heldListeners;
    }

    /** The listeners of new names: to be bound, with their settings in {@link #applied()}. */
    Set<String> addedListeners() {
        return addedListeners;
    }

    /** The listeners whose names are gone from the file: to close; not in {@link #applied()}. */
    Set<String> removedListeners() {
        return removedListeners;
    }

    /**
     * The listeners whose {@code address} changed: each is to listen on its new address, with its
     * settings in {@link #applied()}, and no more on the old one.
     */
    Set<String> movedListeners() {
        return movedListeners;
    }

    /** The tunnels that stay as they run until a restart, as {@link #heldListeners()}. */
    Set<String> heldTunnels() {
        return heldTunnels;
    }

    /** The tunnels of new names: to be started, with their settings in {@link #applied()}. */
    Set<String> addedTunnels() {
        return addedTunnels;
    }

    /**
     * The tunnels whose settings changed beyond what a running tunnel takes (its {@code listen},
     * say): a new one, with the settings in {@link #applied()}, listens instead of the running
     * one, which stops accepting, its connections left to end.
     */
    Set<String> replacedTunnels() {
        return replacedTunnels;
    }

    /**
     * The tunnels whose names are gone from the file: to stop accepting, their connections left to
     * end; not in {@link #applied()}.
     */
    Set<String> removedTunnels() {
        return removedTunnels;
    }

    /**
     * What differs in the new configuration and only a restart applies, by key: {@code
     * "worker_threads"}, {@code "listener api: address (its other changes wait with it) (waits for
     * a restart: …)"}, {@code "tunnel web: proxy_protocol (waits for a restart: …)"}.
     */
    List<String> notApplied() {
        return notApplied;
    }
}
