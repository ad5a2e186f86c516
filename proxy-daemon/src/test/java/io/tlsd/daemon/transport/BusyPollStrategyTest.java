package io.tlsd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.channel.SelectStrategy;
import io.netty.util.IntSupplier;
import org.junit.jupiter.api.Test;

/** The adaptive window, on a clock the test moves: each poll of epoll takes one microsecond. */
class BusyPollStrategyTest {
    private static final long MAX = 50_000;

    private long now;
    private int polls;
    /** The poll (1-based, counted from the last reset) at which I/O is ready; 0: never. */
    private int readyAtPoll;

    private final IntSupplier epoll = () -> {
        polls++;
        now += 1_000;
        return readyAtPoll != 0 && polls >= readyAtPoll ? 1 : 0;
    };

    private final BusyPollStrategy strategy = new BusyPollStrategy(MAX, () -> now);

    private int next(boolean hasTasks) throws Exception {
        polls = 0;
        return strategy.calculateStrategy(epoll, hasTasks);
    }

    @Test
    void aFreshLoopBlocksAtOnce() throws Exception {
        assertEquals(SelectStrategy.SELECT, next(false));
        assertEquals(0, polls);
    }

    @Test
    void shortWaitsGrowTheWindowToTheMaximum() throws Exception {
        // each wait: the window's polls in vain (1 µs each), then 1 µs blocked
        long[] expected = {2_000, 4_000, 8_000, 16_000, 32_000, 50_000, 50_000};
        for (long window : expected) {
            assertEquals(SelectStrategy.SELECT, next(false)); // polls in vain (if it polls), blocks
            now += 1_000; // woken soon after: a longer poll would have caught it
            readyAtPoll = 1;
            assertEquals(1, next(false), "ready on the first poll");
            assertEquals(window, strategy.windowNanos());
            readyAtPoll = 0;
        }
    }

    @Test
    void pollingFindsWorkWithinTheWindowWithoutBlocking() throws Exception {
        growToMaximum();
        readyAtPoll = 30; // 30 µs after the loop went idle
        assertEquals(1, next(false));
        assertEquals(30, polls);
        assertEquals(MAX, strategy.windowNanos(), "a poll that found work keeps the window");
    }

    @Test
    void longWaitsHalveTheWindowUntilItIsGone() throws Exception {
        growToMaximum();
        long[] expected = {50_000, 25_000, 12_500, 6_250, 3_125, 0};
        for (long window : expected) {
            assertEquals(SelectStrategy.SELECT, next(false));
            assertEquals(window, strategy.windowNanos());
            assertEquals((window + 999) / 1_000, polls, "polled for the whole window");
            now += BusyPollStrategy.SHORT_WAIT_NANOS; // then blocked for a millisecond: seldom work
        }
        assertEquals(SelectStrategy.SELECT, next(false));
        assertEquals(0, polls, "seldom work: the loop blocks at once");
    }

    @Test
    void waitsAroundTheShortWaitThreshold() throws Exception {
        growToMaximum();
        next(false); // 50 µs of polls in vain
        now += BusyPollStrategy.SHORT_WAIT_NANOS - 60_000; // then blocked: 990 µs in all, still steady
        readyAtPoll = 1;
        next(false);
        assertEquals(MAX, strategy.windowNanos());
        readyAtPoll = 0;
        next(false);
        now += BusyPollStrategy.SHORT_WAIT_NANOS; // more than a millisecond: seldom work
        readyAtPoll = 1;
        next(false);
        assertEquals(MAX / 2, strategy.windowNanos());
    }

    @Test
    void aPollInVainLastsTheWindowAndNoLonger() throws Exception {
        growToMaximum();
        next(false);
        assertEquals(MAX / 1_000, polls);
    }

    @Test
    void waitingTasksLookAtIoOnceAndNeverWait() throws Exception {
        growToMaximum();
        assertEquals(0, next(true));
        assertEquals(1, polls);
        assertEquals(MAX, strategy.windowNanos());
    }

    @Test
    void windowsBelowTwoMicrosecondsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new BusyPollStrategy(1_999));
    }

    /** Short waits until the window is at its maximum; ends with a poll that found work. */
    private void growToMaximum() throws Exception {
        for (int i = 0; i < 10 && strategy.windowNanos() < MAX; i++) {
            next(false);
            now += 1_000;
            readyAtPoll = 1;
            next(false);
            readyAtPoll = 0;
        }
        assertEquals(MAX, strategy.windowNanos());
    }
}
