package io.tlsd.daemon.ipc;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * When the daemon's graceful drain ends: unset until {@link IpcServer#drain} starts it, then read
 * by every session, including one that starts a moment later (and drains as it starts).
 */
final class DrainDeadline {
    /** {@link System#nanoTime()} at the drain's end; null until the drain starts. */
    private volatile Long deadlineNanos;

    /** Starts the drain; a second call changes nothing. */
    synchronized void start(Duration timeout) {
        if (deadlineNanos == null) {
            deadlineNanos = System.nanoTime() + saturatedNanos(timeout);
        }
    }

    boolean started() {
        return deadlineNanos != null;
    }

    /** What is left of the drain's time, 0 once it is up (or before it starts). */
    long millisLeft() {
        Long deadline = deadlineNanos;
        return deadline == null ? 0 : Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
    }

    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE / 4;
        }
    }
}
