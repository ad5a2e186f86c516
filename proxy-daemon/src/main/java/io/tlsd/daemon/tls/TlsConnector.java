package io.tlsd.daemon.tls;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.tlsd.daemon.engine.AllowedTargets;
import io.tlsd.daemon.engine.Connector;
import io.tlsd.daemon.engine.Failure;
import io.tlsd.daemon.transport.ConnectFailures;
import io.tlsd.daemon.transport.HostResolver;
import io.tlsd.daemon.transport.LoopHandOver;
import io.tlsd.daemon.transport.TcpKeepalive;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.proto.v1.ConnectionInfo;
import io.tlsd.proto.v1.Open;
import io.tlsd.proto.v1.Status;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongConsumer;
import javax.net.ssl.SSLException;

/**
 * Opens client TLS connections: resolve (off the loop, since the JDK resolver blocks), connect,
 * handshake with chain and hostname verification, then hand the channel to the session.
 *
 * <p>With a handshake group, the connect and the handshake run on one of its loops and the
 * channel then moves (deregister, register) to the session's loop: the key exchange and the
 * certificate checks of a burst of new connections never queue in front of the traffic of
 * established ones. Without one, everything happens on the session's loop.
 *
 * <p>With a limit on attempts in flight ({@link HandshakeLimits}: fixed, or learned per target),
 * an attempt beyond it waits, before its TCP connect, for one under way to end (under an
 * adaptive limit, or to be under way for {@link HandshakeLimits#STALE_AFTER}); its connect and
 * handshake timeouts start when it starts, and an attempt given up while it waits (deadline,
 * session gone) leaves the queue and never starts.
 */
public final class TlsConnector implements Connector {
    /** {@code maxInFlight}: a limit per target, learned ({@link AdaptiveLimit}). */
    public static final int ADAPTIVE = -1;

    private final Transport transport;
    /** Replaced by {@link #contexts(ClientTlsContexts)}; an OPEN gets the contexts of the moment it arrives. */
    private volatile ClientTlsContexts contexts;
    /** Both replaced by {@link #timeouts}; an attempt reads them as it starts. */
    private volatile Duration connectTimeout;
    private volatile Duration handshakeTimeout;
    private volatile TcpKeepalive keepalive = TcpKeepalive.OFF;
    private volatile AllowedTargets allowedTargets = AllowedTargets.ANY;
    private final HostResolver resolver;
    private final EventLoopGroup handshakes;
    /** Null: no limit. */
    private final HandshakeLimits limits;
    /** SO_SNDBUF of the connections; 0: the kernel's autotuning. */
    private final int sendBufferBytes;

    /** Handshakes on the session's loop. */
    public TlsConnector(Transport transport, ClientTlsContexts contexts, Duration connectTimeout,
                        Duration handshakeTimeout, HostResolver resolver) {
        this(transport, contexts, connectTimeout, handshakeTimeout, resolver, null, 0);
    }

    /**
     * @param handshakes loops to connect and handshake on (same transport as the sessions'
     *     loops), or null to do it on the session's loop
     * @param maxInFlight the most connection attempts (connect and handshake) under way at once,
     *     the others waiting their turn; 0: no limit; {@link #ADAPTIVE}: a limit per target,
     *     learned from how long its attempts take
     */
    public TlsConnector(Transport transport, ClientTlsContexts contexts, Duration connectTimeout,
                        Duration handshakeTimeout, HostResolver resolver, EventLoopGroup handshakes,
                        int maxInFlight) {
        this(transport, contexts, connectTimeout, handshakeTimeout, resolver, handshakes, maxInFlight, 0);
    }

    /**
     * @param sendBufferBytes the connections' SO_SNDBUF (Linux doubles it and caps it at twice
     *     {@code net.core.wmem_max}); 0 leaves the kernel's autotuning
     */
    public TlsConnector(Transport transport, ClientTlsContexts contexts, Duration connectTimeout,
                        Duration handshakeTimeout, HostResolver resolver, EventLoopGroup handshakes,
                        int maxInFlight, int sendBufferBytes) {
        if (sendBufferBytes < 0) {
            throw new IllegalArgumentException("sendBufferBytes < 0");
        }
        this.sendBufferBytes = sendBufferBytes;
        if (maxInFlight < ADAPTIVE) {
            throw new IllegalArgumentException("maxInFlight " + maxInFlight + " < " + ADAPTIVE);
        }
        this.limits = maxInFlight == 0 ? null
                : maxInFlight == ADAPTIVE ? HandshakeLimits.adaptive() : HandshakeLimits.fixed(maxInFlight);
        this.handshakes = handshakes;
        this.transport = transport;
        this.contexts = contexts;
        this.connectTimeout = connectTimeout;
        this.handshakeTimeout = handshakeTimeout;
        this.resolver = resolver;
    }

    /**
     * Uses {@code next} (other trust anchors or client certificate) from now on: for the attempts
     * that start from now on, those of OPENs already waiting for a slot or for the resolver
     * included; connections up already, and attempts under way, keep the contexts they started
     * with.
     */
    public void contexts(ClientTlsContexts next) {
        contexts = Objects.requireNonNull(next, "next == null");
    }

    /** Which targets OPENs may name from now on ({@link AllowedTargets#ANY} until set). */
    public void allowedTargets(AllowedTargets next) {
        allowedTargets = Objects.requireNonNull(next, "next == null");
    }

    /**
     * An OPEN's host and port must be among {@code allowed_targets}, and so must its server_name
     * with the port: the name whose certificate is verified, and sent as SNI, is the one allowed.
     */
    @Override
    public String refusal(Open open) {
        AllowedTargets allowed = allowedTargets;
        if (allowed.any()) {
            return null;
        }
        if (!allowed.allows(open.getHost(), open.getPort())) {
            return "not among this daemon's allowed_targets";
        }
        String serverName = open.getServerName();
        if (!serverName.isEmpty() && !allowed.allows(serverName, open.getPort())) {
            return "allowed, but its server_name " + serverName + " is not among this daemon's allowed_targets";
        }
        return null;
    }

    /** TCP keepalive for the connections of the attempts that start from now on (off until set). */
    public void keepalive(TcpKeepalive next) {
        keepalive = Objects.requireNonNull(next, "next == null");
    }

    /** The connect and handshake timeouts of the attempts that start from now on. */
    public void timeouts(Duration connect, Duration handshake) {
        connectTimeout = Objects.requireNonNull(connect, "connect == null");
        handshakeTimeout = Objects.requireNonNull(handshake, "handshake == null");
    }

    /** An OPEN's attempt: until it starts to connect, {@link #withdraw} may take it back. */
    private static final class PendingAttempt extends DefaultPromise<Channel> {
        private static final int WAITING = 0;
        private static final int STARTED = 1;
        private static final int WITHDRAWN = 2;
        /** Leaves WAITING once, by whichever comes first: its first connect, or its withdrawal. */
        private final AtomicInteger state = new AtomicInteger(WAITING);
        /** What it is doing (see {@link Connector#progress}): put in words only when asked. */
        volatile Stage stage = Stage.RESOLVING;
        /** The address of {@link #stage}, null while resolving. */
        volatile InetSocketAddress target;

        PendingAttempt(EventLoop loop) {
            super(loop);
        }

        /** True when it may connect: now for the first time, or again (to the host's next address). */
        boolean start() {
            return state.compareAndSet(WAITING, STARTED) || state.get() == STARTED;
        }

        boolean withdraw() {
            return state.compareAndSet(WAITING, WITHDRAWN) && cancel(false);
        }

        /** It is at {@code stage} now, with {@code target}. */
        void at(Stage stage, InetSocketAddress target) {
            this.target = target; // before the stage, which progress() reads before the target
            this.stage = stage;
        }
    }

    /**
     * Where an OPEN connects: the addresses its host resolved to, tried in turn while they refuse
     * or do not answer (a TLS failure ends it: that server answered), and what each one said.
     */
    private record Dial(String host, List<InetAddress> addresses, int next, int port, List<String> failures) {
        InetSocketAddress target() {
            return new InetSocketAddress(addresses.get(next), port);
        }

        boolean hasMore() {
            return next + 1 < addresses.size();
        }

        Dial after(String failure) {
            List<String> failed = new ArrayList<>(failures);
            failed.add(failure);
            return new Dial(host, addresses, next + 1, port, failed);
        }

        /** The OPEN's failure once the last address failed with {@code failure}. */
        Failure failed(String failure) {
            if (failures.isEmpty()) {
                return new Failure(Status.CONNECT_FAILED, "cannot connect to " + failure);
            }
            return new Failure(Status.CONNECT_FAILED, "cannot connect to " + host + " at any of its "
                    + addresses.size() + " addresses: " + String.join("; ", failures) + "; " + failure);
        }
    }

    @Override
    public boolean withdraw(Future<Channel> attempt) {
        return attempt instanceof PendingAttempt pending && pending.withdraw();
    }

    @Override
    public String progress(Future<Channel> attempt) {
        if (!(attempt instanceof PendingAttempt pending)) {
            return null;
        }
        Stage stage = pending.stage; // first: its target was set before it
        InetSocketAddress target = pending.target;
        return switch (stage) {
            case RESOLVING -> "resolving its host";
            case WAITING -> "waiting for its turn to connect to " + NetUtil.toSocketAddressString(target)
                    + " (max_handshakes_in_flight)";
            case CONNECTING -> "connecting to " + NetUtil.toSocketAddressString(target);
            case HANDSHAKING -> "in the TLS handshake with " + NetUtil.toSocketAddressString(target);
        };
    }

    /** Where an attempt is, for {@link #progress}. */
    private enum Stage { RESOLVING, WAITING, CONNECTING, HANDSHAKING }

    @Override
    public Future<Channel> connect(Open open, EventLoop loop, ChannelHandler handler) {
        PendingAttempt promise = new PendingAttempt(loop);
        String host = open.getHost();
        String serverName = open.getServerName().isEmpty() ? host : open.getServerName();
        List<String> alpn = List.copyOf(open.getAlpnList());
        try {
            contextNow(alpn); // an ALPN list no context can offer fails the OPEN at once
        } catch (Failure e) {
            return promise.setFailure(e);
        }
        Future<List<InetAddress>> resolved = resolver.resolveAll(host, loop);
        resolved.addListener(f -> {
            if (f.isSuccess()) {
                connect(loop, promise, new Dial(host, resolved.getNow(), 0, open.getPort(), List.of()), serverName,
                        alpn, handler);
            } else {
                promise.tryFailure(new Failure(Status.CONNECT_FAILED, f.cause().getMessage()));
            }
        });
        return promise;
    }

    /** The context for {@code alpn} of the contexts in use now: a reload may have replaced them. */
    private SslContext contextNow(List<String> alpn) throws Failure {
        try {
            return contexts.forAlpn(alpn);
        } catch (SSLException | RuntimeException e) {
            throw new Failure(Status.BAD_REQUEST, "cannot offer ALPN " + alpn + ": " + e.getMessage());
        }
    }

    private void connect(EventLoop loop, PendingAttempt promise, Dial dial, String serverName, List<String> alpn,
                         ChannelHandler handler) {
        if (limits == null) {
            try {
                attempt(loop, promise, dial, serverName, alpn, contextNow(alpn), handler, 0, nanos -> { });
            } catch (Failure e) {
                promise.tryFailure(e);
            }
            return;
        }
        HandshakeLimits.Lane lane = limits.lane(dial.target());
        Runnable waiting = () -> {
            AtomicBoolean ended = new AtomicBoolean();
            LongConsumer end = nanos -> {
                if (ended.compareAndSet(false, true)) {
                    lane.end(nanos);
                }
            };
            try {
                attempt(loop, promise, dial, serverName, alpn, contextNow(alpn), handler, lane.holdNanos(), end);
            } catch (Failure e) {
                end.accept(-1);
                promise.tryFailure(e);
            } catch (RuntimeException | Error e) {
                end.accept(-1);
                promise.tryFailure(new Failure(Status.INTERNAL, "cannot start a connection attempt: " + e));
            }
        };
        promise.at(Stage.WAITING, dial.target());
        lane.submit(waiting);
        promise.addListener(f -> {
            if (f.isCancelled()) {
                lane.withdraw(waiting); // given up (deadline, session gone): out of the queue, if still in it
            }
        });
    }

    /** OPENs waiting for their turn under the limit on attempts in flight (0 without a limit). */
    public int handshakesWaiting() {
        return limits == null ? 0 : limits.waiting();
    }

    /** The limit on attempts in flight to {@code target} now; -1 without a limit. */
    int handshakeLimit(InetSocketAddress target) {
        return limits == null ? -1 : limits.limit(target);
    }

    /**
     * Connects and handshakes; {@code ended} is told (once or more; the first counts) when the
     * attempt no longer handshakes: how long its connect and handshake took if it succeeded, -1
     * if it failed or never started; or -1 after {@code staleNanos} (if positive) while it goes on.
     */
    private void attempt(EventLoop loop, PendingAttempt promise, Dial dial, String serverName, List<String> alpn,
                         SslContext context, ChannelHandler handler, long staleNanos, LongConsumer ended) {
        if (promise.isDone() || !promise.start()) {
            ended.accept(-1);
            return; // cancelled or withdrawn while resolving or waiting for a slot
        }
        long start = System.nanoTime();
        EventLoop attemptLoop = handshakes == null ? loop : handshakes.next();
        LongConsumer attemptEnded;
        if (staleNanos > 0) {
            // on the attempt's own loop, where it ends: no wake-up of another loop to set or cancel it
            ScheduledFuture<?> stale = attemptLoop.schedule(() -> ended.accept(-1), staleNanos, TimeUnit.NANOSECONDS);
            attemptEnded = nanos -> {
                stale.cancel(false);
                ended.accept(nanos);
            };
        } else {
            attemptEnded = ended;
        }
        InetSocketAddress address = dial.target();
        String target = NetUtil.toSocketAddressString(address);
        promise.at(Stage.CONNECTING, address);
        SslHandler[] tls = new SslHandler[1];
        ClientGate gate = new ClientGate();
        long handshakeMillis = handshakeTimeout.toMillis();
        Duration connectWithin = connectTimeout;
        ChannelFuture connected = new Bootstrap()
                .group(attemptLoop)
                .channel(transport.socketChannel())
                .option(ChannelOption.AUTO_READ, false)
                // until the hand-over: a server that closes right after the handshake must not
                // close the channel while it moves (see complete)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_SNDBUF, sendBufferBytes > 0 ? sendBufferBytes : null) // null: not set
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectWithin.toMillis())
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        keepalive.apply(ch);
                        tls[0] = context.newHandler(ch.alloc(), serverName, dial.port());
                        tls[0].setHandshakeTimeoutMillis(handshakeMillis);
                        ch.pipeline()
                                .addLast("tls", tls[0])    // encrypts, decrypts, verifies the peer
                                .addLast("gate", gate);    // until the hand-over to the op engine
                    }
                })
                .connect(address);
        Channel ch = connected.channel();
        ch.closeFuture().addListener(f -> attemptEnded.accept(-1));
        promise.addListener(f -> {
            if (f.isCancelled()) {
                ch.close();
            }
        });
        connected.addListener(f -> {
            if (!f.isSuccess()) {
                attemptEnded.accept(-1);
                String failure = target + ": " + ConnectFailures.reason(f.cause(), connectWithin);
                if (dial.hasMore() && !promise.isDone()) {
                    connect(loop, promise, dial.after(failure), serverName, alpn, handler);
                } else {
                    promise.tryFailure(dial.failed(failure));
                }
                return;
            }
            promise.at(Stage.HANDSHAKING, address);
            tls[0].handshakeFuture().addListener(h -> {
                attemptEnded.accept(h.isSuccess() ? System.nanoTime() - start : -1);
                if (h.isSuccess()) {
                    handOver(ch, gate, loop, handler, promise);
                } else {
                    promise.tryFailure(TlsFailures.ofHandshake(h.cause(), serverName));
                    ch.close();
                }
            });
        });
    }

    /** Moves {@code ch} to {@code loop} if it is not there yet, then puts the op engine in the gate's place. */
    private static void handOver(Channel ch, ClientGate gate, EventLoop loop, ChannelHandler handler,
                                 Promise<Channel> promise) {
        LoopHandOver.moveTo(ch, loop).addListener(moved -> {
            if (moved.isSuccess()) {
                complete(ch, gate, handler, promise);
            } else {
                promise.tryFailure(new Failure(Status.INTERNAL, "cannot move the connection to its session's loop: "
                        + moved.cause()));
                ch.close();
            }
        });
    }

    /** On the session's loop, which is now the channel's. */
    private static void complete(Channel ch, ClientGate gate, ChannelHandler handler, Promise<Channel> promise) {
        if (promise.isDone()) {
            ch.close(); // cancelled (deadline, session gone) during the handshake or the move
            return;
        }
        if (!ch.isActive()) {
            promise.tryFailure(new Failure(Status.CONNECTION_RESET, "the connection was reset right after the handshake"));
            ch.close();
            return;
        }
        gate.handOverTo(ch.pipeline().context(gate), handler);
        ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false); // the op engine's rule: a FIN closes
        if (!promise.trySuccess(ch)) {
            ch.close();
            return;
        }
        if (gate.inputShutdown()) {
            // The server's FIN came before the move (its bytes and close_notify were replayed
            // above): now that the connection is the session's, it ends as any other would.
            ch.close();
        }
    }

    /** Holds what arrives after the handshake until the channel is on the session's loop. */
    private static final class ClientGate extends HandOverGate {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            super.userEventTriggered(ctx, evt);
            if (evt == ChannelInputShutdownEvent.INSTANCE
                    && !ctx.pipeline().get(SslHandler.class).handshakeFuture().isDone()) {
                ctx.close(); // a FIN during the handshake fails it at once, as without half-closure
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // the handshake future reports the failure
        }
    }

    @Override
    public ConnectionInfo describe(Channel ch, long connectionId) {
        String peerHost = ch.pipeline().get(SslHandler.class).engine().getPeerHost();
        return ConnectionInfos.of(ch, connectionId).setServerName(peerHost == null ? "" : peerHost).build();
    }
}
