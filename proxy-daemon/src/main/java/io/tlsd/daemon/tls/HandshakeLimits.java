package io.tlsd.daemon.tls;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which connection attempts may start now: either a fixed number at once, whatever their target,
 * or, per target (address and port), a number learned from how long the target's attempts take
 * ({@link AdaptiveLimit}). Attempts beyond the limit wait in their {@link Lane}, first come first
 * served ({@link HandshakeSlots}).
 *
 * <p>Adaptive lanes keep what they learned while they are idle, up to {@link #IDLE_LANES} of
 * them; beyond that, a lane is forgotten when its last attempt ends, and a later attempt to its
 * target starts again from {@link AdaptiveLimit#INITIAL}.
 *
 * <p>Thread safety: every method may be called from any thread.
 */
final class HandshakeLimits {
    static final int IDLE_LANES = 1024;
    /**
     * Under an adaptive limit, an attempt still under way after this long gives its slot back
     * (and goes on): it is waiting for a server that is slow to answer, or silent, not for a
     * CPU, and the attempts behind it should not wait for its timeout.
     */
    static final Duration STALE_AFTER = Duration.ofSeconds(1);

    /** Null: adaptive, one lane per target. */
    private final Lane fixed;
    private final Map<InetSocketAddress, Lane> lanes = new ConcurrentHashMap<>();

    /** @param fixedMax attempts at once over all targets; 0: a limit per target, learned */
    private HandshakeLimits(int fixedMax) {
        this.fixed = fixedMax == 0 ? null : new Lane(null, null, new HandshakeSlots(fixedMax), null);
    }

    /** At most {@code max} attempts at once, to whichever targets. */
    static HandshakeLimits fixed(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("max " + max + " < 1");
        }
        return new HandshakeLimits(max);
    }

    /** A limit per target, learned. */
    static HandshakeLimits adaptive() {
        return new HandshakeLimits(0);
    }

    /**
     * The lane an attempt to {@code target} waits in. The caller then submits exactly one attempt
     * to it, which either {@link Lane#end ends} or is {@link Lane#withdraw withdrawn}.
     */
    Lane lane(InetSocketAddress target) {
        if (fixed != null) {
            return fixed;
        }
        return lanes.compute(target, (t, lane) -> {
            Lane l = lane != null ? lane
                    : new Lane(this, t, new HandshakeSlots(AdaptiveLimit.INITIAL), new AdaptiveLimit());
            l.users++;
            return l;
        });
    }

    /** Attempts waiting to start, over every lane. */
    int waiting() {
        if (fixed != null) {
            return fixed.slots.waiting();
        }
        int n = 0;
        for (Lane lane : lanes.values()) {
            n += lane.slots.waiting();
        }
        return n;
    }

    /** Lanes kept, busy or idle. */
    int lanes() {
        return fixed != null ? 1 : lanes.size();
    }

    /** The limit of {@code target}'s lane now. */
    int limit(InetSocketAddress target) {
        Lane lane = fixed != null ? fixed : lanes.get(target);
        return lane == null ? AdaptiveLimit.INITIAL : lane.slots.max();
    }

    private void done(Lane lane) {
        lanes.computeIfPresent(lane.target, (t, l) -> --l.users == 0 && lanes.size() > IDLE_LANES ? null : l);
    }

    /** The attempts to one target (or, with a fixed limit, to all). */
    static final class Lane {
        /** Null with a fixed limit; so is the target. */
        private final HandshakeLimits owner;
        private final InetSocketAddress target;
        private final HandshakeSlots slots;
        /** Null: a fixed limit. */
        private final AdaptiveLimit limit;
        /** Attempts submitted and not yet ended or withdrawn; guarded by the map's compute. */
        private int users;

        private Lane(HandshakeLimits owner, InetSocketAddress target, HandshakeSlots slots, AdaptiveLimit limit) {
            this.owner = owner;
            this.target = target;
            this.slots = slots;
            this.limit = limit;
        }

        /**
         * How long an attempt may hold its slot before it should {@link #end} (with -1) and go on
         * without it; 0: until it ends.
         */
        long holdNanos() {
            return limit == null ? 0 : STALE_AFTER.toNanos();
        }

        /** Runs {@code attempt} when a slot of this lane is free (see {@link HandshakeSlots#submit}). */
        void submit(Runnable attempt) {
            slots.submit(attempt);
        }

        /** Takes a waiting attempt out; true if it was still waiting, and then it never runs. */
        boolean withdraw(Runnable attempt) {
            boolean withdrawn = slots.withdraw(attempt);
            if (withdrawn) {
                done();
            }
            return withdrawn;
        }

        /**
         * The attempt that {@link #submit} ran ended: its slot is free.
         *
         * @param handshakeNanos how long its connect and handshake took if it succeeded, else -1
         */
        void end(long handshakeNanos) {
            if (limit != null && handshakeNanos >= 0) {
                synchronized (limit) {
                    limit.sample(handshakeNanos, slots.busy());
                    slots.max(limit.limit());
                }
            }
            slots.release(); // starts the waiting attempts that a larger limit lets in
            done();
        }

        private void done() {
            if (owner != null) {
                owner.done(this);
            }
        }
    }
}
