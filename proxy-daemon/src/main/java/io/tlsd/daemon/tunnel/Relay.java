package io.tlsd.daemon.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.util.NetUtil;
import io.tlsd.daemon.transport.ConnectFailures;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One tunnelled connection: the accepted end and the dialed end, both on one event loop, and the
 * bytes copied between them the way Netty's proxy example does it. Neither channel reads by
 * itself ({@code AUTO_READ=false}); an end is asked for its next chunk only once its previous
 * chunk has been written to the other end, so no buffer grows with a slow peer.
 *
 * <p>Each direction ends the way its input ended:
 * <ul>
 *   <li>a FIN on a plain end, or a close_notify on a TLS end, ends the same direction at the
 *       other end once the bytes before it were written: a close_notify there (the TLS
 *       connection stays open for the reply) or a FIN. When both directions have ended, both
 *       channels are closed.
 *   <li>a TLS peer that sends a FIN without close_notify may have been cut off (a truncation),
 *       and so may any error: both ends are then reset (RST, no close_notify) so that neither
 *       peer takes a broken stream for a complete one (see {@link #abort()}).
 *   <li>idleness and {@link #close()} end both ends cleanly.
 * </ul>
 *
 * <p>States: {@code CONNECTING} (the dialed end is not connected or not handshaken yet; bytes
 * that SslHandler decoded on its own during the handshake are held, at most
 * {@link #MAX_HELD_BYTES}), {@code RELAYING}, {@code CLOSED}. The tunnels log why a connect or a
 * handshake failed; the relay logs what goes wrong once relaying, and with an access log, one
 * line for each connection that was relayed, when it ends: how long, how many bytes each way,
 * the TLS version and cipher, and how it ended. Every method runs on the event loop of the two
 * channels.
 */
final class Relay {
    private static final Logger log = LoggerFactory.getLogger(Relay.class);

    /**
     * The most an end reads at once. Netty's adaptive guess starts at 2 KiB and grows while reads
     * fill their buffers; past its default ceiling of 64 KiB, bulk transfers cost the two
     * daemons of a tunnel pair about a tenth less CPU per byte (fewer reads and writes;
     * docs/benchmarks.md, History 2026-12-01). An end has one read in
     * flight: it is read again once the bytes of its last read were written to the other end,
     * so a connection holds at most this much per direction (and its encrypted form).
     */
    static final int MAX_READ_BYTES = 256 << 10;

    /** The receive-buffer sizing of both ends' channels (it keeps a guess per channel). */
    static final RecvByteBufAllocator READS = new AdaptiveRecvByteBufAllocator(64, 2048, MAX_READ_BYTES);

    /**
     * SslHandler reads by itself until the handshake is done, so the application data in its
     * last read may arrive before the other end is connected. That is one read, a few KiB to
     * {@link #MAX_READ_BYTES}; more than this means something is wrong.
     */
    static final int MAX_HELD_BYTES = 1 << 20;

    private enum State { CONNECTING, RELAYING, CLOSED }

    /** "tunnel 127.0.0.1:4433 → backend 127.0.0.1:8080", for log lines. */
    private final String tunnel;
    private final End accepted;
    /** Counts the bytes relayed. */
    private final Listener listener;
    private End dialed;
    private State state = State.CONNECTING;
    private int directionsEnded;
    /** Whether the tunnel counted this connection as failed already (see {@link #firstFailure}). */
    private boolean failureCounted;
    /** Whether to log a line for the connection when it ends, once it was relayed. */
    private final boolean accessLog;
    private final long acceptedNanos = System.nanoTime();
    private long bytesFromClient;
    private long bytesToClient;
    /** How the connection ended, for the access log: set by whatever ends it first. */
    private String ending;

    Relay(String tunnel, End accepted, Listener listener) {
        this(tunnel, accepted, listener, false);
    }

    Relay(String tunnel, End accepted, Listener listener, boolean accessLog) {
        this.tunnel = tunnel;
        this.accepted = accepted;
        this.listener = listener;
        this.accessLog = accessLog;
    }

    End accepted() {
        return accepted;
    }

    /** What its log lines start with, e.g. "tunnel web 127.0.0.1:8443 → backend 127.0.0.1:8080". */
    String name() {
        return tunnel;
    }

    /** Adds the end the tunnel dialed, as soon as its channel exists. */
    void attach(End end) {
        dialed = end;
        if (state == State.CLOSED) {
            end.channel.close();
        }
    }

    boolean isClosed() {
        return state == State.CLOSED;
    }

    /**
     * Whether this is the first failure of the connection that the tunnel counts: a handshake
     * and a dial can both fail before the relay closes (the channel closes a task later).
     */
    boolean firstFailure() {
        boolean first = !failureCounted;
        failureCounted = true;
        return first;
    }

    /**
     * Both ends are ready (connected and, for TLS, handshaken): writes {@code preamble} (e.g. a
     * PROXY protocol header; may be null) to the dialed end, then what was held, then starts
     * reading both ends.
     */
    void start(Object preamble) {
        if (state != State.CONNECTING) {
            return;
        }
        state = State.RELAYING;
        if (preamble != null) {
            dialed.lastWrite = dialed.channel.write(preamble).addListener(failOnError(dialed));
        }
        for (End from : List.of(accepted, dialed)) {
            if (state != State.RELAYING) {
                return; // a write failed at once and reset the tunnel
            }
            boolean heldAny = !from.held.isEmpty();
            ByteBuf data;
            while ((data = from.held.poll()) != null) {
                send(from, data);
            }
            from.heldBytes = 0;
            if (from.inputEnded) {
                endOutputAfterWrites(other(from));
            } else if (!heldAny) {
                from.channel.read();
            }
        }
        dialed.channel.flush();
    }

    /** Bytes read from {@code from}. */
    void read(End from, ByteBuf data) {
        switch (state) {
            case RELAYING -> send(from, data);
            case CONNECTING -> hold(from, data);
            case CLOSED -> data.release();
        }
    }

    private void hold(End from, ByteBuf data) {
        from.held.add(data);
        from.heldBytes += data.readableBytes();
        if (from.heldBytes > MAX_HELD_BYTES) {
            log.warn("{}: {} {} sent more than {} bytes before the tunnel was ready; resetting",
                    tunnel, from.role, from.peer(), MAX_HELD_BYTES);
            abort(from.role + " sent too much too early");
        }
    }

    private void send(End from, ByteBuf data) {
        End to = other(from);
        if (to.outputEnded) {
            data.release(); // only after a TLS engine ended that direction by itself
            return;
        }
        int bytes = data.readableBytes();
        ChannelFuture write = to.channel.writeAndFlush(data);
        to.lastWrite = write;
        write.addListener(f -> {
            if (!f.isSuccess()) {
                failed(to, f.cause());
                return;
            }
            listener.relayed(from == accepted, bytes);
            if (from == accepted) {
                bytesFromClient += bytes;
            } else {
                bytesToClient += bytes;
            }
            if (state == State.RELAYING && !from.inputEnded) {
                from.channel.read(); // the previous chunk is out: ask for the next one
            }
        });
    }

    /** {@code from}'s peer sent its last byte: a FIN (plain) or a close_notify (TLS). */
    void inputEnded(End from) {
        if (from.inputEnded || state == State.CLOSED) {
            return;
        }
        from.inputEnded = true;
        if (state == State.RELAYING) {
            endOutputAfterWrites(other(from));
        } // else start() ends it after the held bytes
    }

    /**
     * The TLS peer of {@code from} sent close_notify. Besides ending that direction: netty's
     * OpenSSL engine answers a close_notify with its own at once and cannot send anything after
     * it (ReferenceCountedOpenSslEngine.closeAll), so a TLS 1.3 half-close by the peer ends both
     * directions there. What the other end still sends could never arrive; stop reading it.
     */
    void closeNotifyReceived(End from) {
        inputEnded(from);
        if (state != State.CLOSED && !from.outputEnded && !from.canSend()) {
            log.debug("{}: {} {} sent close_notify; the TLS engine closed the other direction too",
                    tunnel, from.role, from.peer());
            from.outputEnded = true;
            End other = other(from);
            if (other != null) { // null only while the dialed channel registers
                other.inputEnded = true;
            }
            directionEnded();
        }
    }

    /** {@code from}'s TLS peer closed the TCP connection without close_notify. */
    void inputTruncated(End from) {
        if (state == State.CLOSED) {
            return;
        }
        if (state == State.RELAYING) {
            log.info("{}: {} {} closed the connection without close_notify (possibly truncated); resetting the {}",
                    tunnel, from.role, from.peer(), other(from).role);
        } else {
            log.debug("{}: {} {} closed the connection before the tunnel was ready", tunnel, from.role, from.peer());
        }
        abort(from.role + " closed without close_notify (reset)");
    }

    /** An error on {@code from}'s channel; the tunnel ends with a reset on both ends. */
    void failed(End from, Throwable cause) {
        if (state == State.CLOSED) {
            log.debug("{}: {} {} after close: {}", tunnel, from.role, from.peer(), cause.toString());
            return;
        }
        if (state == State.RELAYING && !isExpectedNoise(cause)) {
            log.info("{}: {} {} failed: {}; resetting the {}", tunnel, from.role, from.peer(),
                    describe(cause), other(from).role);
        } else {
            // Before RELAYING the tunnel logs why the connect or the handshake failed.
            log.debug("{}: {} {} failed: {}", tunnel, from.role, from.peer(), describe(cause));
        }
        abort(from.role + " failed: " + describe(cause) + " (reset)");
    }

    /** {@code from}'s channel closed. Unless the relay closed it, something broke. */
    void inactive(End from) {
        if (state == State.CLOSED) {
            return;
        }
        log.debug("{}: {} {} closed the connection abruptly", tunnel, from.role, from.peer());
        abort(from.role + " closed abruptly (reset)");
    }

    /** No bytes either way for the idle timeout. */
    void idle() {
        if (state != State.CLOSED) {
            log.debug("{}: client {} idle, closing", tunnel, accepted.peer());
            close("idle timeout");
        }
    }

    /** Closes both ends cleanly: close_notify for TLS, FIN for TCP. Idempotent. */
    void close() {
        close("closed by the daemon");
    }

    private void close(String why) {
        if (state == State.CLOSED) {
            return;
        }
        ended(why);
        state = State.CLOSED;
        releaseHeld();
        accepted.channel.close();
        if (dialed != null) {
            dialed.channel.close();
        }
    }

    /**
     * Resets both ends: RST, no close_notify. Idempotent. Before any byte was relayed, the dialed
     * end is closed cleanly instead: nothing was cut off there, and a backend should not log a
     * reset for every client whose handshake failed.
     */
    void abort() {
        abort("reset");
    }

    private void abort(String why) {
        if (state == State.CLOSED) {
            return;
        }
        boolean relayed = state == State.RELAYING;
        ended(why);
        state = State.CLOSED;
        releaseHeld();
        accepted.reset();
        if (dialed != null) {
            if (relayed) {
                dialed.reset();
            } else {
                dialed.channel.close();
            }
        }
    }

    private void endOutputAfterWrites(End to) {
        if (to.outputEnded) {
            return;
        }
        to.outputEnded = true;
        ChannelFuture last = to.lastWrite;
        if (last == null) {
            endOutput(to);
        } else {
            last.addListener(f -> {
                if (f.isSuccess()) {
                    endOutput(to);
                } // a failed write has already aborted the relay
            });
        }
    }

    private void endOutput(End to) {
        if (state == State.CLOSED) {
            return;
        }
        to.endOutput().addListener(f -> {
            if (f.isSuccess()) {
                directionEnded();
            } else {
                failed(to, f.cause());
            }
        });
    }

    private void directionEnded() {
        directionsEnded++;
        if (directionsEnded == 2 && state == State.RELAYING) {
            log.debug("{}: client {} done in both directions", tunnel, accepted.peer());
            close("done");
        }
    }

    /** The access log's line, for a connection that was relayed; before the state is CLOSED. */
    private void ended(String why) {
        ending = why;
        if (!accessLog || state != State.RELAYING) {
            return;
        }
        String session = accepted.isTls() ? accepted.tlsSession() : dialed == null ? null : dialed.tlsSession();
        log.info("{}: client {} {} after {} ms: {} bytes from the client, {} bytes to it{}", tunnel, accepted.peer(),
                why, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - acceptedNanos), bytesFromClient, bytesToClient,
                session == null ? "" : ", " + session);
    }

    /** How the connection ended ("done", "idle timeout", "client failed: … (reset)"); null while it goes on. */
    String ending() {
        return ending;
    }

    private End other(End end) {
        return end == accepted ? dialed : accepted;
    }

    private ChannelFutureListener failOnError(End end) {
        return f -> {
            if (!f.isSuccess()) {
                failed(end, f.cause());
            }
        };
    }

    private void releaseHeld() {
        for (End end : dialed == null ? List.of(accepted) : List.of(accepted, dialed)) {
            ByteBuf data;
            while ((data = end.held.poll()) != null) {
                data.release();
            }
            end.heldBytes = 0;
        }
    }

    /** A peer resetting or going away mid-write: routine on the internet, worth a debug line only. */
    static boolean isExpectedNoise(Throwable cause) {
        if (cause instanceof ClosedChannelException) {
            return true;
        }
        if (cause instanceof IOException && cause.getMessage() != null) {
            String message = cause.getMessage().toLowerCase(Locale.ROOT);
            return message.contains("connection reset") || message.contains("broken pipe");
        }
        return false;
    }

    /** The message of the innermost cause that has one; Netty wraps TLS errors in DecoderException. */
    static String describe(Throwable cause) {
        return ConnectFailures.innermostMessage(cause);
    }

    static String addressString(SocketAddress address) {
        if (address instanceof InetSocketAddress inet) {
            return NetUtil.toSocketAddressString(inet);
        }
        return String.valueOf(address);
    }
}
