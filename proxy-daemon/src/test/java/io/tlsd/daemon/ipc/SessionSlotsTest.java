package io.tlsd.daemon.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tlsd.daemon.ipc.SessionSlots.Taken;
import org.junit.jupiter.api.Test;

class SessionSlotsTest {
    @Test
    void eachUserHasItsOwnLimitWithinTheWhole() {
        SessionSlots slots = new SessionSlots(4, 2);
        assertEquals(Taken.YES, slots.take(1000));
        assertEquals(Taken.YES, slots.take(1000));
        assertEquals(Taken.USER_AT_LIMIT, slots.take(1000));
        assertEquals(Taken.YES, slots.take(1001), "another user still gets in");
        assertEquals(Taken.YES, slots.take(SessionSlots.UNKNOWN_UID), "peers of unknown uid count as one user");
        assertEquals(Taken.ALL_TAKEN, slots.take(1002), "four are open");
        assertEquals(3, slots.users(), "the refused user holds no place");

        slots.give(1000);
        assertEquals(Taken.YES, slots.take(1002), "a place given back is taken again");
        assertEquals(Taken.ALL_TAKEN, slots.take(1000));
        slots.give(1001);
        assertEquals(Taken.YES, slots.take(1000), "a user at its limit again once a place is free");
        assertEquals(Taken.USER_AT_LIMIT, slots.take(1000));
    }

    @Test
    void aUserRefusedBecauseAllAreTakenKeepsNoPlace() {
        SessionSlots slots = new SessionSlots(1, 1);
        assertEquals(Taken.YES, slots.take(7));
        assertEquals(Taken.ALL_TAKEN, slots.take(8));
        slots.give(7);
        assertEquals(0, slots.users());
        assertEquals(Taken.YES, slots.take(8), "uid 8 was not left counted by its refusal");
    }

    @Test
    void placesTakenAndGivenBackFromManyThreadsAllComeBack() throws Exception {
        SessionSlots slots = new SessionSlots(8, 2);
        java.util.concurrent.atomic.AtomicInteger over = new java.util.concurrent.atomic.AtomicInteger();
        Thread[] threads = new Thread[4];
        for (int t = 0; t < threads.length; t++) {
            int uid = t % 2; // two users, two threads each
            threads[t] = new Thread(() -> {
                for (int i = 0; i < 20_000; i++) {
                    if (slots.take(uid) == Taken.YES) {
                        slots.give(uid);
                    } else {
                        over.incrementAndGet();
                    }
                }
            });
            threads[t].start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        assertEquals(0, over.get(), "two threads of a user never hold more than its two places: none leaked");
        assertEquals(0, slots.users(), "every place given back");
        for (int i = 0; i < 2; i++) {
            assertEquals(Taken.YES, slots.take(0));
        }
        assertEquals(Taken.USER_AT_LIMIT, slots.take(0), "the count of a user is exact again");
    }

    @Test
    void withoutALimitPerUserOnlyTheWholeCounts() {
        SessionSlots slots = new SessionSlots(3);
        for (int i = 0; i < 3; i++) {
            assertEquals(Taken.YES, slots.take(1000));
        }
        assertEquals(Taken.ALL_TAKEN, slots.take(1000));
        assertEquals(1, slots.users(), "counted all the same, for a limit a reload may set");
    }

    @Test
    void aReloadsLimitsApplyToTheSessionsThatBeginAfterIt() {
        SessionSlots slots = new SessionSlots(2);
        assertEquals(Taken.YES, slots.take(1000));
        assertEquals(Taken.YES, slots.take(1000));
        assertEquals(Taken.ALL_TAKEN, slots.take(1001));

        slots.limits(4, 2); // raised, and a limit per user that counts the two open
        assertEquals(Taken.USER_AT_LIMIT, slots.take(1000));
        assertEquals(Taken.YES, slots.take(1001));

        slots.limits(1, 0); // lowered below what is open: those keep their places, none begins
        assertEquals(Taken.ALL_TAKEN, slots.take(1002));
        slots.give(1000);
        slots.give(1000);
        assertEquals(Taken.ALL_TAKEN, slots.take(1002), "one is still open");
        slots.give(1001);
        assertEquals(Taken.YES, slots.take(1002));
        assertEquals(1, slots.users());
    }
}
