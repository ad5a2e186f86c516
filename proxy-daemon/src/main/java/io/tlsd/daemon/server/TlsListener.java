package io.tlsd.daemon.server;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.PeerCredentials;
import io.netty.handler.ssl.SniHandler;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.tlsd.daemon.engine.Failure;
import io.tlsd.daemon.ipc.AllowedPeers;
import io.tlsd.daemon.tls.ConnectionInfos;
import io.tlsd.daemon.tls.ServerTlsContexts;
import io.tlsd.daemon.transport.ConnectFailures;
import io.tlsd.daemon.transport.ConnectionLimit;
import io.tlsd.daemon.transport.LoopHandOver;
import io.tlsd.daemon.transport.ProxyProtocolIn;
import io.tlsd.daemon.transport.ProxySources;
import io.tlsd.daemon.transport.TcpKeepalive;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.proto.v1.Status;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One listener of the server role. Clients are accepted and handshaken on the handshake loops; each
 * handshaked connection then waits here until an ACCEPT takes it (several applications may
 * wait on one listener: connections go to their ACCEPTs in arrival order), and moves to the
 * accepting session's loop, so the op engine keeps its one-loop-per-session rule.
 *
 * <p>Waiting ACCEPTs and waiting connections are the only state shared across loops; both sit
 * behind one lock, held only to move an entry between the two queues.
 */
final class TlsListener {
    private static final Logger log = LoggerFactory.getLogger(TlsListener.class);

    /**
     * An ACCEPT waiting for a client: completes on {@code loop}. {@code peer}: the credentials of
     * the process that sent it (null if unknown), checked again when a reload changes {@code
     * allowed_peers}.
     */
    private record Waiter(Promise<Channel> promise, EventLoop loop, PeerCredentials peer) {
    }

    /**
     * Replaced by a reload, which changes only its TLS settings (those of {@link #contexts}), its
     * handshake timeout, its backlog and its pending limits, and its address (a {@link #moveTo move}).
     */
    private volatile ListenerConfig config;
    /** Connections closed for want of a PROXY header or of a balancer of {@code proxy_protocol_sources}. */
    private final ProxyProtocolIn.Refusals proxyRefusals = new ProxyProtocolIn.Refusals();
    /** Replaced by a reload; a client gets the contexts of the moment it is accepted. */
    private volatile ServerTlsContexts contexts;
    private final Object lock = new Object();
    private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
    private final ArrayDeque<Channel> ready = new ArrayDeque<>();
    private final LongAdder refused = new LongAdder();
    private final LongAdder handshakeFailures = new LongAdder();
    /** Connections accepted and not yet taken by an ACCEPT: max_pending_connections. */
    private final ConnectionLimit pending;
    /** The listening socket; another after a {@link #moveTo move}. */
    private volatile Channel serverChannel;
    /** Set by {@link #close()}: a client that becomes ready afterwards is closed. Under {@link #lock}. */
    private boolean closed;
    /** Set by {@link #remove()} before it closes: ACCEPTs say why. Under {@link #lock}. */
    private boolean removedByReload;

    TlsListener(ListenerConfig config, ServerTlsContexts contexts) {
        this.config = config;
        this.contexts = contexts;
        this.pending = new ConnectionLimit(ch -> "listener " + config.name(), "max_pending_connections",
                config.maxPendingConnections(), "max_pending_connections_per_client",
                config.maxPendingConnectionsPerClient());
    }

    /** The contexts clients are accepted with now. */
    ServerTlsContexts contexts() {
        return contexts;
    }

    /**
     * Serves {@code next}, built from {@code config}'s TLS settings, to the clients accepted from now
     * on, and takes {@code config}'s backlog and pending limits; connections up already keep theirs.
     */
    void reconfigure(ListenerConfig config, ServerTlsContexts next) {
        pending.limits(config.maxPendingConnections(), config.maxPendingConnectionsPerClient());
        this.config = config;
        contexts = next;
        if (config.allowedPeers() != null) {
            refuseWaitersNoLongerAllowed(config.allowedPeers());
        }
    }

    /**
     * A reload removed the listener: it closes as {@link #close()} does, and the ACCEPTs waiting
     * on it fail UNAVAILABLE.
     *
     * @return how many ACCEPTs failed
     */
    int remove() {
        synchronized (lock) {
            removedByReload = true;
        }
        close();
        List<Waiter> failing;
        Failure why;
        synchronized (lock) {
            failing = new ArrayList<>(waiters);
            waiters.clear();
            why = removed();
        }
        int failed = 0;
        for (Waiter w : failing) {
            if (w.promise().tryFailure(why)) {
                failed++;
            }
        }
        return failed;
    }

    /** What an ACCEPT of the closed listener fails with. Under {@link #lock}. */
    private Failure removed() {
        return new Failure(Status.UNAVAILABLE, "listener '" + config.name() + (removedByReload
                ? "' was removed from the configuration (reload)" : "' is closed: the daemon is stopping"));
    }

    /** ACCEPTs waiting from processes that {@code allowed} no longer lets in fail UNAUTHORIZED. */
    private void refuseWaitersNoLongerAllowed(AllowedPeers allowed) {
        List<Waiter> refused = new ArrayList<>();
        synchronized (lock) {
            waiters.removeIf(w -> {
                boolean out = !allowed.allows(w.peer());
                if (out) {
                    refused.add(w);
                }
                return out;
            });
        }
        for (Waiter w : refused) {
            w.promise().tryFailure(new Failure(Status.UNAUTHORIZED, "this process may no longer accept on listener '"
                    + config.name() + "' (its allowed_peers changed)"));
        }
    }

    String name() {
        return config.name();
    }

    ListenerConfig config() {
        return config;
    }

    /** Accepts on {@code control}; clients handshake on {@code handshakes} until an ACCEPT moves them. */
    void bind(Transport transport, EventLoopGroup control, EventLoopGroup handshakes, TcpKeepalive keepalive)
            throws IOException, InterruptedException {
        Channel bound = listen(config.address(), transport, control, handshakes, keepalive);
        serverChannel = bound;
        bound.config().setAutoRead(true);
    }

    /**
     * Accepts on {@code next} only (from {@link #listen}): the old socket closes. The clients it
     * accepted, handshaking or waiting for an ACCEPT, and the ACCEPTs waiting stay. If the
     * listener closed meanwhile, {@code next} closes instead.
     */
    void moveTo(Channel next) {
        Channel old;
        synchronized (lock) {
            if (closed) {
                next.close();
                return;
            }
            old = serverChannel;
            serverChannel = next;
        }
        next.config().setAutoRead(true);
        old.close().addListener(f -> {
            if (!f.isSuccess()) {
                log.warn("listener {}: closing its old socket on {} failed: {}", config.name(), old.localAddress(),
                        f.cause().toString());
            }
        });
    }

    /**
     * Listens on {@code address} and returns the socket, which accepts no client until its
     * auto-read is on: {@link #bind} turns it on, or {@link #moveTo} for a move (if the move does
     * not happen, the caller closes the socket, and the kernel resets what waits in its backlog).
     */
    Channel listen(InetSocketAddress address, Transport transport, EventLoopGroup control,
                   EventLoopGroup handshakes, TcpKeepalive keepalive) throws IOException, InterruptedException {
        ChannelFuture bound = new ServerBootstrap()
                .group(control, handshakes)
                .channel(transport.serverSocketChannel())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ListenerConfig now = config; // as reloaded last
                        ProxySources balancers = now.acceptProxyProtocol();
                        if (balancers != null
                                && !ProxyProtocolIn.install(ch, balancers, proxyRefusals, "listener " + now.name())) {
                            return; // closed: not from a balancer of proxy_protocol_sources
                        } // else first: the balancer's header, then TLS
                        if (!pending.admit(ch, balancers != null)) {
                            return; // closed: max_pending_connections clients handshake or wait already
                        }
                        keepalive.apply(ch);
                        ch.pipeline()
                                // picks the certificate by SNI, then handshakes (with a deadline)
                                .addLast("tls", new SniHandler(contexts.mapping(), now.handshakeTimeout().toMillis()))
                                // holds the connection until an ACCEPT takes it
                                .addLast("gate", new HandshakeGate(TlsListener.this));
                    }
                })
                .bind(address)
                .awaitUninterruptibly(); // an interrupted wait would leave a socket bound that nobody closes
        if (!bound.isSuccess()) {
            throw new IOException("listener " + config.name() + ": cannot listen on "
                    + NetUtil.toSocketAddressString(address) + ": "
                    + ConnectFailures.reason(bound.cause(), Duration.ZERO), bound.cause());
        }
        return bound.channel();
    }

    InetSocketAddress localAddress() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    /** Clients accepted and not yet taken by an ACCEPT: handshaking, or waiting in the backlog. */
    int pendingCount() {
        return pending.admitted();
    }

    /** Clients closed as soon as accepted, because max_pending_connections were pending. */
    long closedAtLimitCount() {
        return pending.refused();
    }

    /** Clients closed at once because they came from no balancer of {@code proxy_protocol_sources}. */
    long untrustedCount() {
        return proxyRefusals.untrusted();
    }

    /** Handshaked clients refused because the backlog was full. */
    long refusedCount() {
        return refused.sum();
    }

    long handshakeFailureCount() {
        return handshakeFailures.sum();
    }

    void handshakeFailed() {
        handshakeFailures.increment();
    }

    /** An ACCEPT: the next waiting connection, or the next one to finish its handshake. */
    Future<Channel> accept(EventLoop loop, PeerCredentials peer) {
        Waiter waiter = new Waiter(loop.newPromise(), loop, peer);
        Channel ch;
        synchronized (lock) {
            if (closed) { // removed by a reload as this ACCEPT found it, or the daemon stops
                waiter.promise.setFailure(removed());
                return waiter.promise;
            }
            AllowedPeers allowed = config.allowedPeers();
            if (allowed != null && !allowed.allows(peer)) {
                // checked before (mayAccept), but a reload may have added this listener, or changed its
                // allowed_peers, since; one that changes them after this refuses the waiters it finds
                waiter.promise.setFailure(new Failure(Status.UNAUTHORIZED, Transport.who(peer)
                        + " may not accept on listener '" + config.name() + "' (its allowed_peers)"));
                return waiter.promise;
            }
            ch = ready.poll();
            if (ch == null) {
                waiters.add(waiter);
            }
        }
        if (ch != null) {
            handOver(ch, waiter);
        }
        waiter.promise.addListener(f -> {
            if (f.isCancelled()) {
                synchronized (lock) {
                    waiters.remove(waiter);
                }
            }
        });
        return waiter.promise;
    }

    /** Called on the channel's loop when its handshake is done (or it is offered again). */
    void ready(Channel ch) {
        Waiter waiter;
        synchronized (lock) {
            if (closed) {
                ch.close(); // the daemon stops: nobody will accept it
                return;
            }
            waiter = nextLiveWaiter();
            if (waiter == null) {
                if (ready.size() >= config.backlog()) {
                    refused.increment();
                    log.warn("listener {}: {} connections already wait for an ACCEPT; refusing {}",
                            config.name(), ready.size(), ConnectionInfos.addressString(ProxyProtocolIn.clientOf(ch)));
                    ch.close();
                    return;
                }
                ready.add(ch);
                return;
            }
        }
        handOver(ch, waiter);
    }

    private Waiter nextLiveWaiter() {
        Waiter w;
        while ((w = waiters.poll()) != null) {
            if (!w.promise.isDone()) {
                return w;
            }
        }
        return null;
    }

    /** The client went away before an ACCEPT took it. */
    void gone(Channel ch) {
        synchronized (lock) {
            ready.remove(ch);
        }
    }

    /** Moves {@code ch} to the waiter's loop, then completes the waiter there. */
    private void handOver(Channel ch, Waiter waiter) {
        if (!ch.eventLoop().inEventLoop()) {
            ch.eventLoop().execute(() -> handOver(ch, waiter));
            return;
        }
        LoopHandOver.moveTo(ch, waiter.loop).addListener(moved -> {
            if (moved.isSuccess()) {
                complete(ch, waiter);
            } else {
                ch.close();
                requeue(waiter);
            }
        });
    }

    /** On the waiter's loop, which is now the channel's. */
    private void complete(Channel ch, Waiter waiter) {
        if (!ch.isActive()) {
            requeue(waiter);
            return;
        }
        if (waiter.promise.trySuccess(ch)) {
            // the application's now, counted in its session's max_connections; the place is free
            // before this loop handles anything else
            pending.release(ch);
        } else {
            ready(ch); // the ACCEPT was cancelled meanwhile: offer the client to the next one
        }
    }

    private void requeue(Waiter waiter) {
        if (waiter.promise.isDone()) {
            return;
        }
        Channel ch;
        synchronized (lock) {
            if (closed) { // its client went, and a reload removed the listener (or the daemon stops) meanwhile
                waiter.promise.tryFailure(removed());
                return;
            }
            ch = ready.poll();
            if (ch == null) {
                waiters.addFirst(waiter);
            }
        }
        if (ch != null) {
            handOver(ch, waiter);
        }
    }

    void close() {
        Channel listening;
        Channel[] waiting;
        synchronized (lock) {
            closed = true; // first: a move under way now closes its new socket
            listening = serverChannel;
            waiting = ready.toArray(new Channel[0]);
            ready.clear();
        }
        if (listening != null) {
            listening.close().syncUninterruptibly();
        }
        for (Channel ch : waiting) {
            ch.close();
        }
    }
}
