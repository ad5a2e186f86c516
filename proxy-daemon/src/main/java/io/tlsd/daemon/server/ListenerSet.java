package io.tlsd.daemon.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;
import io.tlsd.daemon.engine.Acceptor;
import io.tlsd.daemon.engine.Failure;
import io.tlsd.daemon.metrics.DaemonMetrics;
import io.tlsd.daemon.metrics.Sample;
import io.tlsd.daemon.tls.ConnectionInfos;
import io.tlsd.daemon.tls.OcspFetcher;
import io.tlsd.daemon.tls.ServerTlsContexts;
import io.tlsd.daemon.tls.TlsParameters;
import io.tlsd.daemon.tls.TicketKeys;
import io.tlsd.daemon.tls.signing.SigningPolicy;
import io.tlsd.daemon.transport.ConnectionLimit;
import io.netty.channel.unix.PeerCredentials;
import io.tlsd.daemon.ipc.AllowedPeers;
import io.tlsd.daemon.transport.TcpKeepalive;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.proto.v1.ConnectionInfo;
import io.tlsd.proto.v1.Status;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The server role's listeners, by name: what ACCEPT requests are served from. */
public final class ListenerSet implements Acceptor, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ListenerSet.class);

    /**
     * By name, in the configuration's order; replaced whole by a reload that adds or removes one
     * (read by the IPC sessions' loops and the metrics server without a lock).
     */
    private volatile Map<String, TlsListener> listeners = Map.of();
    private final TlsParameters tls;
    private final TicketKeys tickets;
    private final SigningPolicy signing;
    private final Transport transport;
    private final EventLoopGroup control;
    private final EventLoopGroup handshakes;
    private final TcpKeepalive keepalive;
    private final OcspFetcher ocsp;

    private ListenerSet(TlsParameters tls, TicketKeys tickets, SigningPolicy signing, Transport transport,
                        EventLoopGroup control, EventLoopGroup handshakes, TcpKeepalive keepalive, OcspFetcher ocsp) {
        this.ocsp = ocsp;
        this.tls = tls;
        this.tickets = tickets;
        this.signing = signing;
        this.transport = transport;
        this.control = control;
        this.handshakes = handshakes;
        this.keepalive = keepalive;
    }

    /**
     * Loads every listener's keys, builds its contexts and binds it. Nothing is bound if any
     * listener fails (the error names it).
     *
     * @param handshakes the loops that accepted clients handshake on until an ACCEPT moves them
     * @param keepalive TCP keepalive for the accepted connections
     * @param ocsp fetches the OCSP responses of the certificates with {@code ocsp_fetch}
     */
    public static ListenerSet bind(List<ListenerConfig> configs, TlsParameters tls,
                                   TicketKeys tickets, SigningPolicy signing, Transport transport,
                                   EventLoopGroup control, EventLoopGroup handshakes, TcpKeepalive keepalive,
                                   OcspFetcher ocsp)
            throws IOException, InterruptedException {
        ListenerSet set = new ListenerSet(tls, tickets, signing, transport, control, handshakes, keepalive, ocsp);
        Map<String, TlsListener> made = new LinkedHashMap<>();
        for (ListenerConfig config : configs) {
            if (made.containsKey(config.name())) {
                throw new IllegalArgumentException("two listeners are named '" + config.name() + "'");
            }
            made.put(config.name(), new TlsListener(config, set.contextsOf(config)));
        }
        ocsp.awaitFirstFetchesOf(made.values().stream().map(TlsListener::contexts).toList());
        set.bindAll(made.values());
        set.listeners = made;
        return set;
    }

    /** Binds {@code made}; if one cannot listen, closes them all and throws, naming it. */
    private void bindAll(Iterable<TlsListener> made) throws IOException, InterruptedException {
        try {
            for (TlsListener listener : made) {
                listener.bind(transport, control, handshakes, keepalive);
                ListenerConfig config = listener.config();
                log.info("listener {} on {} (client auth {}, ALPN {}, backlog {}, max pending connections {}{})",
                        listener.name(), ConnectionInfos.addressString(listener.localAddress()),
                        config.clientAuth().name().toLowerCase(), config.alpn(), config.backlog(),
                        ConnectionLimit.describe(config.maxPendingConnections(), config.maxPendingConnectionsPerClient()),
                        config.acceptProxyProtocol() == null ? ""
                                : ", PROXY protocol in from " + config.acceptProxyProtocol());
            }
        } catch (Exception | Error e) {
            made.forEach(TlsListener::close);
            throw e;
        }
    }

    /** Reads the listener's certificate, key and client-CA files and builds its contexts. */
    private ServerTlsContexts contextsOf(ListenerConfig config) throws SSLException {
        List<ServerTlsContexts.Identity> identities = new ArrayList<>();
        for (ListenerConfig.CertificateSpec spec : config.certificates()) {
            identities.add(spec.identity(ocsp));
        }
        return new ServerTlsContexts(identities, config.alpn(), config.clientAuth(), config.clientCaFile(),
                config.clientCrlFile(), config.allowedClients(), tls,
                tickets, signing);
    }

    /**
     * Reads the certificate, key, passphrase, client-CA and client-CRL files that {@code configs}
     * name, and serves them to the clients accepted from then on: each listener named in {@code
     * configs} takes that one as its configuration (its TLS settings: certificates, ALPN, client
     * authentication, client CA and CRL files, allowed clients; its backlog and pending limits),
     * the others stay as they are; one of a name this set does not have is added, and listens; one
     * named in {@code moved} listens on its new address and no more on its old one, and keeps the
     * clients it accepted there and the ACCEPTs waiting on it. Connections already up keep what
     * they have. Any other listener must not differ from the running one in its address ({@code
     * TlsdDaemon}'s reload sees to that). All or nothing: when one listener's files cannot be used,
     * or one added or moved cannot listen, no listener changes. Session tickets stay valid, the
     * ticket keys are not renewed.
     *
     * @param added the names in {@code configs} of the listeners to add
     * @param moved the names in {@code configs} of running listeners whose address is new
     * @return the reloaded, moved and added listeners with their certificates' subjects, for the log
     * @throws IllegalArgumentException naming the listener and the file, if one cannot be used, or
     *     the listener that cannot listen; or a listener this set does not have, not in {@code added}
     */
    public List<String> reload(List<ListenerConfig> configs, Set<String> added, Set<String> moved) {
        Map<String, TlsListener> running = listeners;
        Map<TlsListener, ListenerConfig> nextConfigs = new LinkedHashMap<>();
        Map<TlsListener, ServerTlsContexts> next = new LinkedHashMap<>();
        Map<String, TlsListener> made = new LinkedHashMap<>();
        for (ListenerConfig config : configs) {
            TlsListener listener = running.get(config.name());
            if (listener == null && !added.contains(config.name())) {
                throw new IllegalArgumentException("there is no listener " + config.name() + " to reload");
            }
            try {
                if (listener == null) {
                    made.put(config.name(), new TlsListener(config, contextsOf(config)));
                    continue;
                }
                next.put(listener, contextsOf(config));
            } catch (SSLException | RuntimeException e) {
                throw new IllegalArgumentException("listener " + config.name() + ": " + e.getMessage(), e);
            }
            nextConfigs.put(listener, config);
        }
        List<ServerTlsContexts> rebuilt = new ArrayList<>(next.values());
        made.values().forEach(l -> rebuilt.add(l.contexts()));
        try {
            ocsp.awaitFirstFetchesOf(rebuilt);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // not expected (nothing interrupts the reload thread): go on
        }
        Map<TlsListener, Channel> movedTo = new LinkedHashMap<>();
        boolean bound = false;
        try {
            for (Map.Entry<TlsListener, ListenerConfig> e : nextConfigs.entrySet()) {
                TlsListener listener = e.getKey();
                // the address it runs with, not the one it started with: a reload that failed after
                // the move left the daemon's configuration behind
                if (moved.contains(listener.name()) && !listener.config().address().equals(e.getValue().address())) {
                    movedTo.put(listener, listener.listen(e.getValue().address(), transport, control, handshakes,
                            keepalive));
                }
            }
            bindAll(made.values());
            bound = true;
        } catch (IOException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalArgumentException("interrupted while binding the listeners added or moved", e);
        } finally {
            if (!bound) {
                // each accepted no client (auto-read off): what waits in the kernel's backlog is reset
                movedTo.values().forEach(ch -> ch.close().syncUninterruptibly());
            }
        }
        List<String> reloaded = new ArrayList<>();
        next.forEach((listener, contexts) -> {
            InetSocketAddress before = listener.localAddress();
            listener.reconfigure(nextConfigs.get(listener), contexts);
            Channel to = movedTo.get(listener);
            if (to != null) {
                listener.moveTo(to);
            }
            ListenerConfig c = nextConfigs.get(listener);
            reloaded.add("listener " + listener.name() + (to == null ? "" : " moved to "
                    + ConnectionInfos.addressString(listener.localAddress()) + " (was "
                    + ConnectionInfos.addressString(before) + ")") + " (" + contexts.describe() + "; backlog "
                    + c.backlog() + ", max pending connections " + ConnectionLimit.describe(c.maxPendingConnections(),
                    c.maxPendingConnectionsPerClient()) + ")");
        });
        Map<String, TlsListener> now = new LinkedHashMap<>(); // in the order of configs, then those not in it
        for (ListenerConfig config : configs) {
            TlsListener fresh = made.get(config.name());
            now.put(config.name(), fresh != null ? fresh : running.get(config.name()));
            if (fresh != null) {
                reloaded.add("listener " + config.name() + " added, listening on " + ConnectionInfos.addressString(
                        fresh.localAddress()) + " (" + fresh.contexts().describe() + ")");
            }
        }
        running.forEach(now::putIfAbsent);
        listeners = now;
        return reloaded;
    }

    /**
     * Removes the listeners named: each stops listening, the clients that wait for an ACCEPT are
     * closed, and the ACCEPTs waiting on it fail UNAVAILABLE; an ACCEPT for its name from then on
     * fails NOT_FOUND. Connections applications took keep going.
     *
     * @return what became of each, for the log
     */
    public List<String> remove(Collection<String> names) {
        Map<String, TlsListener> now = new LinkedHashMap<>(listeners);
        List<TlsListener> removed = new ArrayList<>();
        for (String name : names) {
            TlsListener listener = now.remove(name);
            if (listener != null) {
                removed.add(listener);
            }
        }
        listeners = now; // first: no ACCEPT finds them now
        List<String> said = new ArrayList<>();
        for (TlsListener listener : removed) {
            int failed = listener.remove();
            said.add("listener " + listener.name() + " removed (" + failed + " waiting ACCEPT(s) failed)");
        }
        return said;
    }

    /** The contexts the listeners accept clients with now. */
    public List<ServerTlsContexts> contexts() {
        return listeners.values().stream().map(TlsListener::contexts).toList();
    }

    /** Each listener's gauges and counters, labelled with its name. */
    public List<Sample> metricSamples() {
        List<Sample> out = new ArrayList<>();
        for (TlsListener l : listeners.values()) {
            out.add(DaemonMetrics.labelled("tlsd_listener_pending_connections", Sample.GAUGE,
                    "clients accepted and not yet taken by an ACCEPT: handshaking, or waiting in the backlog",
                    "listener", l.name(), l.pendingCount()));
            out.add(DaemonMetrics.labelled("tlsd_listener_closed_at_limit_total", Sample.COUNTER,
                    "clients closed as soon as accepted because max_pending_connections were pending, or their address's"
                            + " max_pending_connections_per_client",
                    "listener", l.name(), l.closedAtLimitCount()));
            out.add(DaemonMetrics.labelled("tlsd_listener_backlog_refused_total", Sample.COUNTER,
                    "handshaked clients refused because the backlog of clients waiting for an ACCEPT was full",
                    "listener", l.name(), l.refusedCount()));
            if (l.config().acceptProxyProtocol() != null) {
                out.add(DaemonMetrics.labelled("tlsd_listener_proxy_untrusted_total", Sample.COUNTER,
                        "clients closed at once because they came from no load balancer of proxy_protocol_sources",
                        "listener", l.name(), l.untrustedCount()));
            }
            out.add(DaemonMetrics.labelled("tlsd_listener_handshake_failures_total", Sample.COUNTER,
                    "client handshakes that failed (or timed out) on the listener",
                    "listener", l.name(), l.handshakeFailureCount()));
            for (X509Certificate leaf : l.contexts().leaves()) {
                out.add(DaemonMetrics.certificateExpiry("listener", l.name(), leaf));
            }
            out.addAll(DaemonMetrics.revocationListsCurrentUntil("listener", l.name(),
                    l.contexts().clientRevocationLists()));
            for (ServerTlsContexts.Stapled stapled : l.contexts().staples()) {
                out.addAll(DaemonMetrics.ocsp("listener", l.name(), stapled));
            }
        }
        return out;
    }

    /** The bound address of a listener (its port when configured as 0). */
    public InetSocketAddress localAddress(String name) {
        Map<String, TlsListener> all = listeners;
        TlsListener listener = all.get(name);
        if (listener == null) {
            throw new IllegalArgumentException("no listener '" + name + "' (listeners: " + all.keySet() + ")");
        }
        return listener.localAddress();
    }

    @Override
    public Future<Channel> accept(String listener, EventLoop loop) {
        return accept(listener, loop, null);
    }

    @Override
    public Future<Channel> accept(String listener, EventLoop loop, PeerCredentials peer) {
        Map<String, TlsListener> all = listeners;
        TlsListener l = all.get(listener);
        if (l == null) {
            return loop.newFailedFuture(new Failure(Status.NOT_FOUND,
                    "no listener '" + listener + "' (listeners: " + String.join(", ", all.keySet()) + ")"));
        }
        return l.accept(loop, peer);
    }

    @Override
    public boolean mayAccept(String listener, PeerCredentials peer) {
        TlsListener l = listeners.get(listener);
        AllowedPeers allowed = l == null ? null : l.config().allowedPeers();
        return allowed == null || allowed.allows(peer);
    }

    @Override
    public void attach(Channel channel, ChannelHandler handler) {
        HandshakeGate gate = channel.pipeline().get(HandshakeGate.class);
        gate.handOverTo(channel.pipeline().context(gate), handler);
    }

    @Override
    public ConnectionInfo describe(Channel channel, long connectionId) {
        HandshakeGate gate = channel.pipeline().get(HandshakeGate.class);
        TlsListener listener = gate.listener();
        return ConnectionInfos.of(channel, connectionId)
                .setServerName(gate.serverName())
                .setListener(listener.name())
                .build();
    }

    @Override
    public void close() {
        for (TlsListener listener : listeners.values()) {
            listener.close();
        }
    }
}
