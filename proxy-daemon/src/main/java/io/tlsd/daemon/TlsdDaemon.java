package io.tlsd.daemon;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.util.DomainWildcardMappingBuilder;
import io.netty.util.Mapping;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.tlsd.daemon.config.Addresses;
import io.tlsd.daemon.debug.DebugServer;
import io.tlsd.daemon.engine.Acceptor;
import io.tlsd.daemon.engine.Connector;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.engine.WriteRing;
import io.tlsd.daemon.ipc.IpcServer;
import io.tlsd.daemon.metrics.DaemonMetrics;
import io.tlsd.daemon.metrics.EventLoopProbe;
import io.tlsd.daemon.metrics.ExpiryWarnings;
import io.tlsd.daemon.metrics.Health;
import io.tlsd.daemon.metrics.MetricsServer;
import io.tlsd.daemon.metrics.Sample;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.server.ListenerSet;
import io.tlsd.daemon.tls.ClientTlsContexts;
import io.tlsd.daemon.tls.ConnectionInfos;
import io.tlsd.daemon.tls.KeyMaterial;
import io.tlsd.daemon.tls.OcspFetcher;
import io.tlsd.daemon.tls.ServerTlsContexts;
import io.tlsd.daemon.tls.TicketKeys;
import io.tlsd.daemon.tls.TlsConnector;
import io.tlsd.daemon.transport.ConnectionLimit;
import io.tlsd.daemon.transport.HostResolver;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.daemon.transport.UnixSocketFile;
import io.tlsd.daemon.tunnel.ClientTunnel;
import io.tlsd.daemon.tunnel.ServerTunnel;
import io.tlsd.daemon.tunnel.Tunnel;
import io.tlsd.daemon.tunnel.TunnelConfig;
import io.tlsd.daemon.tunnel.TunnelSettings;
import io.tlsd.daemon.tunnel.TunnelStats;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running daemon of either role: one control loop accepting IPC sessions (and, for the server
 * role, TLS clients), worker loops (one per core by default) running sessions, their TLS
 * connections and the tunnels.
 *
 * <pre>{@code
 * try (TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder().socket(path).build())) {
 *     daemon.awaitTermination();
 * }
 * }</pre>
 */
public final class TlsdDaemon implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TlsdDaemon.class);

    /** How often the certificates in use are checked for expiry, besides at start and reload. */
    private static final Duration EXPIRY_CHECK = Duration.ofHours(12);

    /** How long an event loop may take to run a task before {@code /healthz} calls it stuck. */
    static final Duration LIVENESS_TIMEOUT = Duration.ofSeconds(2);

    /**
     * The configuration in use. A reload replaces it with one whose TLS settings, server
     * tunnels' backends, listeners' and tunnels' connection limits and timeouts, connect and
     * handshake timeouts and session caps may differ, listeners and tunnels added or removed, and
     * tunnels replaced ({@link ConfigReload}); everything else stays as the daemon started.
     */
    private volatile DaemonConfig config;
    private final EventLoopGroup control;
    private final EventLoopGroup workers;
    /** Where new connections handshake before they move to a worker loop; null: on the workers. */
    private final EventLoopGroup handshakes;
    private final HostResolver resolver = new HostResolver("tlsd-resolver");
    private final DaemonCounters counters = new DaemonCounters();
    /** What to close, in reverse order of starting; tunnels that a reload adds or removes come and go. */
    private final Deque<AutoCloseable> started = new ConcurrentLinkedDeque<>();
    private final Transport transport;
    private IpcServer ipc;
    private ListenerSet listeners;
    /**
     * The server role's tunnels by name, for {@link #reload()} and their metrics; replaced whole by
     * a reload that adds or removes one, read by the metrics server's threads.
     */
    private volatile Map<String, ServerTunnel> serverTunnels = Map.of();
    /** The client role's OPENs, for {@link #reload()}. */
    private TlsConnector connector;
    /**
     * The TLS settings in use, for the certificates' expiry metrics: the client role's, its
     * tunnels' own, the server tunnels'. Replaced by {@link #reload()}; read by the metrics
     * server's threads.
     */
    private volatile ClientTlsContexts clientTls;
    private final Map<String, ClientTlsContexts> clientTunnelTls = new ConcurrentHashMap<>();
    private final Map<String, ServerTlsContexts> serverTunnelTls = new ConcurrentHashMap<>();
    /** The client role's tunnels by name, as {@link #serverTunnels}. */
    private volatile Map<String, ClientTunnel> clientTunnels = Map.of();
    /**
     * Tunnels a reload removed or replaced, with their names for the log: they accept nothing
     * more, and close when their last connection ends ({@link #closeRetired}).
     */
    private final Map<Tunnel, String> retiring = new ConcurrentHashMap<>();
    private MetricsServer metrics;
    private DebugServer debug;
    /** Reloads applied and failed, and how the last one went; under this daemon's lock, read by metrics. */
    private volatile long reloadsApplied;
    private volatile long reloadsFailed;
    private volatile boolean lastReloadSucceeded = true;
    /** How many changes in the configuration the last reload did not apply: they wait for a restart. */
    private volatile int changesWaiting;
    /** The server role's session-ticket keys, kept by {@link #reload()}. */
    private TicketKeys tickets;
    /** Fetches the OCSP responses of served certificates with {@code ocsp_fetch}; a thread from the first. */
    private final OcspFetcher ocsp = new OcspFetcher();
    private final Object closeLock = new Object();
    private boolean closing;
    private boolean draining;
    private boolean terminated;

    private TlsdDaemon(DaemonConfig config) throws Exception {
        this.config = config;
        for (TunnelConfig t : config.tunnels()) {
            t.checkRole(config.role() == DaemonConfig.Role.SERVER); // before any thread is started
        }
        checkRole(config);
        transport = Transport.select(config.transport());
        if (!config.ipcEnabled() && config.allowedPeers().restricts()) {
            log.warn("allowed_peers has no effect: there is no IPC socket (socket: none)");
        }
        warnOfSessionLimitsWithoutEffect(config);
        requirePeerCredentialsFor(config);
        control = transport.newGroup(1, new DefaultThreadFactory("tlsd-control"));
        workers = transport.newGroup(config.workerThreads(), new DefaultThreadFactory("tlsd-worker"),
                config.workerBusyPoll());
        handshakes = config.handshakeThreads() == 0 ? null
                : transport.newGroup(config.handshakeThreads(), new DefaultThreadFactory("tlsd-handshake"));
        try {
            if (config.role() == DaemonConfig.Role.SERVER) {
                startServerRole();
            } else {
                startClientRole();
            }
            startMetrics();
            retainOcspOfServed();
            warnOfExpiringCertificates();
            warnOfProxyHeadersFromAnyPeer();
            control.scheduleAtFixedRate(this::warnOfExpiringCertificates, EXPIRY_CHECK.toMinutes(),
                    EXPIRY_CHECK.toMinutes(), TimeUnit.MINUTES);
            control.scheduleAtFixedRate(this::closeRetired, 1, 1, TimeUnit.SECONDS);
        } catch (Exception | Error e) {
            closeStarted();
            shutdownLoops();
            throw e;
        }
        log.info("tlsd {} {} daemon started: IPC {}, {} tunnel(s) (transport {}, {} workers{}, {} handshake loops{}, TLS {} via {}{})",
                Version.VERSION, config.role().wireName(), ipc != null ? ipc.path() : "off", config.tunnels().size(),
                transport.name().toLowerCase(), config.workerThreads(),
                config.workerBusyPoll().isZero() || transport != Transport.EPOLL ? ""
                        : " busy-polling up to " + config.workerBusyPoll().toNanos() / 1000 + "us",
                config.handshakeThreads(), handshakesInFlightNote(), config.tlsProtocols(),
                config.tlsProvider() + groupsNote(),
                config.role() == DaemonConfig.Role.SERVER ? ""
                        : ", trust " + (config.caFile() == null ? "JDK trust store" : config.caFile()));
    }

    private String handshakesInFlightNote() {
        if (config.role() == DaemonConfig.Role.SERVER) {
            return "";
        }
        int max = config.maxHandshakesInFlight();
        return max == DaemonConfig.ADAPTIVE_HANDSHAKES ? ", handshakes in flight limited per target (adaptive)"
                : max == 0 ? ", no limit on handshakes in flight" : ", at most " + max + " handshakes in flight";
    }

    private String groupsNote() {
        return config.tlsGroups().isEmpty() ? "" : ", groups " + String.join(",", config.tlsGroups());
    }

    private void startClientRole() throws Exception {
        ClientTlsContexts contexts = clientContexts(config);
        clientTls = contexts;
        connector = new TlsConnector(transport, contexts, config.connectTimeout(),
                config.handshakeTimeout(), resolver, handshakes, config.maxHandshakesInFlight(), config.sendBufferBytes());
        connector.keepalive(config.tcpKeepalive());
        connector.allowedTargets(config.allowedTargets());
        if (!config.allowedTargets().any()) {
            log.info("OPENs only to {} (allowed_targets)", config.allowedTargets());
        }
        counters.handshakesWaitingFrom(connector::handshakesWaiting);
        if (config.ipcEnabled()) {
            startIpc(connector, null);
        }
        startDebugSocket(connector, null);
        Map<String, NewClientTunnel> made = new LinkedHashMap<>();
        for (TunnelConfig t : config.tunnels()) {
            made.put(t.name(), clientTunnel(config, t, contexts));
        }
        startAll(made, NewClientTunnel::tunnel);
        Map<String, ClientTunnel> tunnels = new LinkedHashMap<>();
        made.forEach((name, m) -> {
            if (m.own() != contexts) {
                clientTunnelTls.put(name, m.own());
            }
            tunnels.put(name, m.tunnel());
        });
        clientTunnels = tunnels;
    }

    /** A client tunnel, not started, and the TLS settings it uses (the client role's, or its own). */
    private record NewClientTunnel(ClientTunnel tunnel, ClientTlsContexts own) {
    }

    /**
     * Makes the client tunnel {@code t} of {@code config}, with the client role's {@code contexts}
     * or its own; logs its own and warns of its trust settings.
     */
    private NewClientTunnel clientTunnel(DaemonConfig config, TunnelConfig t, ClientTlsContexts contexts)
            throws SSLException {
        InetSocketAddress target = Addresses.unresolved(t.target());
        ClientTlsContexts own;
        try {
            own = clientTunnelContexts(config, t, contexts);
        } catch (SSLException e) {
            throw new SSLException("tunnel " + t.name() + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("tunnel " + t.name() + ": " + e.getMessage(), e);
        }
        if (own != contexts) {
            log.info("tunnel {}: {}", t.name(), own.describe());
        }
        warnAboutTrust(config, t);
        return new NewClientTunnel(new ClientTunnel(transport, control, workers, own.forAlpn(t.alpn()), t.listen(),
                target.getHostString(), target.getPort(), t.serverName(), settings(config, t)), own);
    }

    /**
     * Starts the tunnels {@code made} in order, each then closed with the daemon; if one cannot
     * listen, closes those and throws, naming it.
     *
     * @throws IOException "tunnel NAME: cannot listen on ADDRESS: REASON"
     */
    private <T> void startAll(Map<String, T> made, Function<T, Tunnel> tunnelOf) throws IOException {
        for (Map.Entry<String, T> entry : made.entrySet()) {
            try {
                tunnelOf.apply(entry.getValue()).start();
            } catch (IOException | RuntimeException e) {
                // those started and those not (a client tunnel's resolver) alike; closing is idempotent
                made.values().forEach(m -> tunnelOf.apply(m).close());
                throw new IOException("tunnel " + entry.getKey() + ": " + e.getMessage(), e);
            }
        }
        made.values().forEach(m -> started.push(tunnelOf.apply(m)));
    }

    /** Warns of a client tunnel's trust settings that are likely a mistake. */
    private static void warnAboutTrust(DaemonConfig config, TunnelConfig t) {
        if (t.allowedServers() != null && t.caFile() == null && config.caFile() == null) {
            log.warn("tunnel {}: allowed_servers with the JDK trust store: any public CA's certificate naming one"
                    + " of those identities is accepted for its target; give a ca_file (--ca-file)", t.name());
        }
        if (config.crlFile() != null && t.caFile() != null && t.crlFile() == null) {
            log.warn("tunnel {}: no revocation check for its target: it has a ca_file of its own and no crl_file"
                    + " (tls.crl_file goes with tls.ca_file)", t.name());
        }
    }

    /** Tells the OCSP fetcher which certificates are served now (server role). */
    private void retainOcspOfServed() {
        if (config.role() != DaemonConfig.Role.SERVER) {
            return;
        }
        List<OcspFetcher.Fetched> served = new ArrayList<>();
        if (listeners != null) {
            listeners.contexts().forEach(c -> served.addAll(c.ocspFetched()));
        }
        serverTunnelTls.values().forEach(c -> served.addAll(c.ocspFetched()));
        ocsp.retain(served);
    }

    private void startServerRole() throws Exception {
        TicketKeys tickets = new TicketKeys(3);
        long every = config.ticketKeyRotation().toMillis();
        control.scheduleAtFixedRate(tickets::rotate, every, every, TimeUnit.MILLISECONDS);
        if (config.ipcEnabled()) {
            UnixSocketFile.requireFree(config.socket()); // before the listeners take their ports
            listeners = ListenerSet.bind(config.listeners(), config.tlsParameters(), tickets,
                    config.signing(), transport, control, handshakes != null ? handshakes : workers,
                    config.tcpKeepalive(), ocsp);
            started.push(listeners);
            startIpc(null, listeners);
            startDebugSocket(null, listeners);
        }
        this.tickets = tickets;
        Map<String, NewServerTunnel> made = new LinkedHashMap<>();
        for (TunnelConfig t : config.tunnels()) {
            made.put(t.name(), serverTunnel(config, t));
        }
        ocsp.awaitFirstFetchesOf(made.values().stream().map(NewServerTunnel::contexts).toList());
        startAll(made, NewServerTunnel::tunnel);
        Map<String, ServerTunnel> tunnels = new LinkedHashMap<>();
        made.forEach((name, m) -> {
            serverTunnelTls.put(name, m.contexts());
            tunnels.put(name, m.tunnel());
        });
        serverTunnels = tunnels;
    }

    /** A server tunnel, not started, and the contexts it serves. */
    private record NewServerTunnel(ServerTunnel tunnel, ServerTlsContexts contexts) {
    }

    /** Makes the server tunnel {@code t} of {@code config}: reads its files, resolves its backends. */
    private NewServerTunnel serverTunnel(DaemonConfig config, TunnelConfig t) throws SSLException {
        ServerTlsContexts tls = serverTunnelContexts(config, t);
        InetSocketAddress backend = backend(t);
        ServerTunnel tunnel = new ServerTunnel(transport, control, workers, tls.defaultContext(), t.listen(),
                backend, t.proxyProtocol(), settings(config, t));
        tunnel.acceptProxyProtocol(t.acceptProxyProtocol());
        serve(tunnel, tls, backend, t.routes().isEmpty() ? null : backendsBySni(t, backend));
        logRoutes(t);
        return new NewServerTunnel(tunnel, tls);
    }

    /** A server tunnel's backend ({@code target}), resolved now. */
    private static InetSocketAddress backend(TunnelConfig t) {
        InetSocketAddress backend = Addresses.parse(t.target());
        if (backend.isUnresolved()) {
            throw new IllegalArgumentException("tunnel " + t.name() + ": cannot resolve backend " + t.target());
        }
        return backend;
    }

    /** A server tunnel's backends by SNI name ({@code routes}), resolved now, with {@code backend} for other names. */
    private Mapping<String, InetSocketAddress> backendsBySni(TunnelConfig t, InetSocketAddress backend) {
        DomainWildcardMappingBuilder<InetSocketAddress> backends = new DomainWildcardMappingBuilder<>(backend);
        for (TunnelConfig.Route route : t.routes()) {
            InetSocketAddress target = Addresses.parse(route.target());
            if (target.isUnresolved()) {
                throw new IllegalArgumentException("tunnel " + t.name() + ": cannot resolve the backend "
                        + route.target() + " of route " + route.names());
            }
            for (String name : route.names()) {
                try {
                    backends.add(name, target);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("tunnel " + t.name() + ": routes: " + e.getMessage(), e);
                }
            }
        }
        return backends.build();
    }

    private static void logRoutes(TunnelConfig t) {
        for (TunnelConfig.Route route : t.routes()) {
            log.info("tunnel {}: clients asking for {} go to backend {}", t.name(), String.join(", ", route.names()),
                    route.target());
        }
    }

    /** Reads the client role's trust anchors and client certificate and builds its contexts. */
    private static ClientTlsContexts clientContexts(DaemonConfig config) throws SSLException {
        ListenerConfig.CertificateSpec id = config.clientCertificate();
        KeyMaterial identity = id == null ? null : id.load();
        return new ClientTlsContexts(config.tlsParameters(), config.caFile(), identity, config.crlFile());
    }

    /**
     * A client tunnel's contexts: the daemon's, unless the tunnel has trust anchors ({@code
     * ca_file}), revocation lists ({@code crl_file}), a client certificate or {@code
     * allowed_servers} of its own, each of which replaces the daemon's for it. The daemon's {@code tls.crl_file} goes with its {@code
     * tls.ca_file}: a tunnel with anchors of its own checks only the lists of its own {@code crl_file}.
     */
    private static ClientTlsContexts clientTunnelContexts(DaemonConfig config, TunnelConfig t,
                                                          ClientTlsContexts daemonContexts) throws SSLException {
        if (!t.hasOwnTrustOrIdentity()) {
            return daemonContexts;
        }
        ListenerConfig.CertificateSpec id = t.certificate() != null ? t.certificate() : config.clientCertificate();
        Path crlFile = t.crlFile() != null ? t.crlFile() : t.caFile() == null ? config.crlFile() : null;
        return new ClientTlsContexts(config.tlsParameters(), t.caFile() != null ? t.caFile() : config.caFile(),
                id == null ? null : id.load(), crlFile, t.allowedServers());
    }

    /** Reads a server tunnel's certificate, key and client-CA files and builds its contexts. */
    private ServerTlsContexts serverTunnelContexts(DaemonConfig config, TunnelConfig t) throws SSLException {
        List<ServerTlsContexts.Identity> identities = new ArrayList<>();
        for (ListenerConfig.CertificateSpec spec : t.servedCertificates()) {
            identities.add(spec.identity(ocsp));
        }
        return new ServerTlsContexts(identities, t.alpn(), t.clientAuth(), t.clientCaFile(), t.clientCrlFile(),
                t.allowedClients(),
                config.tlsParameters(), tickets, config.signing());
    }

    /**
     * Reads the certificate files again and uses them from then on; connections already up keep
     * what they started with. The server role reads the certificate, key, passphrase, client-CA and
     * client-CRL files of its listeners and tunnels, and serves them to the clients that connect
     * from then on. The client role reads its trust anchors ({@code ca_file}, or the JDK's trust
     * store), revocation lists and client certificate, and those its tunnels have of their own, and
     * uses them for the OPENs and tunnel connections from then on; the verdicts on server chains
     * reached with the old anchors and lists are forgotten. All or nothing: if any file cannot be
     * used, the daemon goes on as before. {@link #reload(DaemonConfig)} also takes new settings.
     *
     * @return what is used now, one entry per listener and tunnel of the server role, or one for
     *     the client role and one per tunnel of it with trust anchors, lists or a certificate of its
     *     own; and one for the session caps when {@link #reload(DaemonConfig)} changed them
     * @throws IllegalArgumentException naming the listener, tunnel or role and the file that cannot be used
     */
    public synchronized List<String> reload() {
        return reload(config).used();
    }

    /**
     * What a reload did.
     *
     * @param used what is used now, as {@link #reload()} returns it
     * @param notApplied the changes in the configuration that need a restart, by their keys in the
     *     file ({@code "worker_threads"}, {@code "listener api removed (waits for a restart: …)"},
     *     {@code "tunnel web: proxy_protocol (waits for a restart: …)"}); still as the daemon started
     */
    public record Reloaded(List<String> used, List<String> notApplied) {
        public Reloaded {
            used = List.copyOf(used);
            notApplied = List.copyOf(notApplied);
        }
    }

    /**
     * Takes the TLS settings of {@code next} (a configuration read again) and reads the files they
     * name, as {@link #reload()} does: which certificates a listener or tunnel serves, how it
     * treats client certificates ({@code client_auth}, {@code client_ca_file}, {@code
     * client_crl_file}, {@code allowed_clients}), its ALPN protocols; a server tunnel's backends
     * ({@code target}, {@code routes}); the client role's trust anchors, revocation lists and
     * client certificate, a client tunnel's own, its {@code allowed_servers}, {@code target} and
     * {@code servername}; a tunnel's idle
     * timeout, connection limits and access log, a listener's handshake timeout, backlog and
     * pending limits; the connect and handshake timeouts; {@code max_sessions} and {@code
     * max_sessions_per_uid}; the sessions' {@code limits}, for the sessions that begin after it.
     * Connections already up keep what they started with, sessions their places and limits.
     * Listeners and tunnels of new names start listening; those whose names are gone
     * stop (a tunnel closes when the connections it carries have ended, a listener fails the
     * ACCEPTs waiting on it); a listener whose address changed moves there, its clients and
     * waiting ACCEPTs with it; a tunnel whose address or {@code proxy_protocol} changed is
     * replaced, its old socket's connections left to end; unless that cannot be done ({@link
     * ConfigReload}). Other changes (the hello and drain timeouts, threads, the write ring's size)
     * need a restart and are returned, not applied; a listener or tunnel that cannot be
     * added, removed, moved or replaced stays as it runs. All or nothing: if {@code next} or a file
     * it names cannot be used, or a listener or tunnel it adds, moves or replaces cannot listen,
     * nothing changes.
     *
     * @throws IllegalArgumentException naming the listener, tunnel or role and what cannot be used
     */
    public synchronized Reloaded reload(DaemonConfig next) {
        synchronized (closeLock) {
            if (closing || draining) {
                // a tunnel added now would listen on while the daemon drains, or outlive its close;
                // not a failed reload (the metrics would say the configuration is at fault)
                throw new IllegalArgumentException("the daemon is stopping: nothing reloaded");
            }
        }
        ConfigReload plan;
        List<String> used;
        try {
            plan = ConfigReload.of(config, next);
            DaemonConfig applied = plan.applied();
            requirePeerCredentialsFor(applied);
            used = applied.role() == DaemonConfig.Role.SERVER ? reloadServerRole(applied, plan)
                    : reloadClientRole(applied, plan);
            if (applied.maxSessions() != config.maxSessions()
                    || applied.maxSessionsPerUid() != config.maxSessionsPerUid()) {
                warnOfSessionLimitsWithoutEffect(applied);
                if (ipc != null) {
                    ipc.sessionLimits(applied.maxSessions(), applied.maxSessionsPerUid());
                    used = new ArrayList<>(used);
                    used.add("sessions (max_sessions " + applied.maxSessions() + ", max_sessions_per_uid "
                            + (applied.maxSessionsPerUid() == 0 ? "none" : applied.maxSessionsPerUid()) + ")");
                }
            }
            if (!applied.limits().equals(config.limits()) && (ipc != null || debug != null)) {
                if (ipc != null) {
                    ipc.limits(applied.limits());
                }
                if (debug != null) {
                    debug.limits(applied.limits());
                }
                used = new ArrayList<>(used);
                used.add("sessions' limits, for those that connect from now on (" + applied.limits().describe() + ")");
            }
            config = applied;
        } catch (RuntimeException e) {
            reloadFailed();
            throw e;
        } finally {
            retainOcspOfServed(); // contexts built for a reload that failed, or replaced by one that did not
        }
        reloadsApplied++;
        lastReloadSucceeded = true;
        changesWaiting = plan.notApplied().size();
        warnOfExpiringCertificates();
        warnOfProxyHeadersFromAnyPeer();
        return new Reloaded(used, plan.notApplied());
    }

    /**
     * As {@link #reload(DaemonConfig)}, with the configuration {@code next} makes (reads from its
     * file); a configuration that cannot be made counts as a failed reload too.
     *
     * @throws IllegalArgumentException (or whatever {@code next} throws) if nothing changed
     */
    public synchronized Reloaded reload(Supplier<DaemonConfig> next) {
        DaemonConfig made;
        try {
            made = next.get();
        } catch (RuntimeException e) {
            reloadFailed();
            throw e;
        }
        return reload(made);
    }

    private void reloadFailed() {
        reloadsFailed++;
        lastReloadSucceeded = false;
    }

    /**
     * A listener or tunnel that takes PROXY headers from any peer: whoever reaches its port can
     * claim any client address. Said at start and after each reload that succeeds, as an expiring
     * certificate is.
     */
    private void warnOfProxyHeadersFromAnyPeer() {
        List<String> open = new ArrayList<>();
        if (listeners != null) { // none without an IPC socket
            for (ListenerConfig l : config.listeners()) {
                if (l.acceptProxyProtocol() != null && l.acceptProxyProtocol().any()) {
                    open.add("listener " + l.name() + " (" + where(() -> listenerAddress(l.name()), l.address()) + ")");
                }
            }
        }
        for (TunnelConfig t : config.tunnels()) {
            if (t.acceptProxyProtocol() != null && t.acceptProxyProtocol().any()) {
                open.add("tunnel " + t.name() + " (" + where(() -> tunnelAddress(t.name()), t.listen()) + ")");
            }
        }
        for (String where : open) {
            log.warn("{}: accept_proxy_protocol without proxy_protocol_sources: any peer that reaches it can send a"
                    + " PROXY header, pass for any client address and, under a per-client limit, for many clients;"
                    + " list the load balancers in proxy_protocol_sources", where);
        }
    }

    /** Where a listener or tunnel listens, or where it is configured to if that cannot be said. */
    private static String where(Supplier<InetSocketAddress> bound, InetSocketAddress configured) {
        try {
            return ConnectionInfos.addressString(bound.get());
        } catch (RuntimeException e) {
            return NetUtil.toSocketAddressString(configured);
        }
    }

    /**
     * Logs an error for each certificate in use that expired, and a warning for each that expires
     * within {@link ExpiryWarnings#SOON}.
     */
    private void warnOfExpiringCertificates() {
        try {
            for (ExpiryWarnings.Warning w : ExpiryWarnings.of(metricSamples(), Instant.now())) {
                if (w.expired()) {
                    log.error(w.message());
                } else {
                    log.warn(w.message());
                }
            }
        } catch (RuntimeException e) {
            // a failed check must not stop the start, fail a reload that is done, or end the timer
            log.warn("cannot check the certificates' expiry: {}", e.toString());
        }
    }

    /**
     * A server tunnel's contexts, and its backends when they change (else null), read and resolved
     * before any is used.
     */
    private record ServerTunnelReload(ServerTlsContexts contexts, InetSocketAddress backend,
                                      Mapping<String, InetSocketAddress> backendsBySni) {
    }

    /**
     * The settings that need the peers' credentials, which only epoll tells: {@code allowed_peers}
     * (the daemon's and a listener's) and {@code max_sessions_per_uid}; at start and at a reload.
     */
    private void requirePeerCredentialsFor(DaemonConfig config) {
        if (transport == Transport.EPOLL) {
            return;
        }
        String cannot = "; transport " + transport.name().toLowerCase() + " cannot";
        if (config.ipcEnabled() && config.allowedPeers().restricts()) {
            throw new IllegalArgumentException("allowed_peers needs the epoll transport, which tells a peer's uid and"
                    + " gid" + cannot);
        }
        if (config.ipcEnabled() && config.maxSessionsPerUid() > 0) {
            throw new IllegalArgumentException("max_sessions_per_uid needs the epoll transport, which tells a peer's"
                    + " uid" + cannot);
        }
        for (ListenerConfig l : config.listeners()) {
            if (l.allowedPeers() != null) {
                throw new IllegalArgumentException("listener " + l.name() + ": allowed_peers needs the epoll transport,"
                        + " which tells a peer's uid and gid" + cannot);
            }
        }
    }

    private List<String> reloadServerRole(DaemonConfig next, ConfigReload plan) {
        Map<String, TunnelConfig> running = new LinkedHashMap<>();
        config.tunnels().forEach(t -> running.put(t.name(), t));
        Map<TunnelConfig, ServerTunnelReload> tunnels = new LinkedHashMap<>();
        Map<String, NewServerTunnel> added = new LinkedHashMap<>();
        for (TunnelConfig t : next.tunnels()) {
            if (plan.heldTunnels().contains(t.name())) {
                continue; // as it runs until a restart
            }
            try {
                if (plan.addedTunnels().contains(t.name()) || plan.replacedTunnels().contains(t.name())) {
                    added.put(t.name(), serverTunnel(next, t));
                    continue;
                }
                TunnelConfig before = running.get(t.name());
                boolean sameBackends = t.target().equals(before.target()) && t.routes().equals(before.routes());
                // a reload for renewed certificates does not resolve the backends again
                InetSocketAddress backend = sameBackends ? null : backend(t);
                tunnels.put(t, new ServerTunnelReload(serverTunnelContexts(next, t), backend,
                        sameBackends || t.routes().isEmpty() ? null : backendsBySni(t, backend)));
            } catch (SSLException | RuntimeException e) {
                added.values().forEach(m -> m.tunnel().close());
                throw reloadFailure(t, e);
            }
        }
        List<ServerTlsContexts> rebuilt = new ArrayList<>();
        tunnels.values().forEach(r -> rebuilt.add(r.contexts()));
        added.values().forEach(m -> rebuilt.add(m.contexts()));
        try {
            ocsp.awaitFirstFetchesOf(rebuilt);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // not expected (nothing interrupts the reload thread): go on
        }
        startAdded(added, NewServerTunnel::tunnel);
        List<String> served;
        try {
            served = new ArrayList<>(listeners == null ? List.of() : listeners.reload(next.listeners().stream()
                    .filter(l -> !plan.heldListeners().contains(l.name())).toList(), plan.addedListeners(),
                    plan.movedListeners()));
        } catch (RuntimeException e) {
            stopAdded(added, NewServerTunnel::tunnel);
            throw e;
        }
        tunnels.forEach((t, reload) -> {
            ServerTunnel tunnel = serverTunnels.get(t.name());
            ServerTlsContexts contexts = reload.contexts();
            serve(tunnel, contexts, reload.backend(), reload.backendsBySni());
            if (reload.backend() != null) {
                log.info("tunnel {}: backend {} from now on", t.name(), t.target());
                logRoutes(t);
            }
            tunnel.settings(settings(next, t));
            tunnel.acceptProxyProtocol(t.acceptProxyProtocol());
            serverTunnelTls.put(t.name(), contexts);
            served.add("tunnel " + t.name() + " (" + contexts.describe() + "; " + limits(t) + ")");
        });
        if (listeners != null) {
            served.addAll(listeners.remove(plan.removedListeners()));
        }
        added.forEach((name, m) -> serverTunnelTls.put(name, m.contexts()));
        plan.removedTunnels().forEach(serverTunnelTls::remove);
        Map<String, ServerTunnel> fresh = new LinkedHashMap<>();
        added.forEach((name, m) -> fresh.put(name, m.tunnel()));
        serverTunnels = afterReload(next.tunnels(), serverTunnels, fresh, plan.removedTunnels(), plan.replacedTunnels(),
                name -> added.get(name).contexts().describe(), served);
        return served;
    }

    /** {@code e}, why tunnel {@code t} cannot be reloaded or added, as a reload's failure that names it once. */
    private static IllegalArgumentException reloadFailure(TunnelConfig t, Exception e) {
        String prefix = "tunnel " + t.name() + ": ";
        String why = String.valueOf(e.getMessage());
        return new IllegalArgumentException(why.startsWith(prefix) ? why : prefix + why, e);
    }

    /**
     * Starts the tunnels a reload adds, as {@link #startAll}.
     *
     * @throws IllegalArgumentException if one cannot listen: then none is left started
     */
    private <T> void startAdded(Map<String, T> added, Function<T, Tunnel> tunnelOf) {
        try {
            startAll(added, tunnelOf);
        } catch (IOException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /** Undoes {@link #startAdded}, for a reload that fails after it. */
    private <T> void stopAdded(Map<String, T> added, Function<T, Tunnel> tunnelOf) {
        added.values().forEach(m -> {
            Tunnel tunnel = tunnelOf.apply(m);
            started.remove(tunnel);
            tunnel.close();
        });
    }

    /**
     * The tunnels of one role after a reload, in the order of {@code tunnels} (the applied
     * configuration's): those running, and those {@code added} (new names, and new tunnels for
     * those {@code replaced}); adds a line per new tunnel to {@code out}, and retires those
     * {@code removed} and those replaced.
     *
     * @param describe a new tunnel's TLS settings, by name, for its line
     */
    private <T extends Tunnel> Map<String, T> afterReload(List<TunnelConfig> tunnels, Map<String, T> running,
                                                          Map<String, T> added, Set<String> removed,
                                                          Set<String> replaced, Function<String, String> describe,
                                                          List<String> out) {
        Map<String, T> now = new LinkedHashMap<>();
        for (TunnelConfig t : tunnels) {
            T fresh = added.get(t.name());
            now.put(t.name(), fresh != null ? fresh : running.get(t.name()));
            if (fresh != null) {
                out.add("tunnel " + t.name() + (replaced.contains(t.name()) ? " replaced" : " added")
                        + ", listening on " + ConnectionInfos.addressString(fresh.localAddress()) + " ("
                        + describe.apply(t.name()) + "; " + limits(t) + ")");
            }
        }
        for (String name : removed) {
            out.add(retire(name, running.get(name), false));
        }
        for (String name : replaced) {
            out.add(retire(name, running.get(name), true));
        }
        return now;
    }

    /**
     * A tunnel a reload removed or replaced stops accepting; its connections go on until they end,
     * then it closes ({@link #closeRetired}); the draining daemon waits for them as for the others.
     *
     * @return what the reload's log line says of it
     */
    private String retire(String name, Tunnel tunnel, boolean replaced) {
        tunnel.stopAccepting();
        int connections = tunnel.stats().connections();
        String at = ConnectionInfos.addressString(tunnel.localAddress());
        retiring.put(tunnel, replaced ? name + " (the one replaced, on " + at + ")" : name); // as closeRetired logs it
        log.info("tunnel {}: {} by the reload; it stopped listening on {}{}", name, replaced ? "replaced" : "removed", at,
                connections == 0 ? "" : ", its " + connections + " connection(s) may finish");
        return replaced ? "tunnel " + name + ": the one replaced stopped listening on " + at + " (" + connections
                + " connection(s) may finish)"
                : "tunnel " + name + " removed (" + connections + " connection(s) may finish)";
    }

    /** Closes each tunnel a reload removed or replaced once its last connection has ended. On the control loop. */
    private void closeRetired() {
        retiring.forEach((tunnel, name) -> {
            if (tunnel.stats().connections() == 0 && retiring.remove(tunnel, name)) {
                started.remove(tunnel);
                // on a thread of its own: closing waits for the tunnel's channels, whose group's
                // futures refuse a wait on the global executor, and a client tunnel listened on this loop
                Thread closer = new Thread(() -> {
                    tunnel.close();
                    log.info("tunnel {}: closed, its last connection ended", name);
                }, "tlsd-retire-" + name);
                closer.setDaemon(true);
                closer.start();
            }
        });
    }

    /**
     * Has {@code tunnel} serve {@code contexts} (one, or by SNI name) and carry its clients to
     * {@code backend}, or by SNI name to {@code backendsBySni} (routes) when not null; to the
     * backends it has when {@code backend} is null.
     */
    private static void serve(ServerTunnel tunnel, ServerTlsContexts contexts, InetSocketAddress backend,
                              Mapping<String, InetSocketAddress> backendsBySni) {
        if (backend == null) {
            if (contexts.choosesByName()) {
                tunnel.contexts(contexts.mapping());
            } else {
                tunnel.context(contexts.defaultContext());
            }
        } else if (backendsBySni != null || contexts.choosesByName()) {
            tunnel.reconfigure(contexts.mapping(), backend, backendsBySni);
        } else {
            tunnel.reconfigure(contexts.defaultContext(), backend);
        }
    }

    private List<String> reloadClientRole(DaemonConfig next, ConfigReload plan) {
        ClientTlsContexts contexts;
        try {
            contexts = clientContexts(next);
        } catch (SSLException | RuntimeException e) {
            throw new IllegalArgumentException("client role: " + e.getMessage(), e);
        }
        List<String> used = new ArrayList<>(List.of("client role (" + contexts.describe()
                + (next.allowedTargets().any() ? "" : "; OPENs only to " + next.allowedTargets()) + ")"));
        Map<String, TunnelConfig> running = new LinkedHashMap<>();
        config.tunnels().forEach(t -> running.put(t.name(), t));
        Map<ClientTunnel, Runnable> retargets = new LinkedHashMap<>();
        Map<ClientTunnel, TunnelSettings> tunnelSettings = new LinkedHashMap<>();
        Map<String, ClientTlsContexts> owns = new LinkedHashMap<>();
        Map<String, NewClientTunnel> added = new LinkedHashMap<>();
        for (TunnelConfig t : next.tunnels()) {
            if (plan.heldTunnels().contains(t.name())) {
                continue; // as it runs until a restart, with the daemon's trust settings it began with
            }
            try {
                if (plan.addedTunnels().contains(t.name()) || plan.replacedTunnels().contains(t.name())) {
                    NewClientTunnel m = clientTunnel(next, t, contexts); // warns of its trust settings
                    added.put(t.name(), m);
                    if (m.own() != contexts) {
                        owns.put(t.name(), m.own());
                    }
                    continue;
                }
                ClientTlsContexts own = clientTunnelContexts(next, t, contexts);
                ClientTunnel tunnel = clientTunnels.get(t.name());
                InetSocketAddress address = Addresses.unresolved(t.target());
                ClientTunnel.Target target = new ClientTunnel.Target(own.forAlpn(t.alpn()), address.getHostString(),
                        address.getPort(), t.serverName());
                TunnelConfig before = running.get(t.name());
                boolean moved = !t.target().equals(before.target()) || !Objects.equals(t.serverName(), before.serverName());
                retargets.put(tunnel, () -> {
                    tunnel.target(target);
                    if (moved) {
                        log.info("tunnel {}: target {} (TLS server name {}) from now on", t.name(), t.target(),
                                target.serverName());
                    }
                });
                tunnelSettings.put(tunnel, settings(next, t));
                if (own != contexts) {
                    owns.put(t.name(), own);
                }
                used.add("tunnel " + t.name() + " (" + (own != contexts ? own.describe() : "the client role's TLS settings")
                        + "; " + limits(t) + ")");
            } catch (SSLException | RuntimeException e) {
                added.values().forEach(m -> m.tunnel().close());
                throw reloadFailure(t, e);
            }
        }
        startAdded(added, NewClientTunnel::tunnel);
        next.tunnels().stream().filter(t -> !plan.heldTunnels().contains(t.name()) && !added.containsKey(t.name()))
                .forEach(t -> warnAboutTrust(next, t));
        connector.contexts(contexts);
        connector.timeouts(next.connectTimeout(), next.handshakeTimeout());
        connector.allowedTargets(next.allowedTargets());
        retargets.values().forEach(Runnable::run);
        tunnelSettings.forEach(ClientTunnel::settings);
        ClientTlsContexts before = clientTls;
        clientTls = contexts;
        clientTunnelTls.keySet().removeIf(name -> !owns.containsKey(name) && !plan.heldTunnels().contains(name));
        clientTunnelTls.putAll(owns);
        // a held tunnel that used the client role's settings still does: its certificate stays in the metrics
        plan.heldTunnels().forEach(name -> clientTunnelTls.putIfAbsent(name, before));
        Map<String, ClientTunnel> fresh = new LinkedHashMap<>();
        added.forEach((name, m) -> fresh.put(name, m.tunnel()));
        clientTunnels = afterReload(next.tunnels(), clientTunnels, fresh, plan.removedTunnels(),
                plan.replacedTunnels(), name -> {
            ClientTlsContexts own = added.get(name).own();
            return own != contexts ? own.describe() : "the client role's TLS settings";
        }, used);
        return used;
    }

    /** "max connections 4096, idle timeout 600000 ms": a tunnel's limits for a reload's log line. */
    private static String limits(TunnelConfig t) {
        return "max connections " + ConnectionLimit.describe(t.maxConnections(), t.maxConnectionsPerClient())
                + ", idle timeout " + (t.idleTimeout().isZero() ? "off" : t.idleTimeout().toMillis() + " ms")
                + (t.accessLog() ? ", access log" : "");
    }

    /** A {@code max_sessions_per_uid} that cannot limit anything, at start and at a reload that changes it. */
    private static void warnOfSessionLimitsWithoutEffect(DaemonConfig config) {
        if (!config.ipcEnabled() && config.maxSessionsPerUid() > 0) {
            log.warn("max_sessions_per_uid has no effect: there is no IPC socket (socket: none)");
        } else if (config.maxSessionsPerUid() >= config.maxSessions()) {
            log.warn("max_sessions_per_uid ({}) has no effect: it is not below max_sessions ({})",
                    config.maxSessionsPerUid(), config.maxSessions());
        }
    }

    /** Refuses the settings of the other role that a daemon would otherwise ignore, at start and at a reload. */
    static void checkRole(DaemonConfig config) {
        if (config.role() == DaemonConfig.Role.SERVER && !config.allowedTargets().any()) {
            throw new IllegalArgumentException("allowed_targets applies to the client role only (tlsd client): it limits"
                    + " OPENs; this daemon is the server role");
        }
        if (config.role() == DaemonConfig.Role.CLIENT && !config.listeners().isEmpty()) {
            throw new IllegalArgumentException("listeners apply to the server role only (tlsd server); this daemon"
                    + " is the client role");
        }
    }

    /** A tunnel's settings: its own, and the connect and handshake timeouts of {@code config}. */
    private static TunnelSettings settings(DaemonConfig config, TunnelConfig t) {
        return new TunnelSettings(config.connectTimeout(), config.handshakeTimeout(), t.idleTimeout(), t.maxConnections(),
                t.name(), t.accessLog(), t.maxConnectionsPerClient());
    }

    private void startIpc(Connector connector, Acceptor acceptor) throws Exception {
        Path rings = ringDirectory();
        IpcServer.Settings settings = new IpcServer.Settings(config.role().wireName(), "tlsd " + Version.VERSION,
                config.limits(), config.helloTimeout(), rings, rings == null ? 0 : config.writeRingBytes(),
                GlobalEventExecutor.INSTANCE, // one thread, started on demand, for the few ms a ring takes
                config.allowedPeers(), config.maxSessions(), config.maxSessionsPerUid());
        ipc = IpcServer.bind(config.socket(), transport, control, workers, settings, connector, acceptor, counters);
        started.push(ipc);
        if (config.allowedPeers().restricts()) {
            log.info("IPC sessions only for {} (allowed_peers)", config.allowedPeers().describe());
        }
    }

    /**
     * The private directory for sessions' write rings, removed (with any ring left) when the
     * daemon stops; null when rings are off or the shared-memory directory is unusable, in which
     * case every write travels in its frame.
     */
    private Path ringDirectory() {
        if (config.writeRingBytes() == 0) {
            return null;
        }
        Path parent = config.sharedMemoryDir();
        try {
            if (!Files.isDirectory(parent)) {
                throw new IOException(parent + " is not a directory");
            }
            Path dir = WriteRing.createDirectory(parent);
            started.push(() -> WriteRing.deleteDirectory(dir));
            return dir;
        } catch (IOException | RuntimeException e) {
            log.warn("write rings are off, writes travel through the IPC socket: cannot use {}: {}", parent,
                    e.toString());
            return null;
        }
    }

    /** The debug socket drives the same engine as IPC sessions; off unless configured. */
    private void startMetrics() throws IOException {
        if (config.metrics() != null) {
            metrics = MetricsServer.start(config.metrics(), this::metricSamples, health());
            started.push(metrics);
            String at = ConnectionInfos.addressString(metrics.address());
            log.info("metrics on http://{}/metrics, probes on http://{}/healthz and /readyz", at, at);
        }
    }

    /**
     * What {@code GET /healthz} and {@code /readyz} answer: alive while every event loop runs a
     * task within {@link #LIVENESS_TIMEOUT}; ready until the daemon drains or stops.
     */
    public Health health() {
        Map<String, EventLoopGroup> loops = new LinkedHashMap<>();
        loops.put("control", control);
        loops.put("worker", workers);
        if (handshakes != null) {
            loops.put("handshake", handshakes);
        }
        EventLoopProbe probe = new EventLoopProbe(loops, LIVENESS_TIMEOUT);
        return new Health() {
            @Override
            public String notLive() {
                return probe.stuck();
            }

            @Override
            public String notReady() {
                synchronized (closeLock) {
                    if (closing) {
                        return "stopping";
                    }
                    return draining ? "draining: no new connections; the connections under way may finish" : null;
                }
            }
        };
    }

    /**
     * The samples {@code GET /metrics} answers: the daemon-wide counters, then each listener's and
     * each tunnel's, then when each certificate the daemon presents expires.
     */
    public List<Sample> metricSamples() {
        List<Sample> samples = new ArrayList<>(DaemonMetrics.of(counters.snapshot()));
        String reloads = "reloads (SIGHUP) that applied the files, and those that failed and changed nothing";
        samples.add(DaemonMetrics.labelled("tlsd_reloads_total", Sample.COUNTER, reloads, "result", "applied",
                reloadsApplied));
        samples.add(DaemonMetrics.labelled("tlsd_reloads_total", Sample.COUNTER, reloads, "result", "failed",
                reloadsFailed));
        samples.add(Sample.gauge("tlsd_last_reload_successful",
                "1 unless the last reload failed (the daemon runs with what it had before it)",
                lastReloadSucceeded ? 1 : 0));
        samples.add(Sample.gauge("tlsd_reload_changes_waiting",
                "settings, listeners and tunnels changed in the configuration file that the last reload could not"
                        + " apply (each one line of its warning): they wait for a restart",
                changesWaiting));
        samples.add(DaemonMetrics.bufferPool(ByteBufAllocator.DEFAULT));
        int retiringConnections = 0;
        for (Tunnel t : retiring.keySet()) {
            retiringConnections += t.stats().connections();
        }
        samples.add(Sample.gauge("tlsd_removed_tunnel_connections",
                "connections still carried by tunnels a reload removed or replaced (they close when these end)",
                retiringConnections));
        if (listeners != null) {
            samples.addAll(listeners.metricSamples());
        }
        clientTunnels.forEach((name, t) -> addTunnelSamples(samples, name, t.stats()));
        serverTunnels.forEach((name, t) -> addTunnelSamples(samples, name, t.stats()));
        ClientTlsContexts client = clientTls;
        if (client != null && client.clientCertificate() != null) {
            samples.add(DaemonMetrics.certificateExpiry("client", "", client.clientCertificate()));
        }
        if (client != null) {
            samples.addAll(DaemonMetrics.revocationListsCurrentUntil("client", "", client.revocationLists()));
        }
        for (TunnelConfig t : config.tunnels()) { // in the configuration's order
            ClientTlsContexts own = clientTunnelTls.get(t.name());
            if (own != null && own.clientCertificate() != null) {
                samples.add(DaemonMetrics.certificateExpiry("client_tunnel", t.name(), own.clientCertificate()));
            }
            if (own != null) {
                samples.addAll(DaemonMetrics.revocationListsCurrentUntil("client_tunnel", t.name(), own.revocationLists()));
            }
            ServerTunnel server = t.acceptProxyProtocol() == null ? null : serverTunnels.get(t.name());
            if (server != null) {
                samples.add(DaemonMetrics.labelled("tlsd_tunnel_proxy_untrusted_total", Sample.COUNTER,
                        "connections closed at once because they came from no load balancer of proxy_protocol_sources",
                        "tunnel", t.name(), server.untrustedCount()));
            }
            ServerTlsContexts served = serverTunnelTls.get(t.name());
            if (served != null) {
                served.leaves().forEach(leaf -> samples.add(DaemonMetrics.certificateExpiry("server_tunnel", t.name(), leaf)));
                samples.addAll(DaemonMetrics.revocationListsCurrentUntil("server_tunnel", t.name(),
                        served.clientRevocationLists()));
                for (ServerTlsContexts.Stapled stapled : served.staples()) {
                    samples.addAll(DaemonMetrics.ocsp("server_tunnel", t.name(), stapled));
                }
            }
        }
        return samples;
    }

    private static void addTunnelSamples(List<Sample> samples, String name, TunnelStats s) {
        samples.add(DaemonMetrics.labelled("tlsd_tunnel_connections", Sample.GAUGE, "connections the tunnel carries",
                "tunnel", name, s.connections()));
        samples.add(DaemonMetrics.labelled("tlsd_tunnel_closed_at_limit_total", Sample.COUNTER,
                "connections closed as soon as accepted because the tunnel carried max_connections, or their address"
                        + " its max_connections_per_client",
                "tunnel", name, s.refused()));
        samples.add(DaemonMetrics.labelled("tlsd_tunnel_dial_failures_total", Sample.COUNTER,
                "connections closed because the tunnel's target or backend could not be resolved or connected to",
                "tunnel", name, s.dialFailures()));
        samples.add(DaemonMetrics.labelled("tlsd_tunnel_handshake_failures_total", Sample.COUNTER,
                "connections closed because their TLS handshake failed (with the target, or with the client)",
                "tunnel", name, s.handshakeFailures()));
        String bytesHelp = "plaintext bytes relayed, from the tunnel's clients or to them";
        samples.add(new Sample("tlsd_tunnel_bytes_total", Sample.COUNTER, bytesHelp,
                tunnelDirection(name, "from_clients"), s.bytesFromClients()));
        samples.add(new Sample("tlsd_tunnel_bytes_total", Sample.COUNTER, bytesHelp,
                tunnelDirection(name, "to_clients"), s.bytesToClients()));
    }

    private static Map<String, String> tunnelDirection(String tunnel, String direction) {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("tunnel", tunnel);
        labels.put("direction", direction);
        return labels;
    }

    /** Where the metrics are served, with the port picked if it was 0; null when they are off. */
    public InetSocketAddress metricsAddress() {
        return metrics == null ? null : metrics.address();
    }

    private void startDebugSocket(Connector connector, Acceptor acceptor) throws Exception {
        if (config.debugSocket() != null) {
            debug = DebugServer.bind(config.debugSocket(), transport, control, workers,
                    new DebugServer.Settings(config.role().wireName(), config.limits()), connector, acceptor, counters);
            started.push(debug);
        }
    }

    /** Binds the IPC socket, the listeners and the tunnels, and starts serving. */
    public static TlsdDaemon start(DaemonConfig config) throws Exception {
        return new TlsdDaemon(config);
    }

    /** The IPC socket; fails on a tunnel-only daemon. */
    public Path socketPath() {
        if (ipc == null) {
            throw new IllegalStateException("this daemon serves no IPC socket");
        }
        return ipc.path();
    }

    public DaemonConfig config() {
        return config;
    }

    /** Server role: where a listener is bound (useful when configured with port 0). */
    public InetSocketAddress listenerAddress(String name) {
        if (listeners == null) {
            throw new IllegalStateException("this daemon has no listeners");
        }
        return listeners.localAddress(name);
    }

    /** Where a tunnel listens (useful when configured with port 0). */
    public InetSocketAddress tunnelAddress(String name) {
        Map<String, ? extends Tunnel> tunnels = config.role() == DaemonConfig.Role.SERVER ? serverTunnels : clientTunnels;
        Tunnel tunnel = tunnels.get(name);
        if (tunnel == null) {
            throw new IllegalArgumentException("no tunnel '" + name + "' (tunnels: " + tunnels.keySet() + ")");
        }
        return tunnel.localAddress();
    }

    public DaemonCounters.Snapshot stats() {
        return counters.snapshot();
    }

    /** Blocks until {@link #close()} (from another thread or a signal) has finished. */
    public void awaitTermination() throws InterruptedException {
        synchronized (closeLock) {
            while (!terminated) {
                closeLock.wait();
            }
        }
    }

    /**
     * Stops gracefully. At once it stops taking new work: the IPC socket file goes (so that a
     * daemon replacing this one can bind the path), tunnels and listeners stop listening, IPC
     * sessions get {@code UNAVAILABLE} for OPEN and ACCEPT and for the ACCEPTs waiting, sessions
     * that hold no connection end, and so does the debug socket; a reload under way stops waiting
     * for first OCSP answers ({@link OcspFetcher#endFirstFetchWaits()}). Then it waits, up to {@code
     * timeout}, for the rest to end: an IPC session ends as soon as it holds no connection, a
     * tunnel connection when its peers close it. Whatever is left then is closed as by {@link
     * #close()}, which this ends with. The foreground daemon does this on SIGTERM and SIGINT
     * ({@link DaemonConfig#drainTimeout()}); a second signal closes at once.
     *
     * @return true if everything ended within the timeout; false if it had to close connections,
     *     or if the daemon was stopping already
     */
    public boolean drain(Duration timeout) throws InterruptedException {
        synchronized (closeLock) {
            if (closing || draining) {
                return false;
            }
            draining = true;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        ocsp.endFirstFetchWaits(); // a reload under way that waits for first OCSP answers goes on at once
        if (ipc != null) {
            ipc.drain(timeout);
        }
        if (debug != null) {
            debug.close();
        }
        synchronized (this) { // after a reload under way, which may add listeners and tunnels; those after it see draining
            if (listeners != null) {
                listeners.close();
            }
            clientTunnels.values().forEach(ClientTunnel::stopAccepting);
            serverTunnels.values().forEach(ServerTunnel::stopAccepting);
        }
        log.info("draining for up to {} ms: {} IPC session(s) and {} tunnel connection(s) may finish",
                timeout.toMillis(), ipcSessions(), tunnelConnections());
        boolean drained;
        while (!(drained = ipcSessions() == 0 && tunnelConnections() == 0)) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            synchronized (closeLock) {
                if (closing) {
                    return false; // closed at once meanwhile (a second signal)
                }
                if (left <= 0) {
                    break;
                }
                closeLock.wait(Math.min(left, 50));
            }
        }
        synchronized (closeLock) {
            if (closing) {
                return false; // closed at once meanwhile (a second signal): that ended them, not they
            }
        }
        if (drained) {
            log.info("drained: every session and tunnel connection ended");
        } else {
            log.warn("drain timeout after {} ms: closing {} IPC session(s) and {} tunnel connection(s)",
                    timeout.toMillis(), ipcSessions(), tunnelConnections());
        }
        close();
        return drained;
    }

    private int ipcSessions() {
        return ipc == null ? 0 : ipc.sessions();
    }

    private int tunnelConnections() {
        int n = 0;
        for (ClientTunnel t : clientTunnels.values()) {
            n += t.stats().connections();
        }
        for (ServerTunnel t : serverTunnels.values()) {
            n += t.stats().connections();
        }
        for (Tunnel t : retiring.keySet()) {
            n += t.stats().connections();
        }
        return n;
    }

    /**
     * Stops listening, says Goodbye to every session, closes every connection and tunnel, removes
     * the socket. Idempotent.
     */
    @Override
    public void close() {
        synchronized (closeLock) {
            if (closing) {
                return;
            }
            closing = true;
        }
        try {
            ocsp.close(); // a reload under way that waits for first OCSP answers stops waiting
            synchronized (this) { // after a reload under way, which may add tunnels; those after it refuse
                closeStarted();
            }
            shutdownLoops();
            log.info("tlsd stopped");
        } finally {
            synchronized (closeLock) {
                terminated = true; // only now: the socket file is gone and the loops are stopped
                closeLock.notifyAll();
            }
        }
    }

    private void closeStarted() {
        List<Exception> failures = new ArrayList<>();
        // polled, not popped after a check: a removed tunnel's last connection may take it meanwhile
        for (AutoCloseable next; (next = started.pollFirst()) != null; ) {
            try {
                next.close();
            } catch (Exception e) {
                failures.add(e);
            }
        }
        failures.forEach(e -> log.warn("while stopping: {}", e.toString()));
    }

    private void shutdownLoops() {
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        if (handshakes != null) {
            handshakes.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        control.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        resolver.close();
        ocsp.close();
    }
}
