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
        assertEquals(Taken.YES, slots.take(-1), "a peer of unknown uid counts toward max_sessions only");
        assertEquals(Taken.ALL_TAKEN, slots.take(1002), "four are open");
        assertEquals(2, slots.users(), "the refused user holds no place");

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
    void withoutALimitPerUserOnlyTheWholeCounts() {
        SessionSlots slots = new SessionSlots(3);
        for (int i = 0; i < 3; i++) {
            assertEquals(Taken.YES, slots.take(1000));
        }
        assertEquals(Taken.ALL_TAKEN, slots.take(1000));
        assertEquals(0, slots.users());
    }
}
