package io.tlsd.daemon.tls;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * At most {@link #max} connection attempts (TCP connect and TLS handshake) under way at once;
 * the others wait their turn, first come first served, holding no socket and no CPU. The number
 * may change while attempts are under way ({@link HandshakeLimits} learns it per target).
 *
 * <p>Why: with dozens of attempts in flight, a storm of new connections to a server nearby keeps
 * the handshake loop (and the server) busy without a pause, and the threads of established
 * connections wait for a core at every wake-up; with a few, both ends pause for each other now and
 * then. It trades handshakes per second for the latency of established connections: measured in
 * docs/benchmarks.md ("Handshakes in flight").
 *
 * <p>Thread safety: {@link #submit} and {@link #release} may be called from any thread.
 */
final class HandshakeSlots {
    private volatile int max;
    private final AtomicInteger busy = new AtomicInteger();
    private final Queue<Runnable> waiting = new ConcurrentLinkedQueue<>();
    /** Set while this thread drains: an attempt that ends at once does not drain again within. */
    private final ThreadLocal<boolean[]> draining = ThreadLocal.withInitial(() -> new boolean[1]);

    /** @param max attempts at once, at least 1 */
    HandshakeSlots(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("max " + max + " < 1");
        }
        this.max = max;
    }

    /**
     * Changes the number of attempts at once. A larger number lets waiting attempts start at the
     * next {@link #submit} or {@link #release}.
     */
    void max(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("max " + max + " < 1");
        }
        this.max = max;
    }

    /** The number of attempts at once. */
    int max() {
        return max;
    }

    /**
     * Runs {@code attempt} now, on this thread, if a slot is free, else later on the thread that
     * frees one. The attempt then owns the slot and must {@link #release} it exactly once, when
     * it ends, however it ends (also when it finds it has nothing left to do).
     */
    void submit(Runnable attempt) {
        waiting.add(attempt);
        drain();
    }

    /**
     * Takes {@code attempt} out of the queue if it is still waiting (it was given up); true if it
     * was, and then it never runs.
     */
    boolean withdraw(Runnable attempt) {
        return waiting.remove(attempt);
    }

    /** Gives back the slot of an attempt that ended, and starts the next waiting one, if any. */
    void release() {
        if (busy.decrementAndGet() < 0) {
            busy.incrementAndGet();
            throw new IllegalStateException("more releases than attempts");
        }
        drain();
    }

    /** Attempts waiting for a slot. */
    int waiting() {
        return waiting.size();
    }

    /** Attempts holding a slot. */
    int busy() {
        return busy.get();
    }

    private void drain() {
        boolean[] flag = draining.get();
        if (flag[0]) {
            return; // the loop below, further up this thread's stack, goes on
        }
        flag[0] = true;
        try {
            drainLoop();
        } finally {
            flag[0] = false;
        }
    }

    private void drainLoop() {
        while (!waiting.isEmpty()) {
            int n = busy.get();
            if (n >= max) {
                return; // the attempt that releases a slot drains again
            }
            if (!busy.compareAndSet(n, n + 1)) {
                continue;
            }
            Runnable next = waiting.poll();
            if (next == null) {
                // another thread took the last one; a submit that saw our slot taken is retried
                // by the loop's condition
                busy.decrementAndGet();
                continue;
            }
            next.run();
        }
    }
}
