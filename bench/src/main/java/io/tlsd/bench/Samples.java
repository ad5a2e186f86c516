package io.tlsd.bench;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * The latency samples of one timed measurement: those of its first fifth (at most 500 ms, a
 * warm-up) are dropped, the rest kept up to a capacity, until the measurement's time is up.
 * Not thread-safe: one thread (a loop, a reader thread) records.
 */
final class Samples {
    private final long[] nanos;
    private final long warmupEnd;
    private final long end;
    private int n;

    Samples(long millis, int capacity) {
        nanos = new long[capacity];
        long now = System.nanoTime();
        warmupEnd = now + TimeUnit.MILLISECONDS.toNanos(Math.min(500, millis / 5));
        end = now + TimeUnit.MILLISECONDS.toNanos(millis);
    }

    Samples(long millis) {
        this(millis, 1 << 20);
    }

    /** Records what began at {@code startNanos} and ends now; true while the measurement goes on. */
    boolean record(long startNanos) {
        long now = System.nanoTime();
        if (now > warmupEnd && n < nanos.length) {
            nanos[n++] = now - startNanos;
        }
        return now < end;
    }

    boolean running() {
        return System.nanoTime() < end;
    }

    LoadClient.Latency latency() {
        return LoadClient.Latency.of(values());
    }

    /** The samples kept, in nanoseconds, in the order recorded (a copy). */
    long[] values() {
        return Arrays.copyOf(nanos, n);
    }
}
