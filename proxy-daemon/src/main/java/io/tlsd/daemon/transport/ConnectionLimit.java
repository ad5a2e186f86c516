package io.tlsd.daemon.transport;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import io.tlsd.daemon.tls.ConnectionInfos;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * At most {@code max} connections at once from one listening socket. A connection accepted
 * beyond that is closed at once, before any TLS handshake or backend connect is spent on it, so
 * that a flood of clients (or of clients that connect and stay silent until their handshake
 * timeout) bounds the daemon's memory and file descriptors instead of exhausting them.
 *
 * <p>A connection holds its place until it closes or {@link #release} gives the place back
 * earlier (a server listener's connection leaves it when an application takes it). Refusals are
 * counted and logged at warn level, at most once every 10 seconds per limit, so that an operator
 * sees a flood without the log being flooded too.
 *
 * <pre>{@code
 * ConnectionLimit limit = new ConnectionLimit(ch -> "listener default", "max_pending_connections", 1024);
 * // in the child ChannelInitializer:
 * if (!limit.admit(ch)) {
 *     return; // closed
 * }
 * }</pre>
 *
 * <p>Thread safety: any thread.
 */
public final class ConnectionLimit {
    private static final Logger log = LoggerFactory.getLogger(ConnectionLimit.class);

    /** The least time between two warnings of one limit. */
    static final long WARN_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** A channel's place; a channel is admitted by one limit only, the listener that accepted it. */
    private static final AttributeKey<Place> PLACE = AttributeKey.valueOf(ConnectionLimit.class, "place");

    private final Function<Channel, String> owner;
    private final String setting;
    private final int max;
    private final AtomicInteger admitted = new AtomicInteger();
    private final LongAdder refused = new LongAdder();
    /** When the next warning may be logged (System.nanoTime). */
    private final AtomicLong nextWarning = new AtomicLong(System.nanoTime());

    /**
     * @param owner what the log names, given the refused channel (which knows the port it reached
     *     when the listener was bound to port 0), e.g. "listener default"
     * @param setting the configuration key that sets {@code max}, named in the warning
     * @param max the most connections at once; 0 for no limit (they are still counted)
     */
    public ConnectionLimit(Function<Channel, String> owner, String setting, int max) {
        if (max < 0) {
            throw new IllegalArgumentException(setting + " < 0");
        }
        this.owner = owner;
        this.setting = setting;
        this.max = max;
    }

    /**
     * Takes a place for the newly accepted {@code ch}, given back when it closes; or, when every
     * place is taken, closes {@code ch} and returns false. Call it first thing in the child
     * channel's initializer.
     */
    public boolean admit(Channel ch) {
        int n;
        do {
            n = admitted.get();
            if (max != 0 && n >= max) {
                refused.increment();
                warn(ch);
                ch.close();
                return false;
            }
        } while (!admitted.compareAndSet(n, n + 1));
        Place place = new Place();
        ch.attr(PLACE).set(place);
        ch.closeFuture().addListener(f -> place.giveBack());
        return true;
    }

    /** Gives {@code ch}'s place back before it closes, because it is no longer this listener's. Idempotent. */
    public void release(Channel ch) {
        Place place = ch.attr(PLACE).getAndSet(null);
        if (place != null) {
            place.giveBack();
        }
    }

    /** "4096", or "none" for 0: a limit in a start-up log line. */
    public static String describe(int max) {
        return max == 0 ? "none" : Integer.toString(max);
    }

    /** Connections holding a place now (counted with no limit too). */
    public int admitted() {
        return admitted.get();
    }

    /** Connections closed at once since the start because every place was taken. */
    public long refused() {
        return refused.sum();
    }

    private void warn(Channel ch) {
        long now = System.nanoTime();
        long next = nextWarning.get();
        if (now - next >= 0 && nextWarning.compareAndSet(next, now + WARN_EVERY_NANOS)) {
            log.warn("{}: {} ({}) reached; closing new connections as they come, this time from {}"
                            + " ({} closed since start; logged at most every 10 s)",
                    owner.apply(ch), setting, max, ConnectionInfos.addressString(ch.remoteAddress()), refused.sum());
        }
    }

    private final class Place {
        private final AtomicBoolean given = new AtomicBoolean();

        void giveBack() {
            if (given.compareAndSet(false, true)) {
                admitted.decrementAndGet();
            }
        }
    }
}
