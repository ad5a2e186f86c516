package io.tlsd.daemon.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class HandshakeSlotsTest {
    @Test
    void attemptsBeyondTheCapWaitAndStartInOrderAsSlotsFree() {
        HandshakeSlots slots = new HandshakeSlots(2);
        List<Integer> started = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            int n = i;
            slots.submit(() -> started.add(n));
        }
        assertEquals(List.of(0, 1), started);
        assertEquals(2, slots.busy());
        assertEquals(3, slots.waiting());
        slots.release();
        assertEquals(List.of(0, 1, 2), started);
        slots.release();
        slots.release();
        assertEquals(List.of(0, 1, 2, 3, 4), started);
        assertEquals(0, slots.waiting());
        slots.release();
        slots.release();
        assertEquals(0, slots.busy());
        assertThrows(IllegalStateException.class, slots::release);
    }

    @Test
    void aWithdrawnAttemptNeverRuns() {
        HandshakeSlots slots = new HandshakeSlots(1);
        List<String> started = new ArrayList<>();
        slots.submit(() -> started.add("first"));
        Runnable givenUp = () -> started.add("given up");
        slots.submit(givenUp);
        slots.submit(() -> started.add("third"));
        assertTrue(slots.withdraw(givenUp));
        assertEquals(1, slots.waiting());
        slots.release();
        assertEquals(List.of("first", "third"), started);
        assertFalse(slots.withdraw(givenUp), "gone already");
    }

    @Test
    void attemptsThatEndAtOnceLetTheQueueThroughWithoutDeepRecursion() {
        HandshakeSlots slots = new HandshakeSlots(1);
        AtomicInteger ran = new AtomicInteger();
        slots.submit(() -> ran.incrementAndGet()); // holds the only slot
        int queued = 200_000; // nested drains would overflow the stack
        for (int i = 0; i < queued; i++) {
            slots.submit(() -> {
                ran.incrementAndGet();
                slots.release(); // e.g. cancelled while it waited
            });
        }
        assertEquals(1, ran.get());
        slots.release();
        assertEquals(queued + 1, ran.get());
        assertEquals(0, slots.busy());
        assertEquals(0, slots.waiting());
    }

    @Test
    void neverMoreThanTheCapUnderway() throws Exception {
        int cap = 3;
        HandshakeSlots slots = new HandshakeSlots(cap);
        AtomicInteger underway = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        ConcurrentLinkedQueue<Runnable> ends = new ConcurrentLinkedQueue<>();
        int perThread = 5_000;
        int threads = 4;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch go = new CountDownLatch(1);
        try {
            for (int t = 0; t < threads; t++) {
                pool.execute(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (int i = 0; i < perThread; i++) {
                        slots.submit(() -> {
                            most.accumulateAndGet(underway.incrementAndGet(), Math::max);
                            ends.add(() -> {
                                underway.decrementAndGet();
                                done.incrementAndGet();
                                slots.release();
                            });
                        });
                        Runnable end = ends.poll(); // end some attempt, on whichever thread
                        if (end != null) {
                            end.run();
                        }
                    }
                });
            }
            go.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (done.get() < threads * perThread && System.nanoTime() < deadline) {
                Runnable end = ends.poll();
                if (end != null) {
                    end.run();
                } else {
                    Thread.onSpinWait();
                }
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(threads * perThread, done.get(), "every attempt started and ended");
        assertTrue(most.get() <= cap, "at most " + cap + " at once, saw " + most.get());
        assertEquals(0, slots.busy());
        assertEquals(0, slots.waiting());
    }
}
