package io.tlsd.daemon.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class HandshakeLimitsTest {
    private static final InetSocketAddress NEAR = new InetSocketAddress("127.0.0.1", 1);
    private static final InetSocketAddress FAR = new InetSocketAddress("127.0.0.2", 1);

    /** Submits an attempt that records itself in {@code started}. */
    private static HandshakeLimits.Lane submit(HandshakeLimits limits, InetSocketAddress target,
                                               List<HandshakeLimits.Lane> started) {
        HandshakeLimits.Lane lane = limits.lane(target);
        lane.submit(() -> started.add(lane));
        return lane;
    }

    @Test
    void eachTargetWaitsInItsOwnLane() {
        HandshakeLimits limits = HandshakeLimits.adaptive();
        List<HandshakeLimits.Lane> started = new ArrayList<>();
        for (int i = 0; i < AdaptiveLimit.INITIAL + 3; i++) {
            submit(limits, NEAR, started);
        }
        assertEquals(AdaptiveLimit.INITIAL, started.size());
        assertEquals(3, limits.waiting());
        submit(limits, FAR, started);
        assertEquals(AdaptiveLimit.INITIAL + 1, started.size(), "another target does not wait behind a full lane");
        started.get(0).end(-1); // a failure: no sample, the slot is free
        assertEquals(AdaptiveLimit.INITIAL + 2, started.size());
        assertEquals(2, limits.waiting());
    }

    @Test
    void aFixedLimitIsOneLaneForEveryTarget() {
        HandshakeLimits limits = HandshakeLimits.fixed(2);
        List<HandshakeLimits.Lane> started = new ArrayList<>();
        HandshakeLimits.Lane near = submit(limits, NEAR, started);
        HandshakeLimits.Lane far = submit(limits, FAR, started);
        submit(limits, FAR, started);
        assertSame(near, far);
        assertEquals(2, started.size());
        assertEquals(1, limits.waiting());
        near.end(1_000_000); // a fixed limit learns nothing
        assertEquals(3, started.size());
        assertEquals(2, limits.limit(FAR));
    }

    @Test
    void attemptsThatKeepTheirPaceRaiseTheLimitAndStartWaitingOnes() {
        HandshakeLimits limits = HandshakeLimits.adaptive();
        List<HandshakeLimits.Lane> started = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            submit(limits, FAR, started);
        }
        assertEquals(AdaptiveLimit.INITIAL, started.size());
        for (int i = 0; i < 40; i++) {
            started.get(i).end(50_000_000); // every one as fast as the first
        }
        assertTrue(limits.limit(FAR) > AdaptiveLimit.INITIAL, "limit " + limits.limit(FAR));
        assertEquals(40 + limits.limit(FAR), started.size(), "the larger limit is in use at once");
    }

    @Test
    void aWithdrawnAttemptNeverStartsAndAnIdleLaneIsKept() {
        HandshakeLimits limits = HandshakeLimits.adaptive();
        List<HandshakeLimits.Lane> started = new ArrayList<>();
        for (int i = 0; i < AdaptiveLimit.INITIAL; i++) {
            submit(limits, NEAR, started);
        }
        HandshakeLimits.Lane lane = limits.lane(NEAR);
        Runnable waiting = () -> started.add(lane);
        lane.submit(waiting);
        assertTrue(lane.withdraw(waiting));
        for (HandshakeLimits.Lane l : List.copyOf(started)) {
            l.end(1_000_000);
        }
        assertEquals(AdaptiveLimit.INITIAL, started.size());
        assertEquals(0, limits.waiting());
        // what the lane learned stays: the same lane serves the next attempt
        assertSame(lane, limits.lane(NEAR));
    }

    @Test
    void beyondSoManyIdleLanesALaneIsForgottenWhenItsLastAttemptEnds() {
        HandshakeLimits limits = HandshakeLimits.adaptive();
        List<HandshakeLimits.Lane> started = new ArrayList<>();
        for (int port = 1; port <= HandshakeLimits.IDLE_LANES + 10; port++) {
            submit(limits, new InetSocketAddress("127.0.0.1", port), started);
        }
        for (HandshakeLimits.Lane lane : started) {
            lane.end(-1);
        }
        assertTrue(limits.lanes() <= HandshakeLimits.IDLE_LANES, limits.lanes() + " lanes");
    }
}
