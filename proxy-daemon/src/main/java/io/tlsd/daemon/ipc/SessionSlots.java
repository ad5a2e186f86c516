package io.tlsd.daemon.ipc;

import java.util.concurrent.atomic.AtomicInteger;

/** The places for sessions on one IPC socket ({@code max_sessions}), taken from every loop. */
final class SessionSlots {
    private final int max;
    private final AtomicInteger taken = new AtomicInteger();

    SessionSlots(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("max_sessions " + max + " < 1");
        }
        this.max = max;
    }

    /** Takes a place; false when all are taken. */
    boolean take() {
        while (true) {
            int now = taken.get();
            if (now >= max) {
                return false;
            }
            if (taken.compareAndSet(now, now + 1)) {
                return true;
            }
        }
    }

    /** Gives back a place {@link #take} gave. */
    void give() {
        taken.decrementAndGet();
    }

    int max() {
        return max;
    }
}
