package io.tlsd.daemon.transport;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * At most one warning of a kind every {@link #EVERY_NANOS}, so that a flood (of clients beyond a
 * limit, of refused processes) shows in the log without flooding it. Any thread.
 *
 * <pre>{@code
 * if (rate.due()) {
 *     log.warn("... ({} since start; logged at most every 10 s)", count);
 * }
 * }</pre>
 */
public final class WarningRate {
    /** The least time between two warnings of one kind. */
    public static final long EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** When the next warning may be logged (System.nanoTime). */
    private final AtomicLong next = new AtomicLong(System.nanoTime());

    /** Whether a warning may be logged now; if so, the next one waits {@link #EVERY_NANOS}. */
    public boolean due() {
        long now = System.nanoTime();
        long at = next.get();
        return now - at >= 0 && next.compareAndSet(at, now + EVERY_NANOS);
    }
}
