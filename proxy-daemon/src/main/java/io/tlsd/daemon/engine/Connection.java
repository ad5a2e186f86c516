package io.tlsd.daemon.engine;

import com.google.protobuf.UnsafeByteOperations;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import io.tlsd.daemon.transport.TcpReset;
import io.tlsd.proto.v1.Status;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Iterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One TLS connection of a session, and the last handler of its channel's pipeline. It runs the
 * connection's operations: reads FIFO among reads, writes (and CLOSE) FIFO among writes, the two
 * directions independent, and BARRIERs splitting the operations into epochs of which only the
 * first may run.
 *
 * <p>Decrypted bytes wait in a bounded buffer until a READ takes them; while the buffer is full
 * the socket is not read (the channel runs with {@code AUTO_READ=false}), so a slow application
 * slows the peer down instead of growing memory.
 *
 * <p>Everything here runs on the session's event loop, which is also the channel's.
 */
final class Connection extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(Connection.class);

    /** The connection's life; {@link #transition} refuses the moves the design does not have. */
    enum State { CONNECTING, HANDSHAKING, OPEN, READ_CLOSED, WRITE_CLOSED, CLOSING, CLOSED }

    /** Operations between two barriers; {@link #barrier} ends the epoch (null for the last one). */
    static final class Epoch {
        final ArrayDeque<Op> reads = new ArrayDeque<>();
        final ArrayDeque<Op> writes = new ArrayDeque<>();
        Op barrier;

        boolean isEmpty() {
            return reads.isEmpty() && writes.isEmpty();
        }
    }

    final long id;
    private final Session session;
    private final int bufferCap;
    private final ArrayDeque<Epoch> epochs = new ArrayDeque<>();
    private final ArrayDeque<ByteBuf> inbound = new ArrayDeque<>();
    private int inboundBytes;

    private State state;
    private Channel channel;
    /** The write or CLOSE handed to the channel and not completed yet. */
    private Op activeWrite;
    /** Why reads end once the buffer is drained: EOF after close_notify, or the failure. */
    private Failure endOfInput;
    /** Why writes can no longer run. */
    private Failure endOfOutput;
    /** Set when the daemon itself closes the channel, so the close is not blamed on the peer. */
    private Failure localCloseReason;
    private Throwable lastError;
    private boolean readPaused;
    private boolean pumping;
    private boolean pumpAgain;
    private boolean released;
    /** The next write, from the ring, waits for the end of the session's batch of requests. */
    private boolean waitingForBatch;

    /**
     * @param initial {@code CONNECTING} for a connection the daemon opens, {@code HANDSHAKING}
     *     for one a listener accepted and handshook before handing it over
     */
    Connection(Session session, long id, int bufferCap, State initial) {
        this.session = session;
        this.id = id;
        this.bufferCap = bufferCap;
        this.state = initial;
        epochs.add(new Epoch());
    }

    State state() {
        return state;
    }

    Channel channel() {
        return channel;
    }

    int bufferedBytes() {
        return inboundBytes;
    }

    private void transition(State to) {
        boolean legal = switch (to) {
            case CONNECTING -> false;
            case HANDSHAKING -> state == State.CONNECTING;
            case OPEN -> state == State.HANDSHAKING;
            case READ_CLOSED -> state == State.OPEN;
            case WRITE_CLOSED -> state == State.OPEN;
            case CLOSING -> state != State.CLOSED;
            case CLOSED -> true;
        };
        if (!legal) {
            throw new IllegalStateException("connection " + id + ": " + state + " → " + to);
        }
        state = to;
    }

    /** Called once the handshake succeeded and the open op completed: start reading. */
    void opened(Channel ch) {
        channel = ch;
        transition(State.OPEN);
        if (mayRead()) {
            ch.read();
        } else {
            pauseReading();
        }
    }

    /**
     * Whether to read the TLS socket now: there is room in this connection's buffer, and in the
     * session's, or a READ is waiting here with nothing buffered (so that an application waiting
     * for this connection is never held up by others' unread data: those reads are bounded by
     * {@code max_ops_in_flight}).
     */
    private boolean mayRead() {
        if (inboundBytes >= bufferCap) {
            return false;
        }
        if (session.hasReadRoom()) {
            return true;
        }
        Epoch head = epochs.peekFirst();
        return inboundBytes == 0 && head != null && !head.reads.isEmpty();
    }

    private void pauseReading() {
        readPaused = true;
        if (inboundBytes < bufferCap) {
            session.waitForReadRoom(this); // paused for the session's room, not for its own
        }
    }

    // ---------------------------------------------------------------- operations from the session

    void enqueue(Op op) {
        Epoch tail = epochs.peekLast();
        op.epoch = tail;
        op.connection = this;
        switch (op.kind) {
            case READ -> tail.reads.add(op);
            case WRITE, CLOSE -> tail.writes.add(op);
            case BARRIER -> {
                tail.barrier = op;
                epochs.addLast(new Epoch());
            }
            default -> throw new AssertionError("unexpected op kind: " + op.kind);
        }
        pump();
    }

    /**
     * Takes a queued op out (cancel or deadline). Returns false when the op has already started
     * (a write handed to the socket), in which case it stays.
     */
    boolean remove(Op op) {
        if (op.state != Op.State.QUEUED) {
            return false;
        }
        Epoch e = op.epoch;
        switch (op.kind) {
            case READ -> e.reads.remove(op);
            case WRITE, CLOSE -> e.writes.remove(op);
            case BARRIER -> mergeWithNext(e);
            default -> throw new AssertionError("unexpected op kind: " + op.kind);
        }
        return true;
    }

    /** A barrier that goes away joins its epoch with the next one. */
    private void mergeWithNext(Epoch e) {
        Iterator<Epoch> it = epochs.iterator();
        while (it.hasNext() && it.next() != e) {
            // advance to e
        }
        Epoch next = it.next();
        it.remove();
        for (Op op : next.reads) {
            op.epoch = e;
        }
        for (Op op : next.writes) {
            op.epoch = e;
        }
        e.reads.addAll(next.reads);
        e.writes.addAll(next.writes);
        e.barrier = next.barrier;
        if (e.barrier != null) {
            e.barrier.epoch = e;
        }
    }

    /** A running write or close that passed its deadline leaves the stream in an unknown state. */
    void abortForTimedOutWrite(Op op) {
        closeLocally(new Failure(Status.CLOSED, "connection closed: " + op.kind.name().toLowerCase() + " (op "
                + op.id + ") timed out while in progress"));
    }

    /**
     * Ends the connection for good: every op still queued fails with {@code reason} (or is
     * dropped silently when the reason is null because the session itself is gone), buffered
     * bytes are released and the channel is closed.
     */
    void release(Failure reason) {
        if (released) {
            return;
        }
        released = true;
        for (Epoch e : epochs) {
            failAll(e.reads, reason);
            failAll(e.writes, reason);
            if (e.barrier != null) {
                session.finish(e.barrier, reason);
            }
        }
        epochs.clear();
        if (activeWrite != null) {
            Op w = activeWrite;
            activeWrite = null;
            session.finish(w, reason);
        }
        releaseInbound();
        if (channel != null && channel.isOpen()) {
            if (localCloseReason == null) {
                localCloseReason = reason != null ? reason : new Failure(Status.CLOSED, "session ended");
            }
            if (reason == null) {
                // its application did not close it (it exited or crashed, or the daemon ended its
                // session) and may have been in the middle of a message: no close_notify, which
                // would tell the peer that the stream ended where it should, but a reset
                TcpReset.reset(channel);
            } else {
                channel.close();
            }
        }
        session.connectionReleased(this);
    }

    private void failAll(ArrayDeque<Op> ops, Failure reason) {
        Op op;
        while ((op = ops.poll()) != null) {
            session.finish(op, reason);
        }
    }

    private void releaseInbound() {
        ByteBuf buf;
        while ((buf = inbound.poll()) != null) {
            buf.release();
        }
        int released = inboundBytes;
        inboundBytes = 0;
        session.readBytesReleased(released);
    }

    // ---------------------------------------------------------------- the scheduler

    /** Runs whatever can run now. Re-entrant calls (a write that completes at once) loop instead. */
    void pump() {
        if (released) {
            return;
        }
        if (pumping) {
            pumpAgain = true;
            return;
        }
        pumping = true;
        try {
            do {
                pumpAgain = false;
                deliverReads();
                startWrites();
                advanceEpochs();
            } while (pumpAgain && !released);
        } finally {
            pumping = false;
        }
        resumeReading();
    }

    /** Reads the TLS socket again if reading paused and it may read now ({@link #mayRead}). */
    void resumeReading() {
        if (readPaused && channel != null && endOfInput == null && !released && mayRead()) {
            readPaused = false;
            channel.read();
        }
    }

    private void deliverReads() {
        Epoch head = epochs.peekFirst();
        Op read;
        while (head != null && (read = head.reads.peek()) != null) {
            if (inboundBytes > 0) {
                if (!session.canDeliverReads()) {
                    return;
                }
                head.reads.poll();
                session.completeRead(read, UnsafeByteOperations.unsafeWrap(take(read.maxBytes)));
            } else if (endOfInput != null) {
                head.reads.poll();
                session.finish(read, endOfInput);
            } else {
                return;
            }
        }
    }

    private byte[] take(int max) {
        int n = Math.min(max, inboundBytes);
        byte[] out = new byte[n];
        int off = 0;
        while (off < n) {
            ByteBuf buf = inbound.peek();
            int chunk = Math.min(buf.readableBytes(), n - off);
            buf.readBytes(out, off, chunk);
            off += chunk;
            if (!buf.isReadable()) {
                inbound.poll().release();
            }
        }
        inboundBytes -= n;
        session.readBytesReleased(n);
        return out;
    }

    private void startWrites() {
        Op op;
        while (activeWrite == null && !released && !waitingForBatch && (op = peekWrite()) != null) {
            if (op.kind == Op.Kind.WRITE && op.awaitsRingRead() && session.waitForBatch(this)) {
                waitingForBatch = true; // Session.endBatch calls batchEnded
                return;
            }
            epochs.peekFirst().writes.poll();
            if (op.kind == Op.Kind.WRITE) {
                startWrite(op);
            } else {
                startClose(op);
            }
        }
    }

    /** The session's batch of requests has ended: the write that waited for it may start. */
    void batchEnded() {
        waitingForBatch = false;
        pump();
    }

    private Op peekWrite() {
        Epoch head = epochs.peekFirst();
        return head == null ? null : head.writes.peek();
    }

    private void startWrite(Op op) {
        if (endOfOutput != null) {
            session.finish(op, endOfOutput);
            return;
        }
        if (op.awaitsRingRead()) {
            try {
                session.readFromRing(op, epochs.peekFirst().writes);
            } catch (Failure f) {
                session.finish(op, f);
                return;
            }
        }
        activeWrite = op;
        op.state = Op.State.RUNNING;
        ByteBuf data = op.data;
        op.data = null; // the channel owns it now (SslHandler releases it, or the failed write does)
        channel.writeAndFlush(data).addListener((ChannelFuture f) -> writeDone(op, f));
    }

    private void writeDone(Op op, ChannelFuture f) {
        if (activeWrite == op) {
            activeWrite = null;
        }
        if (op.isDone()) {
            return; // timed out, or released with the connection
        }
        if (f.isSuccess()) {
            session.completeWrite(op);
        } else {
            session.finish(op, endOfOutput != null ? endOfOutput : failureOf(f.cause()));
        }
        pump();
    }

    private void startClose(Op op) {
        activeWrite = op;
        op.state = Op.State.RUNNING;
        if (op.writeSideOnly) {
            if (endOfOutput != null) {
                activeWrite = null;
                session.finish(op, endOfOutput);
                return;
            }
            endOfOutput = new Failure(Status.CLOSED, "write side closed by op " + op.id);
            transition(state == State.OPEN ? State.WRITE_CLOSED : State.CLOSING);
            channel.pipeline().get(SslHandler.class).closeOutbound()
                    .addListener((ChannelFuture f) -> writeDone(op, f));
        } else {
            Failure reason = new Failure(Status.CLOSED, "connection " + id + " was closed by op " + op.id);
            endOfOutput = reason;
            if (channel.isOpen()) {
                closeLocally(reason);
            }
            channel.closeFuture().addListener(f -> {
                activeWrite = null;
                session.completeOk(op);
                release(reason);
            });
        }
    }

    /** Completes barriers whose epoch has drained, which lets the next epoch run. */
    private void advanceEpochs() {
        while (epochs.size() > 1 && activeWrite == null && epochs.peekFirst().isEmpty()) {
            Op barrier = epochs.pollFirst().barrier;
            session.completeOk(barrier);
            pumpAgain = true;
        }
    }

    private void closeLocally(Failure reason) {
        if (localCloseReason == null) {
            localCloseReason = reason;
        }
        if (state != State.CLOSED) {
            transition(State.CLOSING);
        }
        channel.close();
    }

    // ---------------------------------------------------------------- channel events

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        // Connectors add this handler to an active channel (the TLS connector once the handshake
        // is done), so there is no channelActive to wait for.
        if (state == State.CONNECTING && ctx.channel().isActive()) {
            transition(State.HANDSHAKING);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf buf = (ByteBuf) msg;
        if (released || !buf.isReadable()) {
            buf.release();
            return;
        }
        inbound.add(buf);
        inboundBytes += buf.readableBytes();
        session.readBytesBuffered(buf.readableBytes());
        pump();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (state == State.HANDSHAKING) {
            return; // SslHandler keeps reading until the handshake is done
        }
        if (mayRead()) {
            ctx.read();
        } else {
            pauseReading(); // until a READ makes room here, or in the session (resumeReading)
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslCloseCompletionEvent close && close.isSuccess() && endOfInput == null) {
            endOfInput = new Failure(Status.EOF, "the peer closed the connection (close_notify)");
            if (state == State.OPEN) {
                transition(State.READ_CLOSED);
            } else if (state == State.WRITE_CLOSED) {
                transition(State.CLOSING);
            }
            pump();
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (lastError == null) {
            lastError = cause;
        }
        if (!(cause instanceof IOException)) {
            log.debug("connection {}: {}", id, cause.toString());
        }
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        State before = state;
        if (state != State.CLOSED) {
            transition(State.CLOSED);
        }
        if (before == State.CONNECTING || before == State.HANDSHAKING) {
            ctx.fireChannelInactive();
            return; // the open op reports this failure
        }
        Failure why = localCloseReason != null ? localCloseReason : peerCloseReason();
        if (endOfInput == null) {
            endOfInput = why;
        }
        if (endOfOutput == null) {
            endOfOutput = endOfInput.status() == Status.EOF
                    ? new Failure(Status.CLOSED, "the peer closed the connection") : why;
        }
        pump();
        ctx.fireChannelInactive();
    }

    private Failure peerCloseReason() {
        Throwable cause = lastError instanceof DecoderException && lastError.getCause() != null
                ? lastError.getCause() : lastError;
        if (cause instanceof javax.net.ssl.SSLException) {
            return new Failure(Status.CONNECTION_RESET, "TLS error: " + cause.getMessage());
        }
        if (cause instanceof IOException && String.valueOf(cause.getMessage()).contains("timed out")) {
            // ETIMEDOUT: keepalive probes or retransmissions went unanswered
            return new Failure(Status.CONNECTION_RESET, "the peer stopped answering (TCP keepalive or"
                    + " retransmissions timed out): " + cause.getMessage());
        }
        if (cause instanceof IOException) {
            return new Failure(Status.CONNECTION_RESET, "connection reset by peer: " + cause.getMessage());
        }
        return new Failure(Status.CONNECTION_RESET,
                "the peer closed the TCP connection without close_notify (truncated)");
    }

    private Failure failureOf(Throwable cause) {
        if (endOfInput != null && endOfInput.status() != Status.EOF) {
            return endOfInput;
        }
        return new Failure(Status.CLOSED, "write failed: " + cause);
    }

    @Override
    public String toString() {
        return "connection " + id + " (" + state + ", " + inboundBytes + " bytes buffered)";
    }
}
