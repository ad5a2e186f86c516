package io.tlsd.daemon.engine;

import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * One application request inside the engine. Lives on its session's loop only.
 *
 * <pre>QUEUED → RUNNING → DONE        QUEUED → DONE (cancelled, timed out, failed)</pre>
 *
 * A read stays QUEUED until it completes: it takes its bytes atomically, so until then it has
 * consumed nothing and can still be cancelled.
 */
final class Op {
    enum Kind { OPEN, ACCEPT, READ, WRITE, CLOSE, BARRIER, CANCEL }

    enum State { QUEUED, RUNNING, DONE }

    final long id;
    final Kind kind;
    State state = State.QUEUED;

    /** The connection a READ, WRITE, CLOSE or BARRIER targets; for OPEN, the one being opened. */
    Connection connection;
    /** The epoch of {@link #connection} the op is queued in (READ, WRITE, CLOSE, BARRIER). */
    Connection.Epoch epoch;

    int maxBytes;
    /**
     * WRITE payload (often a slice of the IPC frame it arrived in) until it is handed to the
     * channel, which then owns it and releases it once written or failed; null after that. An op
     * that ends while it still holds it releases it in {@code Session.retire}.
     */
    ByteBuf data;
    int dataLength;
    /**
     * WRITE from the write ring: where its bytes start there, until they are read into
     * {@link #data} when the write starts (or with a write queued ahead of it); -1 otherwise.
     */
    long ringOffset = -1;
    boolean writeSideOnly;

    ScheduledFuture<?> deadline;
    /** The request's {@code timeout_ms}, 0 for none. */
    long timeoutMs;
    /** OPEN: the connect and handshake under way; ACCEPT: the wait for a client. */
    io.netty.util.concurrent.Future<io.netty.channel.Channel> pendingConnect;

    Op(long id, Kind kind) {
        this.id = id;
        this.kind = kind;
    }

    /** A WRITE whose bytes are still in the write ring, to be read when it starts. */
    boolean awaitsRingRead() {
        return data == null && ringOffset >= 0;
    }

    boolean isDone() {
        return state == State.DONE;
    }

    @Override
    public String toString() {
        return kind + "(op " + id + ", " + state + ")";
    }
}
