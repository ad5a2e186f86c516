package io.tlsd.daemon.engine;

import com.google.protobuf.ByteString;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.unix.PeerCredentials;
import io.netty.util.concurrent.Future;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.daemon.transport.WarningRate;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.ConnectionInfo;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Status;
import io.tlsd.proto.v1.Write;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One application's IPC session: its operations and its connections. All state lives on one
 * event loop (the IPC channel's, which every connection of the session shares), so nothing here
 * takes a lock.
 *
 * <p>Every request is answered exactly once through the {@link CompletionSink}, except when
 * the session itself ends: then its operations are dropped, as there is nobody left to tell.
 */
public final class Session {
    /** The most {@link #readFromRing} reads at once. */
    static final int RING_READ_MAX_BYTES = 1 << 20;
    /** Why OPEN and ACCEPT fail once the daemon drains ({@link #drain}). */
    static final String DRAINING =
            "tlsd is shutting down: no new connections; open a session with the daemon that replaces it";

    private static final Logger log = LoggerFactory.getLogger(Session.class);
    /** OPENs refused by {@code allowed_targets}, logged at most every 10 s. */
    private static final WarningRate TARGET_WARNINGS = new WarningRate();

    private final EventLoop loop;
    private final PeerCredentials peer;
    private final SessionLimits limits;
    private final Connector connector;
    private final Acceptor acceptor;
    private final CompletionSink sink;
    private final DaemonCounters counters;
    /** Where WRITEs with {@code ring} find their plaintext; null when the session has none. */
    private final WriteRing ring;

    private final Map<Long, Op> ops = new HashMap<>();
    private final Map<Long, Connection> connections = new HashMap<>();
    private long lastOpId;
    private long nextConnectionId = 1;
    private long queuedWriteBytes;
    /**
     * Decrypted bytes the session's connections buffer for READs: about {@code
     * max_buffered_read_bytes} at most (each connection may pass it by one read of its socket).
     */
    private long bufferedReadBytes;
    /** Connections that stopped reading for want of the session's room (not their own). */
    private final Set<Connection> waitingForReadRoom = new LinkedHashSet<>();
    /** ACCEPTs whose client has not been handed over yet. */
    private int acceptsWaiting;
    private boolean ended;
    /** Set by {@link #drain}: runs once the session holds no connection; null before and after. */
    private Runnable whenDrained;
    private boolean draining;
    /** Between {@link #beginBatch} and {@link #endBatch}: ring writes wait for the batch's end. */
    private boolean batching;
    /** Connections whose next write waits for the end of the batch. */
    private final List<Connection> waitingForBatch = new ArrayList<>();

    /**
     * @param connector opens connections (client role), or null
     * @param acceptor hands over accepted connections (server role), or null
     */
    public Session(EventLoop loop, SessionLimits limits, Connector connector, Acceptor acceptor,
                   CompletionSink sink, DaemonCounters counters) {
        this(loop, limits, connector, acceptor, sink, counters, null);
    }

    /**
     * @param ring the session's write ring, or null; the session closes it when it ends
     */
    public Session(EventLoop loop, SessionLimits limits, Connector connector, Acceptor acceptor,
                   CompletionSink sink, DaemonCounters counters, WriteRing ring) {
        this(loop, limits, connector, acceptor, sink, counters, ring, null);
    }

    /**
     * @param peer the kernel's credentials of the application's process, null when unknown: which
     *     listeners it may accept on ({@link Acceptor#mayAccept})
     */
    public Session(EventLoop loop, SessionLimits limits, Connector connector, Acceptor acceptor,
                   CompletionSink sink, DaemonCounters counters, WriteRing ring, PeerCredentials peer) {
        this.loop = loop;
        this.peer = peer;
        this.limits = limits;
        this.connector = connector;
        this.acceptor = acceptor;
        this.sink = sink;
        this.counters = counters;
        this.ring = ring;
    }

    DaemonCounters counters() {
        return counters;
    }

    public int opsInFlight() {
        return ops.size();
    }

    public int connectionCount() {
        return connections.size();
    }

    /**
     * What an operator sees of one connection (the debug socket's {@code conns}).
     *
     * @param state the engine's state of it: {@code OPEN}, {@code READ_CLOSED}, ...
     * @param bufferedBytes decrypted bytes that no READ has taken yet
     */
    public record ConnectionView(long connId, String state, int bufferedBytes) {
    }

    /** This session's connections, by id. Must be called on the session's loop. */
    public List<ConnectionView> connectionViews() {
        List<ConnectionView> views = new ArrayList<>();
        for (Connection conn : connections.values()) {
            views.add(new ConnectionView(conn.id, conn.state().name(), conn.bufferedBytes()));
        }
        views.sort(Comparator.comparingLong(ConnectionView::connId));
        return views;
    }

    // ---------------------------------------------------------------- requests

    /**
     * Takes one request from the application. Must be called on the session's loop. A WRITE's
     * data is taken from the request (wrapped, not copied), or read out of the write ring when the
     * write starts.
     */
    public void submit(Request request) {
        ByteBuf writeData = request.hasWrite() && !request.getWrite().hasRing()
                ? Unpooled.wrappedBuffer(request.getWrite().getData().asReadOnlyByteBuffer()) : null;
        submit(request, writeData);
    }

    /**
     * Takes one WRITE request whose plaintext travels beside it, e.g. still in the buffer the IPC
     * frame arrived in. Must be called on the session's loop.
     *
     * <p>The session takes over the caller's reference to {@code data}, whatever happens: a
     * refused request releases it at once; an accepted one keeps it in its {@link Op} until it is
     * handed to the connection's channel (whose {@code SslHandler} releases it once encrypted)
     * or, if the op ends before that (cancel, deadline, connection or session gone), until
     * {@link #retire} releases it.
     *
     * @param request a WRITE; its {@code write.data} is not read
     * @param data the plaintext, at least as long-lived as the call
     */
    public void submitWrite(Request request, ByteBuf data) {
        if (!request.hasWrite()) {
            data.release();
            throw new IllegalArgumentException("not a WRITE request: op " + request.getOpId());
        }
        submit(request, data);
    }

    /** Both of the above; {@code writeData} (a WRITE's, else null) is owned by this method. */
    private void submit(Request request, ByteBuf writeData) {
        if (ended) {
            release(writeData); // nobody is left to answer
            return;
        }
        long opId = request.getOpId();
        if (opId <= lastOpId) {
            release(writeData);
            sink.send(failure(opId, Status.BAD_REQUEST, opId == 0
                    ? "op_id must not be 0"
                    : "op_id " + opId + " is not greater than the previous op_id " + lastOpId));
            return;
        }
        lastOpId = opId;
        if (ops.size() >= limits.maxOpsInFlight()) {
            release(writeData);
            sink.send(failure(opId, Status.LIMIT_EXCEEDED,
                    "too many operations in flight (limit " + limits.maxOpsInFlight() + ")"));
            return;
        }
        try {
            // from here on write() owns writeData: it releases it when it refuses the request
            dispatch(request, writeData);
        } catch (Failure f) {
            Op op = ops.get(opId);
            if (op != null) {
                finish(op, f);
            } else {
                sink.send(failure(opId, f.status(), f.detail()));
            }
        }
    }

    private static void release(ByteBuf data) {
        if (data != null) {
            data.release();
        }
    }

    private void dispatch(Request request, ByteBuf writeData) throws Failure {
        switch (request.getOpCase()) {
            case OPEN -> open(request);
            case ACCEPT -> accept(request);
            case READ -> read(request);
            case WRITE -> write(request, writeData);
            case CLOSE -> close(request);
            case BARRIER -> barrier(request);
            case CANCEL -> cancel(request);
            case OP_NOT_SET -> throw new Failure(Status.BAD_REQUEST,
                    "request carries no operation this daemon knows (protocol v1)");
        }
    }

    private Op track(Request request, Op.Kind kind) {
        Op op = new Op(request.getOpId(), kind);
        ops.put(op.id, op);
        counters.opsInFlight.incrementAndGet();
        if (request.getTimeoutMs() > 0) {
            op.timeoutMs = request.getTimeoutMs();
            op.deadline = loop.schedule(() -> deadlinePassed(op), request.getTimeoutMs(), TimeUnit.MILLISECONDS);
        }
        return op;
    }

    private void open(Request request) throws Failure {
        if (connector == null) {
            throw new Failure(Status.BAD_REQUEST,
                    "OPEN needs the client role (tlsd client); this daemon is the server role");
        }
        refuseNewConnectionsWhileDraining();
        var open = request.getOpen();
        if (open.getHost().isEmpty()) {
            throw new Failure(Status.BAD_REQUEST, "open: host is empty");
        }
        if (open.getPort() < 1 || open.getPort() > 65535) {
            throw new Failure(Status.BAD_REQUEST, "open: port " + open.getPort() + " is not in 1..65535");
        }
        String refusal = connector.refusal(open);
        if (refusal != null) {
            long count = counters.openRefused();
            if (TARGET_WARNINGS.due()) {
                log.warn("{}: open {}:{} refused: {}; {} refused since start, logged at most every 10 s",
                        sink.describe(), open.getHost(), open.getPort(), refusal, count);
            }
            throw new Failure(Status.UNAUTHORIZED, "open: " + open.getHost() + ":" + open.getPort() + " is " + refusal);
        }
        if (connections.size() >= limits.maxConnections()) {
            throw new Failure(Status.LIMIT_EXCEEDED,
                    "too many connections in this session (limit " + limits.maxConnections() + ")");
        }
        Op op = track(request, Op.Kind.OPEN);
        op.state = Op.State.RUNNING;
        Connection conn = new Connection(this, nextConnectionId++, limits.connectionBufferBytes(),
                Connection.State.CONNECTING);
        op.connection = conn;
        connections.put(conn.id, conn);
        counters.connections.incrementAndGet();
        Future<Channel> attempt = connector.connect(open, loop, conn);
        op.pendingConnect = attempt;
        attempt.addListener(f -> {
            op.pendingConnect = null;
            if (op.isDone() || f.isCancelled()) {
                return; // timed out, withdrawn or session ended: whoever cancelled completes the op
            }
            if (f.isSuccess()) {
                Channel ch = attempt.getNow();
                ConnectionInfo info = connector.describe(ch, conn.id);
                counters.handshakes.increment();
                conn.opened(ch); // before the completion: the application may use the connection at once
                send(op, Completion.newBuilder().setConnection(info));
            } else {
                counters.handshakeFailures.increment();
                Failure why = f.cause() instanceof Failure failure ? failure
                        : new Failure(Status.INTERNAL, "open failed: " + f.cause());
                // the application gets the same; here for an operator with `loglevel debug`
                log.debug("{}: open {}:{} (op {}) failed: {} {}", sink.describe(), open.getHost(), open.getPort(),
                        op.id, why.status(), why.detail());
                finish(op, why);
                conn.release(null);
            }
        });
    }

    private void accept(Request request) throws Failure {
        if (acceptor == null) {
            throw new Failure(Status.BAD_REQUEST,
                    "ACCEPT needs the server role (tlsd server); this daemon is the client role");
        }
        refuseNewConnectionsWhileDraining();
        String listener = request.getAccept().getListener().isEmpty() ? "default" : request.getAccept().getListener();
        // ACCEPTs waiting count as the connections they will bring: a client that finished its
        // handshake is never taken only to be closed for want of a place
        if (connections.size() + acceptsWaiting >= limits.maxConnections()) {
            throw new Failure(Status.LIMIT_EXCEEDED, "too many connections in this session (limit "
                    + limits.maxConnections() + ", ACCEPTs waiting included)");
        }
        if (!acceptor.mayAccept(listener, peer)) {
            throw new Failure(Status.UNAUTHORIZED, Transport.who(peer) + " may not accept on listener '" + listener
                    + "' (its allowed_peers)");
        }
        Op op = track(request, Op.Kind.ACCEPT);
        Future<Channel> handover = acceptor.accept(listener, loop, peer);
        op.pendingConnect = handover;
        acceptsWaiting++;
        handover.addListener(f -> {
            acceptsWaiting--;
            op.pendingConnect = null;
            if (f.isCancelled()) {
                return; // whoever cancelled completes the op
            }
            if (!f.isSuccess()) {
                finish(op, f.cause() instanceof Failure failure ? failure
                        : new Failure(Status.INTERNAL, "accept failed: " + f.cause()));
                return;
            }
            Channel ch = handover.getNow();
            if (op.isDone() || connections.size() >= limits.maxConnections()) {
                ch.close();
                finish(op, new Failure(Status.LIMIT_EXCEEDED,
                        "too many connections in this session (limit " + limits.maxConnections() + ")"));
                return;
            }
            long connId = nextConnectionId++;
            ConnectionInfo info = acceptor.describe(ch, connId); // before counting it: it may throw
            Connection conn = new Connection(this, connId, limits.connectionBufferBytes(),
                    Connection.State.HANDSHAKING);
            connections.put(conn.id, conn);
            counters.connections.incrementAndGet();
            counters.handshakes.increment();
            conn.opened(ch); // before the completion: the application may use the connection at once
            acceptor.attach(ch, conn);
            send(op, Completion.newBuilder().setConnection(info));
        });
    }

    private void read(Request request) throws Failure {
        var read = request.getRead();
        Connection conn = openConnection(read.getConnId());
        if (read.getMaxBytes() < 1 || read.getMaxBytes() > limits.maxReadBytes()) {
            throw new Failure(Status.BAD_REQUEST,
                    "read: max_bytes " + read.getMaxBytes() + " is not in 1.." + limits.maxReadBytes());
        }
        Op op = track(request, Op.Kind.READ);
        op.maxBytes = read.getMaxBytes();
        conn.enqueue(op);
    }

    /**
     * Owns {@code data}: releases it when refusing the request, else gives it to the op. A null
     * {@code data} means the plaintext is in the write ring: the op only notes where, and
     * {@link #readFromRing} reads it when the write starts.
     */
    private void write(Request request, ByteBuf data) throws Failure {
        Write write = request.getWrite();
        boolean fromRing = data == null;
        Connection conn;
        long length = data != null ? data.readableBytes() : Integer.toUnsignedLong(write.getRing().getLength());
        long ringOffset = fromRing ? Integer.toUnsignedLong(write.getRing().getOffset()) : -1;
        Op op;
        try {
            conn = openConnection(write.getConnId());
            if (fromRing && !write.getData().isEmpty()) {
                throw new Failure(Status.BAD_REQUEST, "write: data and ring are exclusive");
            }
            if (fromRing && ring == null) {
                throw new Failure(Status.BAD_REQUEST, "write: this session has no write ring");
            }
            if (length < 1 || length > limits.maxWriteBytes()) {
                throw new Failure(Status.BAD_REQUEST,
                        "write: " + length + " bytes is not in 1.." + limits.maxWriteBytes());
            }
            if (queuedWriteBytes + length > limits.maxQueuedWriteBytes()) {
                throw new Failure(Status.LIMIT_EXCEEDED, "too many write bytes queued in this session (limit "
                        + limits.maxQueuedWriteBytes() + ", queued " + queuedWriteBytes + ")");
            }
            if (fromRing) {
                ring.checkSlice(ringOffset, length);
            }
            op = track(request, Op.Kind.WRITE);
        } catch (Failure | RuntimeException e) {
            release(data); // refused: no op ever held it
            throw e;
        }
        // The op owns the data now: Connection.startWrite passes it to the channel, or retire()
        // releases it when the op ends first.
        op.data = data;
        op.dataLength = (int) length;
        op.ringOffset = ringOffset;
        queuedWriteBytes += length;
        if (fromRing) {
            counters.ringBytes.add(length);
        }
        conn.enqueue(op);
    }

    /**
     * The requests that follow, up to {@link #endBatch}, arrived together (one read of the IPC
     * socket): a WRITE from the write ring that could start now waits for the batch's end, so
     * that the ring WRITEs of the batch queued behind it are read with it ({@link #readFromRing}).
     * Nothing else waits. Idempotent; must be called on the session's loop.
     */
    public void beginBatch() {
        batching = true;
    }

    /** The end of a batch of requests: starts the writes that waited for it. */
    public void endBatch() {
        batching = false;
        for (int i = 0; i < waitingForBatch.size(); i++) {
            waitingForBatch.get(i).batchEnded();
        }
        waitingForBatch.clear();
    }

    /** True if {@code conn}'s next write, from the ring, is to wait for the end of the batch. */
    boolean waitForBatch(Connection conn) {
        if (!batching) {
            return false;
        }
        waitingForBatch.add(conn);
        return true;
    }

    /**
     * Reads the plaintext of {@code first}, a WRITE from the write ring that is about to start,
     * and in the same read that of the WRITEs queued right behind it ({@code behind}, in order)
     * whose slices follow on in the ring, up to {@link #RING_READ_MAX_BYTES} in all: one system
     * call for a run of pipelined writes instead of one each. Each op gets its own slice of the
     * buffer read. If the read fails (a ring the application shrank), only {@code first} is
     * affected; the others read their own bytes when their turn comes.
     *
     * @throws Failure BAD_REQUEST when the ring cannot be read
     */
    void readFromRing(Op first, Iterable<Op> behind) throws Failure {
        int total = first.dataLength;
        long end = first.ringOffset + first.dataLength;
        int following = 0;
        for (Op op : behind) {
            if (op.kind != Op.Kind.WRITE || op.data != null || op.ringOffset != end
                    || (long) total + op.dataLength > RING_READ_MAX_BYTES) {
                break;
            }
            total += op.dataLength;
            end += op.dataLength;
            following++;
        }
        ByteBuf all = ring.read(ByteBufAllocator.DEFAULT, first.ringOffset, total);
        first.data = all.retainedSlice(0, first.dataLength);
        int at = first.dataLength;
        for (Op op : behind) {
            if (following-- == 0) {
                break;
            }
            op.data = all.retainedSlice(at, op.dataLength);
            at += op.dataLength;
        }
        all.release();
    }

    private void close(Request request) throws Failure {
        var close = request.getClose();
        Connection conn = openConnection(close.getConnId());
        Op op = track(request, Op.Kind.CLOSE);
        op.writeSideOnly = close.getWriteSideOnly();
        conn.enqueue(op);
    }

    private void barrier(Request request) throws Failure {
        Connection conn = openConnection(request.getBarrier().getConnId());
        conn.enqueue(track(request, Op.Kind.BARRIER));
    }

    private void cancel(Request request) {
        long target = request.getCancel().getTargetOpId();
        Op victim = ops.get(target);
        Status outcome;
        String detail;
        if (victim == null) {
            if (target > 0 && target < request.getOpId()) {
                outcome = Status.TOO_LATE;
                detail = "op " + target + " has already completed";
            } else {
                outcome = Status.NOT_FOUND;
                detail = "no op " + target + " in this session";
            }
        } else if (victim.kind == Op.Kind.ACCEPT && victim.pendingConnect != null
                && victim.pendingConnect.cancel(false)) {
            finish(victim, new Failure(Status.CANCELLED, "cancelled by op " + request.getOpId()));
            outcome = Status.OK;
            detail = "";
        } else if (victim.kind == Op.Kind.OPEN && victim.pendingConnect != null
                && connector.withdraw(victim.pendingConnect)) {
            finish(victim, new Failure(Status.CANCELLED, "cancelled by op " + request.getOpId()));
            victim.connection.release(null);
            outcome = Status.OK;
            detail = "";
        } else if (victim.connection != null && victim.kind != Op.Kind.OPEN && victim.connection.remove(victim)) {
            finish(victim, new Failure(Status.CANCELLED, "cancelled by op " + request.getOpId()));
            victim.connection.pump();
            outcome = Status.OK;
            detail = "";
        } else {
            outcome = Status.TOO_LATE;
            detail = "op " + target + " has already started";
        }
        sink.send(failure(request.getOpId(), outcome, detail));
    }

    private void deadlinePassed(Op op) {
        op.deadline = null;
        if (op.isDone()) {
            return;
        }
        String where = op.kind == Op.Kind.OPEN && op.pendingConnect != null ? connector.progress(op.pendingConnect)
                : null;
        Failure timedOut = new Failure(Status.TIMED_OUT, op.kind.name().toLowerCase() + " (op " + op.id
                + ") did not complete within its deadline of " + op.timeoutMs + " ms"
                + (where != null ? "; it was " + where : ""));
        switch (op.kind) {
            case OPEN -> {
                finish(op, timedOut);
                if (op.pendingConnect != null) {
                    op.pendingConnect.cancel(false);
                }
                op.connection.release(null);
            }
            case ACCEPT -> {
                if (op.pendingConnect == null || op.pendingConnect.cancel(false)) {
                    finish(op, timedOut);
                }
            }
            case READ, WRITE, CLOSE, BARRIER -> {
                Connection conn = op.connection;
                boolean wasQueued = conn.remove(op);
                finish(op, timedOut);
                if (!wasQueued) {
                    conn.abortForTimedOutWrite(op);
                }
                conn.pump();
            }
            default -> throw new AssertionError("unexpected op kind with a deadline: " + op.kind);
        }
    }

    /** The connection an op on {@code connId} may use, or the precise reason it may not. */
    private Connection openConnection(long connId) throws Failure {
        Connection conn = connections.get(connId);
        if (conn == null) {
            if (connId > 0 && connId < nextConnectionId) {
                throw new Failure(Status.CLOSED, "connection " + connId + " is closed");
            }
            throw new Failure(Status.NOT_FOUND, "no connection " + connId + " in this session");
        }
        if (conn.state() == Connection.State.CONNECTING || conn.state() == Connection.State.HANDSHAKING) {
            throw new Failure(Status.BAD_REQUEST, "connection " + connId + " is still opening");
        }
        return conn;
    }

    // ---------------------------------------------------------------- completions

    boolean canDeliverReads() {
        return sink.isWritable();
    }

    /** Whether the session's connections together buffer less than {@code max_buffered_read_bytes}. */
    boolean hasReadRoom() {
        return bufferedReadBytes < limits.maxBufferedReadBytes();
    }

    /** {@code conn} stopped reading for want of the session's room: woken when there is some again. */
    void waitForReadRoom(Connection conn) {
        waitingForReadRoom.add(conn);
    }

    /** A connection of the session buffered {@code bytes} more decrypted bytes (counted for the daemon too). */
    void readBytesBuffered(long bytes) {
        bufferedReadBytes += bytes;
        counters.bufferedBytes.addAndGet(bytes);
    }

    /**
     * A connection of the session no longer buffers {@code bytes} (a READ took them, or it
     * ended): when that makes room again, the connections that paused for want of it read on.
     */
    void readBytesReleased(long bytes) {
        bufferedReadBytes -= bytes;
        counters.bufferedBytes.addAndGet(-bytes);
        // woken with some room to fill (a connection's buffer's worth, or all of it when the
        // limit is smaller), not at every byte: each wakes with one read of its socket
        long wakeBelow = Math.max(1, limits.maxBufferedReadBytes() - limits.connectionBufferBytes());
        if (!waitingForReadRoom.isEmpty() && bufferedReadBytes < wakeBelow && !ended) {
            List<Connection> waking = new ArrayList<>(waitingForReadRoom);
            waitingForReadRoom.clear();
            for (Connection conn : waking) {
                conn.resumeReading();
            }
        }
    }

    /** The IPC channel drained: reads held back for it may go now. */
    public void sinkWritable() {
        for (Connection conn : new ArrayList<>(connections.values())) {
            conn.pump();
        }
    }

    void completeRead(Op op, ByteString data) {
        counters.bytesRead.add(data.size());
        send(op, Completion.newBuilder().setData(data));
    }

    void completeWrite(Op op) {
        counters.bytesWritten.add(op.dataLength);
        send(op, Completion.newBuilder().setBytesWritten(op.dataLength));
    }

    /** A BARRIER or CLOSE: nothing to report but OK. */
    void completeOk(Op op) {
        send(op, Completion.newBuilder());
    }

    /** Completes {@code op} with a failure; a null failure (session gone) only drops it. */
    void finish(Op op, Failure failure) {
        if (failure == null) {
            retire(op);
        } else {
            send(op, Completion.newBuilder().setStatus(failure.status()).setDetail(failure.detail()));
        }
    }

    private void send(Op op, Completion.Builder completion) {
        if (!retire(op)) {
            return;
        }
        if (!ended) {
            sink.send(completion.setOpId(op.id).build());
        }
    }

    /**
     * Marks the op done and gives back what it held, including a WRITE's data not yet handed to
     * the channel (cancelled, timed out, failed while queued, session or connection gone). False
     * if it was already done.
     */
    private boolean retire(Op op) {
        if (op.isDone()) {
            return false;
        }
        op.state = Op.State.DONE;
        if (op.deadline != null) {
            op.deadline.cancel(false);
            op.deadline = null;
        }
        if (op.data != null) {
            op.data.release();
            op.data = null;
        }
        if (op.kind == Op.Kind.WRITE) {
            queuedWriteBytes -= op.dataLength;
        }
        ops.remove(op.id);
        counters.opsInFlight.decrementAndGet();
        counters.opsCompleted.increment();
        return true;
    }

    void connectionReleased(Connection conn) {
        waitingForReadRoom.remove(conn);
        if (connections.remove(conn.id) != null) {
            counters.connections.decrementAndGet();
        }
        runIfDrained();
    }

    /**
     * The daemon is shutting down gracefully: from now on OPEN and ACCEPT fail with
     * {@code UNAVAILABLE}, and so do the ACCEPTs waiting for a client; everything else goes on as
     * before. {@code whenDrained} runs once, on the session's loop, as soon as the session holds
     * no connection (at once if it holds none now); it ends the session.
     */
    public void drain(Runnable whenDrained) {
        if (ended || draining) {
            return;
        }
        draining = true;
        this.whenDrained = whenDrained;
        for (Op op : new ArrayList<>(ops.values())) {
            if (op.kind == Op.Kind.ACCEPT) { // waiting for a client: an accepted one completes it at once
                if (op.pendingConnect != null) {
                    op.pendingConnect.cancel(false);
                }
                finish(op, new Failure(Status.UNAVAILABLE, DRAINING));
            }
        }
        runIfDrained();
    }

    private void refuseNewConnectionsWhileDraining() throws Failure {
        if (draining) {
            throw new Failure(Status.UNAVAILABLE, DRAINING);
        }
    }

    private void runIfDrained() {
        if (whenDrained != null && connections.isEmpty() && !ended) {
            Runnable run = whenDrained;
            whenDrained = null;
            run.run();
        }
    }

    /** The application is gone: drop its operations and close its connections. */
    public void end() {
        if (ended) {
            return;
        }
        ended = true;
        for (Op op : new ArrayList<>(ops.values())) {
            if (op.pendingConnect != null) {
                op.pendingConnect.cancel(false);
            }
            retire(op);
        }
        for (Connection conn : new ArrayList<>(connections.values())) {
            conn.release(null);
        }
        if (ring != null) {
            ring.close(); // no request reads it any more: submit() ignores everything after end()
        }
    }

    private static Completion failure(long opId, Status status, String detail) {
        return Completion.newBuilder().setOpId(opId).setStatus(status).setDetail(detail).build();
    }
}
