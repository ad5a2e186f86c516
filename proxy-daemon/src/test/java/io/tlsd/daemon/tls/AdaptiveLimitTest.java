package io.tlsd.daemon.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The learned limit against a model of a target: an attempt takes a round-trip time, plus a CPU
 * time, plus a wait behind a random share of the other attempts under way (as a handshake waits
 * for a core behind others). Demand is always above the limit unless said otherwise.
 */
class AdaptiveLimitTest {
    private static final long MS = 1_000_000;

    /** Feeds {@code samples} attempts of the model to {@code limit}; returns it. */
    private static AdaptiveLimit run(AdaptiveLimit limit, Random random, int samples, long rttNanos, long cpuNanos,
                                     int demand) {
        for (int i = 0; i < samples; i++) {
            int inFlight = Math.min(limit.limit(), demand);
            long queued = (long) (cpuNanos * random.nextDouble() * (inFlight - 1));
            limit.sample(rttNanos + cpuNanos + queued, inFlight);
        }
        return limit;
    }

    @Test
    void aTargetNearbyWhoseAttemptsQueueForTheCpuGetsAFewAtOnce() {
        AdaptiveLimit limit = run(new AdaptiveLimit(), new Random(1), 20_000, 0, MS, 1000);
        assertTrue(limit.limit() <= AdaptiveLimit.INITIAL, "limit " + limit.limit());
    }

    @Test
    void aTargetFarAwayGetsAsManyAtOnceAsItTakesToQueue() {
        // 50 ms of round trips per attempt, 1 ms of CPU: it takes dozens at once before the
        // attempts queue for as long as their round trips (the model's equilibrium is about 40)
        AdaptiveLimit limit = run(new AdaptiveLimit(), new Random(2), 20_000, 50 * MS, MS, 1000);
        assertTrue(limit.limit() >= 30, "limit " + limit.limit());
        assertTrue(limit.limit() < AdaptiveLimit.MAX, "limit " + limit.limit());
    }

    @Test
    void aTargetWithFewAttemptsDoesNotRaiseTheLimitItDoesNotUse() {
        AdaptiveLimit limit = run(new AdaptiveLimit(), new Random(3), 20_000, 50 * MS, MS, 3);
        assertEquals(AdaptiveLimit.INITIAL, limit.limit());
    }

    @Test
    void aTargetThatBecomesSlowerForGoodIsNotHeldAtTheMinimum() {
        Random random = new Random(4);
        AdaptiveLimit limit = run(new AdaptiveLimit(), random, 5_000, 0, MS, 1000);
        // every attempt now takes 20 times the old baseline: at first the limit falls to the
        // minimum, then the baseline follows (two windows) and the limit comes back
        run(limit, random, 50, 0, 20 * MS, 1000);
        assertEquals(AdaptiveLimit.MIN, limit.limit());
        run(limit, random, 3 * AdaptiveLimit.WINDOW, 0, 20 * MS, 1000);
        assertTrue(limit.limit() > AdaptiveLimit.MIN && limit.limit() <= AdaptiveLimit.INITIAL,
                "limit " + limit.limit());
    }

    @Test
    void theLimitStaysWithinItsBounds() {
        AdaptiveLimit limit = new AdaptiveLimit();
        for (int i = 0; i < 10_000; i++) {
            limit.sample(MS, limit.limit()); // never slower than the baseline: grows
        }
        assertEquals(AdaptiveLimit.MAX, limit.limit());
        for (int i = 0; i < 200; i++) { // fewer than a window: the baseline stays
            limit.sample(Long.MAX_VALUE / 2, limit.limit()); // ever slower: shrinks
        }
        assertEquals(AdaptiveLimit.MIN, limit.limit());
    }
}
