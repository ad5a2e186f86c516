package io.tlsd.daemon.transport;

import io.netty.channel.SelectStrategy;
import io.netty.util.IntSupplier;
import java.util.function.LongSupplier;

/**
 * How a worker loop waits for I/O: it polls epoll without blocking for a short, adaptive window
 * before it blocks in {@code epoll_wait}. A thread that blocks has to be woken, and on a virtual
 * machine a wake-up can cost more than the work it wakes for (tens of microseconds here), twice
 * per request/response through the daemon. Polling catches the next request or the peer's answer
 * without that cost.
 *
 * <p>The window adapts per loop, much as KVM's halt-polling does: after a short wait (polling,
 * then blocking, then handling what came: under {@link #SHORT_WAIT_NANOS} or twice the maximum
 * window) the window doubles, up to the maximum; after a longer one it halves, down to nothing. A
 * loop whose work comes seldom therefore stops polling after a few waits and costs nothing; one
 * that serves a steady exchange polls and answers without a wake-up, at the price of up to the
 * window's CPU per wait. (The handling is in the measured wait because Netty does not tell the
 * strategy when its block ended; hence a threshold well above the window.) A task another thread
 * hands to the loop while it polls (a connection moved here after its handshake, a resolved
 * address) runs when the window ends, at most that much later: the loop does not look at its task
 * queue while it polls, and such tasks do not wake it. Instances are confined to their loop.
 */
final class BusyPollStrategy implements SelectStrategy {
    /** The smallest window worth polling for: below it the window drops to zero. */
    static final long MIN_WINDOW_NANOS = 2_000;

    /** Waits shorter than this (or twice the maximum window) mean steady work: poll more. */
    static final long SHORT_WAIT_NANOS = 1_000_000;

    private final long maxWindowNanos;
    private final long shortWaitNanos;
    private final LongSupplier clock;
    private long windowNanos;
    /** When the loop last began to wait (polling first, then blocked), or -1 while it works. */
    private long waitingSince = -1;

    BusyPollStrategy(long maxWindowNanos) {
        this(maxWindowNanos, System::nanoTime);
    }

    BusyPollStrategy(long maxWindowNanos, LongSupplier clock) {
        if (maxWindowNanos < MIN_WINDOW_NANOS) {
            throw new IllegalArgumentException("busy-poll window below " + MIN_WINDOW_NANOS + " ns");
        }
        this.maxWindowNanos = maxWindowNanos;
        this.shortWaitNanos = Math.max(SHORT_WAIT_NANOS, 2 * maxWindowNanos);
        this.clock = clock;
    }

    @Override
    public int calculateStrategy(IntSupplier selectNow, boolean hasTasks) throws Exception {
        long now = clock.getAsLong();
        if (waitingSince >= 0) {
            // Back from a block (and from handling what woke it): is work coming steadily?
            if (now - waitingSince < shortWaitNanos) {
                windowNanos = Math.min(maxWindowNanos, Math.max(MIN_WINDOW_NANOS, windowNanos * 2));
            } else {
                windowNanos /= 2;
                if (windowNanos < MIN_WINDOW_NANOS) {
                    windowNanos = 0;
                }
            }
            waitingSince = -1;
        }
        if (hasTasks) {
            return selectNow.get(); // tasks are waiting: look at I/O once, do not wait for it
        }
        if (windowNanos > 0) {
            long deadline = now + windowNanos;
            do {
                int ready = selectNow.get();
                if (ready > 0) {
                    return ready; // caught without a wake-up: the window stays
                }
                Thread.onSpinWait();
            } while (clock.getAsLong() - deadline < 0);
        }
        waitingSince = now;
        return SelectStrategy.SELECT;
    }

    /** The current window; for tests. */
    long windowNanos() {
        return windowNanos;
    }
}
