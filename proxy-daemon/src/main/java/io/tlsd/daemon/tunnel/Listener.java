package io.tlsd.daemon.tunnel;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.tlsd.daemon.transport.ConnectFailures;
import io.tlsd.daemon.transport.ConnectionLimit;
import io.tlsd.daemon.transport.Transport;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * A tunnel's listening socket and the connections it carries, so that closing the tunnel closes
 * them all, and so that there are never more of them than its limit.
 */
final class Listener {
    /** How long {@link #close()} waits for the connections to close (TLS sends close_notify first). */
    private static final long CLOSE_WAIT_MILLIS = 5_000;

    private final Set<Relay> relays = ConcurrentHashMap.newKeySet();
    private final ChannelGroup channels = new DefaultChannelGroup("tunnel", GlobalEventExecutor.INSTANCE);
    /** Accepted connections that wait for their ClientHello before they are relayed (SNI). */
    private final ChannelGroup awaitingClientHello = new DefaultChannelGroup("tunnel-sni", GlobalEventExecutor.INSTANCE);
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile Channel server;
    private final ConnectionLimit limit;
    private final LongAdder dialFailures = new LongAdder();
    private final LongAdder handshakeFailures = new LongAdder();
    private final LongAdder bytesFromClients = new LongAdder();
    private final LongAdder bytesToClients = new LongAdder();

    /** @param limit the tunnel's {@code max_connections} */
    Listener(ConnectionLimit limit) {
        this.limit = limit;
    }

    /**
     * A tunnel's settings from now on: {@code next}, which may differ from {@code now} in anything
     * but its name; the connections admitted from now on are limited by its limits.
     *
     * @return {@code next}
     * @throws IllegalStateException if {@code next} names another tunnel (a reload never asks that)
     */
    TunnelSettings reconfigure(TunnelSettings now, TunnelSettings next) {
        if (!Objects.equals(next.name(), now.name())) {
            throw new IllegalStateException("tunnel " + now.name() + " cannot take the settings of " + next.name());
        }
        limit.limits(next.maxConnections(), next.maxConnectionsPerClient());
        return next;
    }

    /**
     * Binds {@code address} and serves every accepted connection with {@code childHandler}. The
     * accepted channels read only when asked, may be half-closed, and send small writes at once.
     *
     * @throws IOException if the address cannot be bound, e.g. it is in use
     * @throws IllegalStateException if already started or closed
     */
    InetSocketAddress bind(Transport transport, EventLoopGroup boss, EventLoopGroup workers,
                           InetSocketAddress address, ChannelHandler childHandler) throws IOException {
        if (server != null || closed.get()) {
            throw new IllegalStateException(server != null ? "already started" : "closed");
        }
        ChannelFuture bound = new ServerBootstrap()
                .group(boss, workers)
                .channel(transport.serverSocketChannel())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, Relay.READS)
                .childHandler(childHandler)
                .bind(address)
                .awaitUninterruptibly();
        if (!bound.isSuccess()) {
            Throwable cause = bound.cause();
            throw new IOException("cannot listen on " + Relay.addressString(address) + ": "
                    + ConnectFailures.reason(cause, java.time.Duration.ZERO), cause);
        }
        server = bound.channel();
        return (InetSocketAddress) server.localAddress();
    }

    /**
     * Whether a newly accepted connection may go on; if not, it has been closed. Called first in the
     * child channel's initializer, before any TLS or backend work is spent on the connection.
     *
     * @param clientFromHeader the connection begins with a PROXY header, whose client is counted
     *     per client ({@link ConnectionLimit#admit(Channel, boolean)})
     */
    boolean admit(Channel accepted, boolean clientFromHeader) {
        return limit.admit(accepted, clientFromHeader);
    }

    TunnelStats stats() {
        return new TunnelStats(limit.admitted(), limit.refused(), dialFailures.sum(), handshakeFailures.sum(),
                bytesFromClients.sum(), bytesToClients.sum());
    }

    /** {@code relay} closes because the far end could not be resolved or connected to. */
    void dialFailed(Relay relay) {
        if (relay.firstFailure()) {
            dialFailures.increment();
        }
    }

    /** {@code relay} closes because its TLS handshake failed. */
    void handshakeFailed(Relay relay) {
        if (relay.firstFailure()) {
            handshakeFailures.increment();
        }
    }

    /** A connection closes before it was relayed: its first bytes were no ClientHello, or came too late. */
    void clientHelloFailed() {
        handshakeFailures.increment();
    }

    /** {@code bytes} relayed by one of the connections, from a client or to one. */
    void relayed(boolean fromClient, int bytes) {
        (fromClient ? bytesFromClients : bytesToClients).add(bytes);
    }

    /**
     * Tracks a connection accepted before it is relayed, while the tunnel waits for its ClientHello
     * (SNI): closing the tunnel closes it, and {@link #track} takes over. One accepted while the
     * tunnel closes is closed at once.
     */
    void awaitClientHello(Channel accepted) {
        awaitingClientHello.add(accepted);
        channels.add(accepted);
        if (closed.get()) {
            accepted.close();
        }
    }

    /** Tracks a new connection; one accepted while the tunnel closes is closed at once. */
    void track(Relay relay) {
        Channel accepted = relay.accepted().channel;
        awaitingClientHello.remove(accepted);
        relays.add(relay);
        channels.add(accepted);
        accepted.closeFuture().addListener(f -> relays.remove(relay));
        if (closed.get()) {
            accepted.eventLoop().execute(relay::close);
        }
    }

    /** Tracks the channel a connection dialed, so that {@link #close()} waits for it too. */
    void trackDialed(Channel dialed) {
        channels.add(dialed);
    }

    /** Stops listening; the connections carried go on. */
    void stopAccepting() {
        if (server != null) {
            server.close().awaitUninterruptibly();
        }
    }

    /**
     * Stops listening, then closes every connection cleanly (close_notify, FIN) and waits up to
     * 5 s for them to close. Idempotent.
     */
    void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (server != null) {
            server.close().awaitUninterruptibly();
        }
        awaitingClientHello.close(); // no TLS yet: nothing to say before closing
        for (Relay relay : relays) {
            try {
                relay.accepted().channel.eventLoop().execute(relay::close);
            } catch (RejectedExecutionException e) {
                // the event loops were shut down first, and the channels with them
            }
        }
        channels.newCloseFuture().awaitUninterruptibly(CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
    }
}
