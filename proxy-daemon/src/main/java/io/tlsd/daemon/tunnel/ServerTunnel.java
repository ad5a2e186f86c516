package io.tlsd.daemon.tunnel;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.Mapping;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.PromiseNotifier;
import io.tlsd.daemon.transport.ConnectFailures;
import io.tlsd.daemon.transport.ConnectionLimit;
import io.tlsd.daemon.transport.ProxyProtocolIn;
import io.tlsd.daemon.transport.ProxySources;
import io.tlsd.daemon.transport.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Accepts TLS connections and carries each one over a new plain TCP connection to a backend (one,
 * or one per SNI name), like {@code stunnel} in server mode or ghostunnel: the backend speaks plain
 * TCP and the tunnel terminates TLS for it.
 *
 * <pre>{@code
 * SslContext tls = SslContextBuilder.forServer(certChainPem, keyPem)
 *         .sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3").build();
 * ServerTunnel tunnel = new ServerTunnel(Transport.select("auto"), boss, workers, tls,
 *         new InetSocketAddress(4433), new InetSocketAddress("127.0.0.1", 8080), true, TunnelSettings.DEFAULTS);
 * tunnel.start();
 * tunnel.close();
 * }</pre>
 *
 * <p><b>When the backend is down.</b> The backend connect starts as soon as a TLS connection is
 * accepted (with several certificates or routes: as soon as its ClientHello is in), in parallel
 * with the handshake, so that a working backend adds no latency. If it
 * fails, the client's connection is closed at once (with close_notify when the handshake got that
 * far) and the reason is logged; the client sees a prompt close instead of a handshake that
 * succeeds and a connection that then says nothing. Bytes flow only once both the handshake
 * and the backend connect succeeded.
 *
 * <p><b>Too many clients.</b> Beyond {@link TunnelSettings#maxConnections()} connections at once,
 * a new one is closed as soon as it is accepted, before its handshake or backend connect, and a
 * warning is logged at most every 10 s ({@link io.tlsd.daemon.transport.ConnectionLimit}).
 *
 * <p><b>PROXY protocol.</b> With {@code proxyProtocol}, the first bytes the backend receives are
 * a PROXY protocol v2 header with the client's address, the address it connected to, the ALPN
 * protocol, the SNI name and the TLS version, cipher and client certificate CN
 * ({@link ProxyHeaderEncoder}).
 *
 * <p><b>Half-close.</b> A client's close_notify ends the backend's input (FIN). Whether the
 * backend can still answer depends on the TLS engine: the JDK's ({@code SslProvider.JDK}) keeps
 * TLS 1.3 connections open for it, while netty's OpenSSL/BoringSSL engine answers a close_notify
 * with its own and can send nothing after it, so with it a client's half-close ends both
 * directions. See {@link Relay} for the rest (backpressure, truncation, errors).
 *
 * <p><b>Several certificates.</b> Given a mapping from SNI names to contexts instead of one
 * context, the tunnel reads each client's ClientHello first and serves the context its SNI name
 * maps to (the mapping's default for none, and for first bytes that are no ClientHello); the
 * backend connect starts then. A client whose ClientHello cannot be used, or that sends none within
 * the handshake timeout (counted from the accept, as with one context), is closed and counted as a
 * failed handshake.
 *
 * <p>A handshake must complete within the handshake timeout, so a silent client cannot hold a
 * connection; {@code context} decides about client certificates.
 */
public final class ServerTunnel implements Tunnel {
    private static final Logger log = LoggerFactory.getLogger(ServerTunnel.class);

    private final Transport transport;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    /**
     * The contexts and backends; replaced on reload, a client gets what was served the moment it
     * is accepted.
     */
    private volatile Served served;
    private final InetSocketAddress listen;
    private final boolean proxyProtocol;
    /**
     * Each connection begins with a PROXY header from one of these load balancers; null: no header.
     * Read once per accepted connection; a reload may replace it.
     */
    private volatile ProxySources acceptProxyProtocol;
    /** Connections closed for want of a PROXY header or of a balancer of {@code proxy_protocol_sources}. */
    private final ProxyProtocolIn.Refusals proxyRefusals = new ProxyProtocolIn.Refusals();
    /** Replaced by {@link #settings(TunnelSettings)}; a connection reads it when accepted. */
    private volatile TunnelSettings settings;
    private final Listener listener;
    private volatile InetSocketAddress localAddress;

    /**
     * @param transport epoll or NIO; channels of the other transport cannot join these groups
     * @param boss the loop that accepts connections
     * @param workers the loops that carry them; each TLS connection and its backend connection share one
     * @param context a server context (certificate, key, protocols, ALPN, client authentication)
     * @param listen where to accept TLS; port 0 picks a free port ({@link #localAddress()})
     * @param backend the plain TCP server, resolved
     * @param proxyProtocol whether to send the backend a PROXY protocol v2 header first
     * @param settings connect, handshake and idle timeouts, and the connection limit
     */
    public ServerTunnel(Transport transport, EventLoopGroup boss, EventLoopGroup workers, SslContext context,
                        InetSocketAddress listen, InetSocketAddress backend, boolean proxyProtocol,
                        TunnelSettings settings) {
        this(transport, boss, workers, Served.of(context, backend), listen, proxyProtocol, settings);
    }

    /**
     * A tunnel that serves each client the context its SNI name maps to.
     *
     * @param bySni SNI name → server context; its default ({@code map(null)}) for clients that send
     *     no name or one it does not know, e.g. Netty's {@code DomainWildcardMappingBuilder}'s
     * @see #ServerTunnel(Transport, EventLoopGroup, EventLoopGroup, SslContext, InetSocketAddress,
     *     InetSocketAddress, boolean, TunnelSettings)
     */
    public ServerTunnel(Transport transport, EventLoopGroup boss, EventLoopGroup workers,
                        Mapping<String, SslContext> bySni, InetSocketAddress listen, InetSocketAddress backend,
                        boolean proxyProtocol, TunnelSettings settings) {
        this(transport, boss, workers, Served.of(bySni, backend, null), listen, proxyProtocol, settings);
    }

    /**
     * A tunnel that serves each client the context its SNI name maps to, and carries it to the
     * backend its SNI name maps to.
     *
     * @param backendsBySni SNI name → backend, resolved; its default ({@code map(null)}) for clients
     *     that send no name or one it does not know
     * @see #ServerTunnel(Transport, EventLoopGroup, EventLoopGroup, Mapping, InetSocketAddress,
     *     InetSocketAddress, boolean, TunnelSettings)
     */
    public ServerTunnel(Transport transport, EventLoopGroup boss, EventLoopGroup workers,
                        Mapping<String, SslContext> bySni, InetSocketAddress listen,
                        Mapping<String, InetSocketAddress> backendsBySni, boolean proxyProtocol,
                        TunnelSettings settings) {
        this(transport, boss, workers,
                Served.of(bySni, null, Objects.requireNonNull(backendsBySni, "backendsBySni == null")), listen,
                proxyProtocol, settings);
    }

    private ServerTunnel(Transport transport, EventLoopGroup boss, EventLoopGroup workers, Served served,
                         InetSocketAddress listen, boolean proxyProtocol, TunnelSettings settings) {
        this.transport = Objects.requireNonNull(transport, "transport == null");
        this.boss = Objects.requireNonNull(boss, "boss == null");
        this.workers = Objects.requireNonNull(workers, "workers == null");
        this.served = served;
        this.listen = Objects.requireNonNull(listen, "listen == null");
        this.settings = Objects.requireNonNull(settings, "settings == null");
        this.proxyProtocol = proxyProtocol;
        this.listener = new Listener(settings.connectionLimit(this::name));
    }

    /**
     * Serves {@code next} (new certificate, key or client CAs) to the clients accepted from now on;
     * connections up already keep theirs.
     *
     * @throws IllegalArgumentException if {@code next} is a client context
     */
    public void context(SslContext next) {
        Served now = served;
        // with routes the ClientHello is read all the same, for the backend its name picks
        served = now.backendsBySni() == null ? Served.of(next, now.backend())
                : Served.of(name -> next, null, now.backendsBySni());
    }

    /**
     * Serves the contexts of {@code next} by SNI name to the clients accepted from now on, as the
     * constructor that takes a mapping does; connections up already keep theirs.
     *
     * @throws IllegalArgumentException if {@code next}'s default is a client context
     */
    public void contexts(Mapping<String, SslContext> next) {
        Served now = served;
        served = Served.of(next, now.backend(), now.backendsBySni());
    }

    /**
     * Serves {@code next} to the clients accepted from now on and carries them to {@code backend},
     * as the first constructor does; connections up already keep theirs.
     *
     * @throws IllegalArgumentException if {@code next} is a client context or {@code backend} is
     *     not resolved
     */
    public void reconfigure(SslContext next, InetSocketAddress backend) {
        served = Served.of(next, backend);
    }

    /**
     * Serves the contexts of {@code bySni} by SNI name to the clients accepted from now on, and
     * carries them to {@code backend}, or (when {@code backendsBySni} is not null) to the backend
     * their SNI name maps to, as the constructors that take mappings do; connections up already
     * keep theirs.
     *
     * @param backend null when {@code backendsBySni} is given: its default is
     * @throws IllegalArgumentException if {@code bySni}'s default is a client context or a backend
     *     is not resolved
     */
    public void reconfigure(Mapping<String, SslContext> bySni, InetSocketAddress backend,
                            Mapping<String, InetSocketAddress> backendsBySni) {
        served = Served.of(bySni, backend, backendsBySni);
    }

    /**
     * One context for every client, or (when {@code bySni} is not null) one per SNI name; the
     * backend, or the default one when {@code backendsBySni} (SNI name → backend) is not null.
     */
    private record Served(SslContext single, Mapping<String, SslContext> bySni, InetSocketAddress backend,
                          Mapping<String, InetSocketAddress> backendsBySni) {
        static Served of(SslContext context, InetSocketAddress backend) {
            checkServer(Objects.requireNonNull(context, "context == null"));
            return new Served(context, null, checkResolved(backend), null);
        }

        static Served of(Mapping<String, SslContext> bySni, InetSocketAddress backend,
                         Mapping<String, InetSocketAddress> backendsBySni) {
            checkServer(Objects.requireNonNull(bySni, "bySni == null").map(null));
            return new Served(null, bySni,
                    checkResolved(backendsBySni == null ? backend : backendsBySni.map(null)), backendsBySni);
        }

        private static InetSocketAddress checkResolved(InetSocketAddress backend) {
            if (Objects.requireNonNull(backend, "backend == null").isUnresolved()) {
                // Netty would resolve it on an event loop with the blocking JDK resolver, for every connection.
                throw new IllegalArgumentException("backend address " + backend + " is not resolved");
            }
            return backend;
        }

        private static void checkServer(SslContext context) {
            if (context == null || !context.isServer()) {
                throw new IllegalArgumentException(context == null ? "no default context" : "context is a client context");
            }
        }
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

    /** Connections closed at once because they came from no balancer of {@code proxy_protocol_sources}. */
    public long untrustedCount() {
        return proxyRefusals.untrusted();
    }

    /** For the start's log line: "", "PROXY protocol in, " or "PROXY protocol in from 10.0.0.0/8, ". */
    private String proxyProtocolIn() {
        ProxySources sources = acceptProxyProtocol;
        return sources == null ? "" : sources.any() ? "PROXY protocol in, " : "PROXY protocol in from " + sources + ", ";
    }

    /**
     * Reads a PROXY protocol header (v1 or v2) at the start of each connection, sent by a load
     * balancer in front, and takes the client it names for the connection's (see {@link
     * ProxyProtocolIn}); a connection without one is closed, and so is one from a peer not among
     * {@code sources}. Before {@link #start}, or at a reload for the connections accepted from then
     * on.
     *
     * @param sources the balancers, or {@link ProxySources#ANY}; null: no header
     */
    public void acceptProxyProtocol(ProxySources sources) {
        acceptProxyProtocol = sources;
    }

    /**
     * Binds the listen address and starts accepting; returns once listening.
     *
     * @throws IOException if the address cannot be bound
     * @throws IllegalStateException if started before or closed
     */
    @Override
    public void start() throws IOException {
        localAddress = listener.bind(transport, boss, workers, listen, new TlsClientInitializer());
        log.info("{}{} → backend {}{}: listening ({}connect timeout {} ms, handshake timeout {} ms, idle timeout {}, "
                        + "max connections {})",
                settings.logPrefix(), Relay.addressString(localAddress), Relay.addressString(served.backend()),
                served.backendsBySni() == null ? "" : " (others by SNI name)",
                proxyProtocolIn() + (proxyProtocol ? "PROXY protocol v2, " : ""), settings.connectTimeout().toMillis(),
                settings.handshakeTimeout().toMillis(),
                settings.idleTimeout().isZero() ? "off" : settings.idleTimeout().toMillis() + " ms",
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
     * Stops listening and closes every tunnelled connection: close_notify to the client, FIN to
     * the backend. Waits up to 5 s for them to close. Idempotent; close before shutting down the
     * event loops.
     */
    @Override
    public void close() {
        listener.close();
    }

    @Override
    public String toString() {
        return "ServerTunnel " + Relay.addressString(localAddress == null ? listen : localAddress)
                + " → " + Relay.addressString(served.backend());
    }

    /**
     * "tunnel NAME 127.0.0.1:4433 → backend 127.0.0.1:8080", from the address the client reached;
     * "… (others by SNI name)" when the backend is not known yet.
     */
    private String name(Channel accepted) {
        return name(accepted, served);
    }

    /** As {@link #name(Channel)}, for a client accepted when {@code served} was. */
    private String name(Channel accepted, Served served) {
        return name(accepted, served.backend()) + (served.backendsBySni() == null ? "" : " (others by SNI name)");
    }

    private String name(Channel accepted, InetSocketAddress target) {
        return settings.logPrefix() + Relay.addressString(accepted.localAddress()) + " → backend "
                + Relay.addressString(target);
    }

    /** The accepted TLS connection from the client, in reading order. */
    private final class TlsClientInitializer extends ChannelInitializer<Channel> {
        @Override
        protected void initChannel(Channel ch) {
            ProxySources proxySources = acceptProxyProtocol;
            if (proxySources != null && !ProxyProtocolIn.install(ch, proxySources, proxyRefusals, name(ch))) {
                return; // closed: not from a balancer of proxy_protocol_sources
            } // else first: the balancer's header, then TLS
            if (!listener.admit(ch, proxySources != null)) {
                return; // closed: the tunnel carries max_connections already
            }
            TunnelSettings with = settings; // what the client is accepted with, as `now`
            if (!with.idleTimeout().isZero()) {
                // no bytes either way for the idle timeout: the relay closes both connections
                ch.pipeline().addLast("idle", new IdleStateHandler(
                        0, 0, with.idleTimeout().toMillis(), TimeUnit.MILLISECONDS));
            }
            Served now = served;
            if (now.bySni() == null) {
                SslHandler tls = now.single().newHandler(ch.alloc());
                tls.setHandshakeTimeoutMillis(with.handshakeTimeout().toMillis());
                // the handshake within its timeout, then decrypts from and encrypts to the client
                ch.pipeline().addLast("tls", tls);
                carry(ch, tls, now.backend(), with, proxySources != null);
            } else {
                ch.pipeline()
                        // reads the ClientHello, then replaces itself with the SslHandler its SNI name picks
                        .addLast("tls", new CertificateBySni(ch, now, with))
                        // a ClientHello that does not come, or is none: counted and logged
                        .addLast("client-hello", new ClientHelloWatch());
                listener.awaitClientHello(ch);
            }
        }
    }

    /**
     * Relays {@code client}, whose {@code tls} handler is (or is about to be) in its pipeline, to
     * {@code target}, with the settings it was accepted with; {@code afterHeader}: once its PROXY
     * header has been read.
     */
    private void carry(Channel client, SslHandler tls, InetSocketAddress target, TunnelSettings with,
                       boolean afterHeader) {
        Relay relay = new Relay(name(client, target), End.tls(client, tls, "client"), listener, with.accessLog());
        // the client's decrypted bytes to the backend, its close_notify to a FIN
        client.pipeline().addLast("relay", new RelayHandler(relay, relay.accepted()));
        listener.track(relay);
        dialBackend(relay, tls, target, with, afterHeader);
    }

    /**
     * Netty's {@code SniHandler} for one accepted client: once the ClientHello is in, the SslHandler
     * it makes for the context the SNI name picks is carried like any other, to the backend the
     * name picks. Until then nothing reads by itself (AUTO_READ is off), so it asks for the
     * ClientHello.
     */
    private final class CertificateBySni extends SniHandler {
        private final Channel client;
        /** What was served, and the settings, when the client was accepted. */
        private final Served served;
        private final TunnelSettings with;
        private final long acceptedNanos = System.nanoTime();

        CertificateBySni(Channel client, Served served, TunnelSettings with) {
            super(served.bySni(), with.handshakeTimeout().toMillis());
            this.client = client;
            this.served = served;
            this.with = with;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            ctx.read();
            super.channelActive(ctx);
        }

        @Override
        protected SslHandler newSslHandler(SslContext context, ByteBufAllocator allocator) {
            SslHandler tls = context.newHandler(allocator);
            // one handshake timeout from the accept, the wait for the ClientHello included
            long spentMillis = (System.nanoTime() - acceptedNanos) / 1_000_000;
            tls.setHandshakeTimeoutMillis(Math.max(1, with.handshakeTimeout().toMillis() - spentMillis));
            // hostname(): the name that picked the context (lower case, null for none), set by now
            carry(client, tls, served.backendsBySni() == null ? served.backend()
                    : served.backendsBySni().map(hostname()), with, false); // any PROXY header came before the ClientHello
            return tls;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // what failed the ClientHello (ClientHelloWatch logs it), or a reset before one came
            log.debug("{}: client {}: {}", name(client, served), Relay.addressString(ProxyProtocolIn.clientOf(client)),
                    cause.toString());
            ctx.close();
        }
    }

    /**
     * After {@link CertificateBySni}, which reports to the next handler how its ClientHello went,
     * until a certificate is picked. Counts and logs as a failed handshake a client whose ClientHello
     * could not be used (a malformed first record, one too large, a name that is no host name) or
     * did not come within the handshake timeout; other bytes that are no ClientHello get the
     * default certificate's handshake, which fails like any other. Closes, without counting, a
     * client that ends its side first (a TCP health check) or stays idle past the idle timeout.
     */
    private final class ClientHelloWatch extends ChannelInboundHandlerAdapter {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SniCompletionEvent sni) {
                if (sni.cause() != null) {
                    listener.clientHelloFailed();
                    log.info("{}: TLS handshake failed for client {}: {}", name(ctx.channel()),
                            Relay.addressString(ProxyProtocolIn.clientOf(ctx.channel())), Relay.describe(sni.cause()));
                    ctx.close();
                } else {
                    ctx.pipeline().remove(this);
                }
            } else if (evt instanceof ChannelInputShutdownEvent || evt instanceof IdleStateEvent) {
                log.debug("{}: client {} {} before its ClientHello", name(ctx.channel()),
                        Relay.addressString(ProxyProtocolIn.clientOf(ctx.channel())),
                        evt instanceof IdleStateEvent ? "was idle" : "closed the connection");
                ctx.close();
            } else {
                ctx.fireUserEventTriggered(evt);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // e.g. the mapping refused the name: its SniCompletionEvent counts and logs it
            log.debug("{}: client {}: {}", name(ctx.channel()), Relay.addressString(ProxyProtocolIn.clientOf(ctx.channel())),
                    cause.toString());
            ctx.close();
        }
    }

    /** The plain connection to the backend, in reading order. */
    private final class PlainBackendInitializer extends ChannelInitializer<Channel> {
        private final Relay relay;

        PlainBackendInitializer(Relay relay) {
            this.relay = relay;
        }

        @Override
        protected void initChannel(Channel ch) {
            End end = End.plain(ch, "backend");
            if (proxyProtocol) {
                // ProxyHeader → the PROXY protocol v2 header, the first bytes the backend gets
                ch.pipeline().addLast("proxy-header", ProxyHeaderEncoder.INSTANCE);
            }
            // the backend's bytes to the client, its FIN to a close_notify
            ch.pipeline().addLast("relay", new RelayHandler(relay, end));
            relay.attach(end);
        }
    }

    /** Dials the backend {@code target} for {@code relay}'s client, on the client's loop. */
    private ChannelFuture connect(Relay relay, InetSocketAddress target, TunnelSettings with) {
        Channel client = relay.accepted().channel;
        ChannelFuture dialing = new Bootstrap()
                .group(client.eventLoop()) // the same loop as the client: no locks, no hand-offs
                .channel(transport.socketChannel())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.RCVBUF_ALLOCATOR, Relay.READS)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) with.connectTimeout().toMillis())
                .handler(new PlainBackendInitializer(relay))
                .connect(target);
        listener.trackDialed(dialing.channel());
        return dialing;
    }

    private void dialBackend(Relay relay, SslHandler tls, InetSocketAddress target, TunnelSettings with,
                             boolean afterHeader) {
        Channel client = relay.accepted().channel;
        String name = name(client, target);
        Future<Void> connect;
        if (afterHeader) {
            // behind a balancer, not before its PROXY header named the client and the client was admitted
            ChannelPromise dialled = client.newPromise();
            ProxyProtocolIn.afterHeader(client, () -> PromiseNotifier.cascade(connect(relay, target, with), dialled));
            connect = dialled;
        } else {
            connect = connect(relay, target, with);
        }
        connect.addListener(connected -> {
            if (connected.isSuccess()) {
                if (tls.handshakeFuture().isSuccess()) {
                    begin(relay, tls);
                }
            } else if (!relay.isClosed()) {
                listener.dialFailed(relay);
                log.warn("{}: connect failed for client {}: {}", name, relay.accepted().peer(),
                        ConnectFailures.reason(connected.cause(), with.connectTimeout()));
                relay.close(); // close_notify if the handshake is done, then FIN
            }
        });
        tls.handshakeFuture().addListener(handshake -> {
            if (handshake.isSuccess()) {
                if (connect.isSuccess()) {
                    begin(relay, tls);
                }
            } else if (!relay.isClosed()) {
                // SslHandler closes the channel after sending its alert; the relay then closes the backend.
                Throwable cause = handshake.cause();
                if (Relay.isExpectedNoise(cause)) {
                    // e.g. a load balancer's TCP health check: not counted, as it is not logged
                    log.debug("{}: client {} closed the connection during the TLS handshake", name,
                            relay.accepted().peer());
                } else {
                    listener.handshakeFailed(relay);
                    log.info("{}: TLS handshake failed for client {}: {}", name, relay.accepted().peer(),
                            Relay.describe(cause));
                }
            }
        });
    }

    private void begin(Relay relay, SslHandler tls) {
        if (relay.isClosed()) {
            return;
        }
        ProxyHeader header = null;
        if (proxyProtocol) {
            try {
                header = ProxyHeader.of(relay.accepted().channel, tls);
            } catch (RuntimeException e) {
                log.warn("{}: cannot describe client {} in a PROXY header: {}", relay.name(),
                        relay.accepted().peer(), e.toString());
                relay.abort();
                return;
            }
        }
        relay.start(header);
    }
}
