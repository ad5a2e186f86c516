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
import io.tlsd.daemon.transport.ConnectionLimit;
import io.tlsd.daemon.transport.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Accepts TLS connections and carries each one over a new plain TCP connection to a fixed
 * backend, like {@code stunnel} in server mode or ghostunnel: the backend speaks plain TCP and
 * the tunnel terminates TLS for it.
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
 * accepted, in parallel with the handshake, so that a working backend adds no latency. If it
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
 * <p>A handshake must complete within the handshake timeout, so a silent client cannot hold a
 * connection; {@code context} decides about client certificates.
 */
public final class ServerTunnel implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ServerTunnel.class);

    private final Transport transport;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    /** Replaced by {@link #context(SslContext)}; a client gets the context of the moment it is accepted. */
    private volatile SslContext context;
    private final InetSocketAddress listen;
    private final InetSocketAddress backend;
    private final boolean proxyProtocol;
    private final TunnelSettings settings;
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
        this.transport = Objects.requireNonNull(transport, "transport == null");
        this.boss = Objects.requireNonNull(boss, "boss == null");
        this.workers = Objects.requireNonNull(workers, "workers == null");
        this.context = Objects.requireNonNull(context, "context == null");
        this.listen = Objects.requireNonNull(listen, "listen == null");
        this.backend = Objects.requireNonNull(backend, "backend == null");
        this.settings = Objects.requireNonNull(settings, "settings == null");
        this.proxyProtocol = proxyProtocol;
        if (!context.isServer()) {
            throw new IllegalArgumentException("context is a client context");
        }
        if (backend.isUnresolved()) {
            // Netty would resolve it on an event loop with the blocking JDK resolver, for every connection.
            throw new IllegalArgumentException("backend address " + backend + " is not resolved");
        }
        this.listener = new Listener(settings.connectionLimit(this::name));
    }

    /**
     * Serves {@code next} (new certificate, key or client CAs) to the clients accepted from now on;
     * connections up already keep theirs.
     *
     * @throws IllegalArgumentException if {@code next} is a client context
     */
    public void context(SslContext next) {
        if (!next.isServer()) {
            throw new IllegalArgumentException("context is a client context");
        }
        context = next;
    }

    /**
     * Binds the listen address and starts accepting; returns once listening.
     *
     * @throws IOException if the address cannot be bound
     * @throws IllegalStateException if started before or closed
     */
    public void start() throws IOException {
        localAddress = listener.bind(transport, boss, workers, listen, new TlsClientInitializer());
        log.info("{}{} → backend {}: listening ({}connect timeout {} ms, handshake timeout {} ms, idle timeout {}, "
                        + "max connections {})",
                settings.logPrefix(), Relay.addressString(localAddress), Relay.addressString(backend),
                proxyProtocol ? "PROXY protocol v2, " : "", settings.connectTimeout().toMillis(),
                settings.handshakeTimeout().toMillis(),
                settings.idleTimeout().isZero() ? "off" : settings.idleTimeout().toMillis() + " ms",
                ConnectionLimit.describe(settings.maxConnections(), settings.maxConnectionsPerClient()));
    }

    /**
     * Stops accepting connections; those carried go on until they end or {@link #close()}. The
     * first step of a graceful shutdown.
     */
    public void stopAccepting() {
        listener.stopAccepting();
    }

    /** What the tunnel carries now and has carried since it started. */
    public TunnelStats stats() {
        return listener.stats();
    }

    /**
     * The bound address, with the port picked if {@code listen} had port 0.
     *
     * @throws IllegalStateException if not started
     */
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
                + " → " + Relay.addressString(backend);
    }

    /** "tunnel NAME 127.0.0.1:4433 → backend 127.0.0.1:8080", from the address the client reached. */
    private String name(Channel accepted) {
        return settings.logPrefix() + Relay.addressString(accepted.localAddress()) + " → backend "
                + Relay.addressString(backend);
    }

    /** The accepted TLS connection from the client, in reading order. */
    private final class TlsClientInitializer extends ChannelInitializer<Channel> {
        @Override
        protected void initChannel(Channel ch) {
            if (!listener.admit(ch)) {
                return; // closed: the tunnel carries max_connections already
            }
            SslHandler tls = context.newHandler(ch.alloc());
            tls.setHandshakeTimeoutMillis(settings.handshakeTimeout().toMillis());
            Relay relay = new Relay(name(ch), End.tls(ch, tls, "client"), listener, settings.accessLog());
            if (!settings.idleTimeout().isZero()) {
                // no bytes either way for the idle timeout: the relay closes both connections
                ch.pipeline().addLast("idle", new IdleStateHandler(
                        0, 0, settings.idleTimeout().toMillis(), TimeUnit.MILLISECONDS));
            }
            ch.pipeline()
                    // the handshake within its timeout, then decrypts from and encrypts to the client
                    .addLast("tls", tls)
                    // the client's decrypted bytes to the backend, its close_notify to a FIN
                    .addLast("relay", new RelayHandler(relay, relay.accepted()));
            listener.track(relay);
            dialBackend(relay, tls);
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

    private void dialBackend(Relay relay, SslHandler tls) {
        Channel client = relay.accepted().channel;
        ChannelFuture connect = new Bootstrap()
                .group(client.eventLoop()) // the same loop as the client: no locks, no hand-offs
                .channel(transport.socketChannel())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) settings.connectTimeout().toMillis())
                .handler(new PlainBackendInitializer(relay))
                .connect(backend);
        listener.trackDialed(connect.channel());
        connect.addListener(connected -> {
            if (connected.isSuccess()) {
                if (tls.handshakeFuture().isSuccess()) {
                    begin(relay, tls);
                }
            } else if (!relay.isClosed()) {
                listener.dialFailed(relay);
                log.warn("{}: connect failed for client {}: {}", name(client), relay.accepted().peer(),
                        Relay.describeConnectFailure(connected.cause(), settings.connectTimeout()));
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
                    log.debug("{}: client {} closed the connection during the TLS handshake", name(client),
                            relay.accepted().peer());
                } else {
                    listener.handshakeFailed(relay);
                    log.info("{}: TLS handshake failed for client {}: {}", name(client), relay.accepted().peer(),
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
                log.warn("{}: cannot describe client {} in a PROXY header: {}", name(relay.accepted().channel),
                        relay.accepted().peer(), e.toString());
                relay.abort();
                return;
            }
        }
        relay.start(header);
    }
}
