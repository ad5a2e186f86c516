package io.tlsd.daemon.ipc;

import com.google.protobuf.InvalidProtocolBufferException;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.channel.unix.PeerCredentials;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.tlsd.daemon.engine.Acceptor;
import io.tlsd.daemon.engine.CompletionSink;
import io.tlsd.daemon.engine.Connector;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.engine.Session;
import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.daemon.engine.WriteRing;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.daemon.transport.WarningRate;
import io.tlsd.proto.v1.ClientMessage;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.DaemonMessage;
import io.tlsd.proto.v1.Draining;
import io.tlsd.proto.v1.Goodbye;
import io.tlsd.proto.v1.Hello;
import io.tlsd.proto.v1.Status;
import io.tlsd.proto.v1.Welcome;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One application's IPC channel: the Hello/Welcome exchange, then every request into its
 * {@link Session}, every completion back out. A frame that cannot be trusted ends the session
 * with a {@code Goodbye} that says why; other sessions do not notice.
 *
 * <p>It receives {@link ClientMessage}s and {@link WriteFrame}s. A WriteFrame's plaintext is
 * handed to the session, which owns it from then on; a WriteFrame that is not (before Hello,
 * after Goodbye) is released here.
 */
final class IpcSessionHandler extends ChannelInboundHandlerAdapter implements CompletionSink {
    private static final Logger log = LoggerFactory.getLogger(IpcSessionHandler.class);

    static final int PROTOCOL_VERSION = 1;

    /** How often sessions refused by {@code allowed_peers} are logged: a refused process may retry in a loop. */
    private static final WarningRate REFUSAL_WARNINGS = new WarningRate();
    /** How often sessions refused by {@code max_sessions} are logged. */
    private static final WarningRate LIMIT_WARNINGS = new WarningRate();
    /** How often sessions refused by {@code max_sessions_per_uid} are logged: apart, so that one user does not hide the rest. */
    private static final WarningRate USER_LIMIT_WARNINGS = new WarningRate();

    private enum State { AWAITING_HELLO, MAKING_RING, ACTIVE, ENDED }

    /** The application's name from its Hello, once the session started. */
    private String app;

    private final IpcServer.Settings settings;
    private final Connector connector;
    private final Acceptor acceptor;
    private final DaemonCounters counters;
    private final DrainDeadline drain;
    private final SessionSlots slots;
    /** Whether this session holds one of {@link #slots} (from its Hello on). */
    private boolean holdsSlot;
    /** The uid {@link #slots} counted this session's place under; -1 if unknown. */
    private int slotUid = -1;
    /** Whether this session was told that the daemon drains (once). */
    private boolean drainAnnounced;
    private State state = State.AWAITING_HELLO;
    private ChannelHandlerContext ctx;
    private Session session;
    /** The session's write ring while its file still has a name (until the first request). */
    private WriteRing linkedRing;
    /**
     * What arrived while the ring was being made (an application should wait for the Welcome, but
     * may not): handled in order once the session starts, released if it never does. Reading
     * stops meanwhile, so this holds at most the rest of one socket read.
     */
    private final ArrayDeque<Object> early = new ArrayDeque<>();
    private ScheduledFuture<?> helloTimer;
    /** The kernel's credentials of the application's process, read once it connected; null if unknown. */
    private PeerCredentials credentials;
    private String peer = "?";

    /**
     * @param drain the daemon's drain: a session that starts after it started drains at once
     * @param slots the places for sessions of this handler's server ({@code max_sessions}, {@code
     *     max_sessions_per_uid})
     */
    IpcSessionHandler(IpcServer.Settings settings, Connector connector, Acceptor acceptor, DaemonCounters counters,
                      DrainDeadline drain, SessionSlots slots) {
        this.settings = settings;
        this.connector = connector;
        this.acceptor = acceptor;
        this.counters = counters;
        this.drain = drain;
        this.slots = slots;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        credentials = Transport.credentialsOf(ctx.channel());
        peer = Transport.describe(credentials);
        counters.sessionStarted();
        Duration timeout = settings.helloTimeout();
        helloTimer = ctx.executor().schedule(() -> goodbye(Status.BAD_REQUEST,
                "no Hello within " + timeout.toMillis() + " ms"), timeout.toMillis(), TimeUnit.MILLISECONDS);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof WriteFrame write) {
            received(write);
        } else if (msg instanceof ClientMessage message) {
            received(message);
        } else {
            ctx.fireChannelRead(msg);
        }
    }

    private void received(ClientMessage msg) {
        switch (state) {
            case MAKING_RING -> early.add(msg);
            case AWAITING_HELLO -> {
                if (!msg.hasHello()) {
                    goodbye(Status.BAD_REQUEST, "the first message of a session must be Hello");
                    return;
                }
                hello(msg.getHello());
            }
            case ACTIVE -> {
                if (!msg.hasRequest()) {
                    goodbye(Status.BAD_REQUEST, msg.hasHello()
                            ? "Hello may only be sent once" : "message carries neither Hello nor Request");
                    return;
                }
                requestArrived();
                session.submit(msg.getRequest());
            }
            case ENDED -> {
                // ignore what arrives after Goodbye
            }
        }
    }

    /** A WRITE request whose data travels beside it; this method owns the frame's reference. */
    private void received(WriteFrame write) {
        if (state == State.MAKING_RING) {
            early.add(write); // still owned: ringMade() hands it on, or dropEarly() releases it
            return;
        }
        if (state == State.ACTIVE) {
            requestArrived();
            session.submitWrite(write.request(), write.content()); // the session owns the data now
            return;
        }
        write.release(); // nobody takes it: before Hello (refused below) or after Goodbye (ignored)
        if (state == State.AWAITING_HELLO) {
            goodbye(Status.BAD_REQUEST, "the first message of a session must be Hello");
        }
    }

    private void hello(Hello hello) {
        helloTimer.cancel(false);
        if (!peerAllowed()) {
            return;
        }
        if (hello.getProtocolVersion() != PROTOCOL_VERSION) {
            goodbye(Status.BAD_REQUEST, "protocol version " + hello.getProtocolVersion()
                    + " is not supported; this daemon speaks " + PROTOCOL_VERSION);
            return;
        }
        int uid = credentials == null ? SessionSlots.UNKNOWN_UID : credentials.uid();
        SessionSlots.Taken taken = slots.take(uid);
        if (taken != SessionSlots.Taken.YES) {
            long count = counters.sessionOverLimit();
            boolean user = taken == SessionSlots.Taken.USER_AT_LIMIT;
            if ((user ? USER_LIMIT_WARNINGS : LIMIT_WARNINGS).due()) {
                log.warn("session {} refused: {}; {} refused since start, logged at most every 10 s", ctx.channel().id(),
                        user ? (credentials == null ? "processes of unknown uid" : "uid " + uid) + " hold "
                                + sessions(slots.maxPerUid()) + ", max_sessions_per_uid"
                                : sessions(slots.max()) + " open, max_sessions", count);
            }
            goodbye(Status.LIMIT_EXCEEDED, user
                    ? "tlsd serves at most " + sessions(slots.maxPerUid()) + " of one user at once (max_sessions_per_uid)"
                    : "tlsd serves at most " + sessions(slots.max()) + " at once (max_sessions)");
            return;
        }
        slotUid = uid;
        holdsSlot = true;
        String app = hello.getAppName().isEmpty() ? "unnamed" : hello.getAppName();
        String appName = app.length() > 128 ? app.substring(0, 128) : app;
        int asked = hello.getWriteRingBytes();
        if (asked == 0 || !settings.offersWriteRings()) {
            start(appName, null);
            return;
        }
        // Making a ring writes all of its pages (milliseconds for megabytes): not on this loop,
        // which carries other sessions' traffic. Nothing is read until the session starts.
        state = State.MAKING_RING;
        ctx.channel().config().setAutoRead(false);
        settings.ringMaker().execute(() -> {
            WriteRing ring = writeRing(asked);
            try {
                ctx.executor().execute(() -> ringMade(appName, ring));
            } catch (RejectedExecutionException e) { // the daemon stopped meanwhile
                if (ring != null) {
                    ring.close();
                }
            }
        });
    }

    /** On the session's loop, once the ring is made (or could not be). */
    private void ringMade(String app, WriteRing ring) {
        if (state != State.MAKING_RING) { // the session ended meanwhile
            if (ring != null) {
                ring.close();
            }
            return;
        }
        start(app, ring);
        while (!early.isEmpty() && state == State.ACTIVE) {
            channelRead(ctx, early.poll());
        }
        if (session != null) {
            session.endBatch(); // the early requests were one batch; no read of the socket ends it
        }
        dropEarly();
        ctx.channel().config().setAutoRead(state == State.ACTIVE && !tooManyUnreadCompletions());
    }

    private void dropEarly() {
        for (Object msg; (msg = early.poll()) != null; ) {
            ReferenceCountUtil.release(msg);
        }
    }

    private void start(String app, WriteRing ring) {
        state = State.ACTIVE;
        this.app = app;
        session = new Session(ctx.channel().eventLoop(), settings.limits(), connector, acceptor, this, counters, ring,
                credentials);
        linkedRing = ring;
        log.info("session {} started: app={} {}{}", ctx.channel().id(), app, peer,
                ring == null ? "" : " write_ring=" + ring.size());
        Welcome.Builder welcome = Welcome.newBuilder()
                .setProtocolVersion(PROTOCOL_VERSION)
                .setDaemonVersion(settings.daemonVersion())
                .setRole(settings.role())
                .setLimits(settings.limits().toProto().toBuilder()
                        .setWriteRingBytes(settings.offersWriteRings() ? settings.writeRingBytes() : 0));
        if (ring != null) {
            welcome.setWriteRing(io.tlsd.proto.v1.WriteRing.newBuilder()
                    .setPath(ring.path().toString())
                    .setSize(ring.size()));
        }
        ctx.writeAndFlush(DaemonMessage.newBuilder().setWelcome(welcome).build());
        if (drain.started()) {
            drain(); // accepted just before the drain began, and missed by it
        }
    }

    private static String sessions(int n) {
        return n == 1 ? "1 session" : n + " sessions";
    }

    /**
     * Whether the connecting process may open a session ({@code allowed_peers}); if not, it gets
     * {@code Goodbye{UNAUTHORIZED}} naming its user and group, and the refusal is logged.
     */
    private boolean peerAllowed() {
        AllowedPeers allowed = settings.allowedPeers();
        if (allowed.allows(credentials)) {
            return true;
        }
        long count = counters.sessionRefused();
        if (REFUSAL_WARNINGS.due()) {
            log.warn("session {} refused: {} is not among allowed_peers ({}); {} refused since start, logged at most"
                    + " every 10 s", ctx.channel().id(), peer, allowed.describe(), count);
        }
        goodbye(Status.UNAUTHORIZED, Transport.who(credentials) + " may not use this tlsd socket (allowed_peers)"); // the list stays in the log
        return false;
    }

    /** The ring the Hello asked for, at most the configured size, or null when it cannot be made. */
    private WriteRing writeRing(int asked) {
        // uint32 on the wire: a "negative" ask is a huge one
        int size = asked < 0 ? settings.writeRingBytes() : Math.min(asked, settings.writeRingBytes());
        try {
            return WriteRing.create(settings.ringDirectory(), size);
        } catch (IOException | RuntimeException e) {
            log.warn("session {}: no write ring, its writes go through the socket: {}", ctx.channel().id(),
                    e.toString());
            return null;
        }
    }

    /**
     * A request goes to the session: it is part of the batch this read of the socket brings (which
     * {@link #channelReadComplete} ends). And the application maps its ring before its first
     * request, so from then on no name is needed.
     */
    private void requestArrived() {
        session.beginBatch();
        if (linkedRing != null) {
            linkedRing.unlink();
            linkedRing = null;
        }
    }

    /**
     * Backpressure on an application that does not read its completions comes in two steps. Past
     * the socket's high-water mark (it is no longer writable) the session holds back read data,
     * the bulk of what it sends; requests are still read, so that an application whose reader
     * thread is busy sending requests (from a completion's callback, say) cannot deadlock with the
     * daemon. Past twice that mark (other completions: writes, opens, errors) the daemon stops
     * reading its requests too, which bounds what it can make the daemon hold on its behalf. Both
     * end once the backlog is under the low-water mark again.
     */
    @Override
    public void send(Completion completion) {
        ctx.writeAndFlush(DaemonMessage.newBuilder().setCompletion(completion).build(), ctx.voidPromise());
        if (ctx.channel().config().isAutoRead() && tooManyUnreadCompletions()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    private boolean tooManyUnreadCompletions() {
        ChannelOutboundBuffer backlog = ctx.channel().unsafe().outboundBuffer();
        return backlog != null
                && backlog.totalPendingWriteBytes() > 2L * ctx.channel().config().getWriteBufferHighWaterMark();
    }

    @Override
    public boolean isWritable() {
        return ctx.channel().isWritable();
    }

    @Override
    public String describe() {
        return "session " + ctx.channel().id() + " (app=" + app + ")";
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            ctx.channel().config().setAutoRead(state == State.ACTIVE || state == State.AWAITING_HELLO);
            if (session != null) {
                session.sinkWritable();
            }
        }
        ctx.fireChannelWritabilityChanged();
    }

    /** The end of one read of the socket: the requests it brought are the session's batch. */
    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (session != null) {
            session.endBatch();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof DecoderException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof TooLongFrameException) {
            goodbye(Status.LIMIT_EXCEEDED, "frame too large: " + cause.getMessage()
                    + " (max_frame_bytes " + settings.limits().maxFrameBytes() + ")");
        } else if (cause instanceof InvalidProtocolBufferException) {
            goodbye(Status.BAD_REQUEST, "frame is not a valid ClientMessage: " + cause.getMessage());
        } else if (cause instanceof IOException) {
            log.debug("session {}: {}", ctx.channel().id(), cause.toString());
            ctx.close();
        } else {
            log.warn("session {} failed", ctx.channel().id(), cause);
            goodbye(Status.INTERNAL, "internal error: " + cause);
        }
    }

    /**
     * The daemon is shutting down gracefully: an active session is told so, with the time left
     * ({@code Draining}); one with connections goes on (without new ones) until it has none,
     * then ends with {@code UNAVAILABLE}; any other ends now. On the session's loop.
     */
    void drain() {
        if (state != State.ACTIVE) {
            goodbye(Status.UNAVAILABLE, "tlsd is shutting down");
            return;
        }
        if (!drainAnnounced) {
            drainAnnounced = true;
            ctx.writeAndFlush(DaemonMessage.newBuilder()
                    .setDraining(Draining.newBuilder().setMillisLeft(drain.millisLeft())).build(), ctx.voidPromise());
        }
        session.drain(() -> goodbye(Status.UNAVAILABLE, "tlsd is shutting down; this session's connections are"
                + " all closed: open a session with the daemon that replaces it"));
    }

    /** Ends the session after telling the application why. */
    void goodbye(Status status, String detail) {
        if (state == State.ENDED) {
            return;
        }
        state = State.ENDED;
        dropEarly();
        if (status == Status.UNAUTHORIZED || status == Status.LIMIT_EXCEEDED && app == null) {
            // said already, at most every 10 s (peerAllowed, hello): a refused process may retry in a loop
            log.debug("session {} ended by the daemon: {} {}", ctx.channel().id(), status, detail);
        } else {
            log.info("session {} ended by the daemon: {} {}", ctx.channel().id(), status, detail);
        }
        ctx.channel().config().setAutoRead(false);
        ctx.writeAndFlush(DaemonMessage.newBuilder()
                        .setGoodbye(Goodbye.newBuilder().setStatus(status).setDetail(detail)).build())
                .addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        state = State.ENDED;
        dropEarly();
        if (helloTimer != null) {
            helloTimer.cancel(false);
        }
        if (session != null) {
            int ops = session.opsInFlight();
            int conns = session.connectionCount();
            session.end();
            log.info("session {} closed: dropped {} ops, closed {} connections", ctx.channel().id(), ops, conns);
        }
        if (holdsSlot) {
            holdsSlot = false;
            slots.give(slotUid);
        }
        counters.sessionEnded();
        ctx.fireChannelInactive();
    }
}
