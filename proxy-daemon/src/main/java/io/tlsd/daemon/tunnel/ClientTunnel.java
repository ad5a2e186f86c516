package io.tlsd.daemon.tunnel;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.Future;
import io.tlsd.daemon.tls.TlsFailures;
import io.tlsd.daemon.transport.ConnectFailures;
import io.tlsd.daemon.transport.ConnectionLimit;
import io.tlsd.daemon.transport.HostResolver;
import io.tlsd.daemon.transport.Transport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Accepts plain TCP connections and carries each one over a new TLS connection to the target,
 * like {@code stunnel} in client mode (a reload may point it elsewhere, {@link #target(Target)}): applications that cannot speak TLS talk plain TCP
 * to the listen address.
 *
 * <pre>{@code
 * SslContext tls = new ClientTlsContexts(TlsParameters.DEFAULTS, caFile).forAlpn(List.of());
 * ClientTunnel tunnel = new ClientTunnel(Transport.select("auto"), boss, workers, tls,
 *         new InetSocketAddress("127.0.0.1", 8080), "example.com", 443, null, TunnelSettings.DEFAULTS);
 * tunnel.start();
 * // curl http://127.0.0.1:8080/ now reaches https://example.com/
 * tunnel.close();
 * }</pre>
 *
 * <p>The target's certificate chain and name are checked by {@code context}, which must verify
 * (the contexts of {@code ClientTlsContexts} do); the name checked and sent as SNI is the server
 * name, by default the target host. A host name is resolved for every connection, off the
 * event loops; an IP literal is used as it is.
 *
 * <p>A connection is read only once its TLS connection is up. If the target cannot be resolved
 * or reached, or the handshake fails, the client's connection is reset (RST), like stunnel does,
 * so that the application sees a failure rather than an empty reply; the reason is logged.
 * Half-closes, truncation and backpressure are handled as {@link Relay} describes. Beyond
 * {@link TunnelSettings#maxConnections()} connections at once, a new one is closed as soon as it
 * is accepted, before the target is dialed, and a warning is logged at most every 10 s.
 */
public final class ClientTunnel implements Tunnel {
    private static final Logger log = LoggerFactory.getLogger(ClientTunnel.class);

    private final Transport transport;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final InetSocketAddress listen;
    /**
     * Where connections go and how they are verified; replaced by {@link #target(Target)}. A
     * connection takes the one of the moment it is accepted.
     */
    private volatile Target target;
    /** Replaced by {@link #settings(TunnelSettings)}; a connection reads it when accepted. */
    private volatile TunnelSettings settings;
    /** Resolves the target for every connection (a name may change), off the event loops. */
    private final HostResolver resolver;
    private final Listener listener;
    private volatile InetSocketAddress localAddress;

    /**
     * @param transport epoll or NIO; channels of the other transport cannot join these groups
     * @param boss the loop that accepts connections
     * @param workers the loops that carry them; each connection and its TLS connection share one
     * @param context a client context that verifies the target's chain and name
     * @param listen where to accept plain TCP; port 0 picks a free port ({@link #localAddress()})
     * @param targetHost the TLS server's host name or IP literal
     * @param targetPort the TLS server's port
     * @param serverName the name to send as SNI and to verify, or null for {@code targetHost}
     * @param settings connect, handshake and idle timeouts, and the connection limit
     */
    public ClientTunnel(Transport transport, EventLoopGroup boss, EventLoopGroup workers, SslContext context,
                        InetSocketAddress listen, String targetHost, int targetPort, String serverName,
                        TunnelSettings settings) {
        this(transport, boss, workers, context, listen, targetHost, targetPort, serverName, settings,
                InetAddress::getAllByName);
    }

    /**
     * As above, with the target's addresses from {@code lookup} instead of the JDK's resolver: the
     * connections try them in turn, passing over those that refuse or do not answer.
     */
    public ClientTunnel(Transport transport, EventLoopGroup boss, EventLoopGroup workers, SslContext context,
                        InetSocketAddress listen, String targetHost, int targetPort, String serverName,
                        TunnelSettings settings, HostResolver.Lookup lookup) {
        this.resolver = new HostResolver("tlsd-tunnel-resolver", Objects.requireNonNull(lookup, "lookup == null"));
        this.transport = Objects.requireNonNull(transport, "transport == null");
        this.boss = Objects.requireNonNull(boss, "boss == null");
        this.workers = Objects.requireNonNull(workers, "workers == null");
        this.listen = Objects.requireNonNull(listen, "listen == null");
        this.settings = Objects.requireNonNull(settings, "settings == null");
        this.target = new Target(context, targetHost, targetPort, serverName);
        this.listener = new Listener(settings.connectionLimit(this::name));
    }

    /**
     * The TLS server a connection dials, the name it sends and verifies, and the context it
     * verifies with: one value, so that a reload that changes a target together with its trust
     * anchors is seen whole.
     *
     * @param serverName the name to send as SNI and to verify; the host when null or empty
     */
    public record Target(SslContext context, String host, int port, String serverName) {
        /**
         * @param serverName the name to send as SNI and to verify, or null for {@code host}
         * @throws IllegalArgumentException if {@code context} is a server context, the host is
         *     empty or the port not in 1..65535
         */
        public Target {
            Objects.requireNonNull(context, "context == null");
            Objects.requireNonNull(host, "targetHost == null");
            if (!context.isClient()) {
                throw new IllegalArgumentException("context is a server context");
            }
            if (host.isEmpty()) {
                throw new IllegalArgumentException("targetHost is empty");
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("targetPort " + port + " is not in 1..65535");
            }
            serverName = serverName == null || serverName.isEmpty() ? host : serverName;
        }

        @Override
        public String toString() {
            return NetUtil.toSocketAddressString(host, port);
        }
    }

    /**
     * Dials {@code next} (another target or server name, other trust anchors or client
     * certificate) for the connections accepted from now on (a reload); connections up already
     * keep theirs.
     */
    public void target(Target next) {
        target = Objects.requireNonNull(next, "next == null");
    }

    /**
     * Uses {@code next}'s timeouts, connection limits and access log for the connections accepted
     * from now on (a reload); those up already keep theirs, and keep their places even beyond a
     * lower limit.
     *
     * @throws IllegalStateException if {@code next} names another tunnel
     */
    public void settings(TunnelSettings next) {
        settings = listener.reconfigure(settings, next);
    }

    /**
     * Binds the listen address and starts accepting; returns once listening.
     *
     * @throws IOException if the address cannot be bound
     * @throws IllegalStateException if started before or closed
     */
    @Override
    public void start() throws IOException {
        localAddress = listener.bind(transport, boss, workers, listen, new PlainClientInitializer());
        Target to = target;
        log.info("{}{} → target {}: listening (TLS server name {}, connect timeout {} ms, handshake timeout {} ms, "
                        + "idle timeout {}, max connections {})", settings.logPrefix(), Relay.addressString(localAddress),
                to, to.serverName,
                settings.connectTimeout().toMillis(), settings.handshakeTimeout().toMillis(), idleTimeout(),
                ConnectionLimit.describe(settings.maxConnections(), settings.maxConnectionsPerClient()));
    }

    /**
     * Stops accepting connections; those carried go on until they end or {@link #close()}. The
     * first step of a graceful shutdown.
     */
    @Override
    public void stopAccepting() {
        listener.stopAccepting();
    }

    /** What the tunnel carries now and has carried since it started. */
    @Override
    public TunnelStats stats() {
        return listener.stats();
    }

    /**
     * The bound address, with the port picked if {@code listen} had port 0.
     *
     * @throws IllegalStateException if not started
     */
    @Override
    public InetSocketAddress localAddress() {
        InetSocketAddress address = localAddress;
        if (address == null) {
            throw new IllegalStateException("not started");
        }
        return address;
    }

    /**
     * Stops listening and closes every tunnelled connection: close_notify to the target, FIN to
     * the client. Waits up to 5 s for them to close. Idempotent; close before shutting down the
     * event loops.
     */
    @Override
    public void close() {
        listener.close();
        resolver.close();
    }

    @Override
    public String toString() {
        return "ClientTunnel " + (localAddress == null ? Relay.addressString(listen) : Relay.addressString(localAddress))
                + " → " + target;
    }

    private String idleTimeout() {
        return settings.idleTimeout().isZero() ? "off" : settings.idleTimeout().toMillis() + " ms";
    }

    /** "tunnel NAME 127.0.0.1:8080 → target example.com:443", from the address the client reached. */
    private String name(Channel accepted) {
        return name(accepted, target);
    }

    private String name(Channel accepted, Target to) {
        return settings.logPrefix() + Relay.addressString(accepted.localAddress()) + " → target " + to;
    }

    /** The accepted plain connection from the client, in reading order. */
    private final class PlainClientInitializer extends ChannelInitializer<Channel> {
        @Override
        protected void initChannel(Channel ch) {
            if (!listener.admit(ch, false)) {
                return; // closed: the tunnel carries max_connections already
            }
            TunnelSettings with = settings; // what the client is accepted with
            Target to = target; // and where it goes
            Relay relay = new Relay(name(ch, to), End.plain(ch, "client"), listener, with.accessLog());
            if (!with.idleTimeout().isZero()) {
                // no bytes either way for the idle timeout: the relay closes both connections
                ch.pipeline().addLast("idle", new IdleStateHandler(
                        0, 0, with.idleTimeout().toMillis(), TimeUnit.MILLISECONDS));
            }
            // the client's bytes to the target, its FIN to a close_notify; reads only once the TLS connection is up
            ch.pipeline().addLast("relay", new RelayHandler(relay, relay.accepted()));
            listener.track(relay);
            Future<List<InetAddress>> addresses = resolver.resolveAll(to.host, ch.eventLoop());
            addresses.addListener(resolved -> {
                if (resolved.isSuccess()) {
                    dial(relay, addresses.getNow(), 0, with, to);
                } else if (!relay.isClosed()) {
                    listener.dialFailed(relay);
                    log.warn("{}: cannot resolve {} for client {}: {}", name(ch, to), to.host,
                            relay.accepted().peer(), Relay.describe(resolved.cause()));
                    relay.abort();
                }
            });
        }
    }

    /** The TLS connection to the target, in reading order. */
    private final class TlsTargetInitializer extends ChannelInitializer<Channel> {
        private final Relay relay;
        private final TunnelSettings with;
        private final Target to;

        TlsTargetInitializer(Relay relay, TunnelSettings with, Target to) {
            this.relay = relay;
            this.with = with;
            this.to = to;
        }

        @Override
        protected void initChannel(Channel ch) {
            SslHandler tls = to.context.newHandler(ch.alloc(), to.serverName, to.port);
            tls.setHandshakeTimeoutMillis(with.handshakeTimeout().toMillis());
            End target = End.tls(ch, tls, "target");
            ch.pipeline()
                    // encrypts, decrypts, verifies the target's chain and name, within the handshake timeout
                    .addLast("tls", tls)
                    // the target's decrypted bytes to the client, its close_notify to a FIN
                    .addLast("relay", new RelayHandler(relay, target));
            relay.attach(target);
        }
    }

    /**
     * Once the connect to the target succeeded: starts the relay when the handshake is done, or
     * counts and logs its failure. (A connect that failed also fails its channel's handshake, when
     * the channel goes; that is no handshake failure, and the next address may be tried.)
     */
    private void watchHandshake(Relay relay, SslHandler tls, Target to) {
        tls.handshakeFuture().addListener(handshake -> {
            if (handshake.isSuccess()) {
                relay.start(null);
            } else if (!relay.isClosed()) {
                // SslHandler closes the channel after sending its alert; the relay then resets the client.
                listener.handshakeFailed(relay);
                log.warn("{}: TLS handshake failed for client {}: {}", name(relay.accepted().channel, to),
                        relay.accepted().peer(), TlsFailures.ofHandshake(handshake.cause(), to.serverName).detail());
            }
        });
    }

    /**
     * Connects {@code relay}'s client to the target at {@code addresses[next]}, with the settings it
     * was accepted with; an address that refuses or does not answer passes over to the next.
     */
    private void dial(Relay relay, List<InetAddress> addresses, int next, TunnelSettings with, Target to) {
        Channel client = relay.accepted().channel;
        if (relay.isClosed()) {
            return;
        }
        InetSocketAddress address = new InetSocketAddress(addresses.get(next), to.port);
        ChannelFuture connect = new Bootstrap()
                .group(client.eventLoop()) // the same loop as the client: no locks, no hand-offs
                .channel(transport.socketChannel())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.RCVBUF_ALLOCATOR, Relay.READS)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) with.connectTimeout().toMillis())
                .handler(new TlsTargetInitializer(relay, with, to))
                .connect(address);
        listener.trackDialed(connect.channel());
        connect.addListener(connected -> {
            if (connected.isSuccess()) {
                watchHandshake(relay, connect.channel().pipeline().get(SslHandler.class), to);
            } else if (!relay.isClosed() && next + 1 < addresses.size()) {
                log.info("{}: connect to {} failed for client {}, trying the next address: {}", name(client, to),
                        Relay.addressString(address), relay.accepted().peer(),
                        ConnectFailures.reason(connected.cause(), with.connectTimeout()));
                dial(relay, addresses, next + 1, with, to);
            } else if (!relay.isClosed()) {
                listener.dialFailed(relay);
                log.warn("{}: connect failed for client {}: {}", name(client, to), relay.accepted().peer(),
                        ConnectFailures.reason(connected.cause(), with.connectTimeout()));
                relay.abort();
            }
        });
    }
}
