package io.tlsd.daemon.ipc;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The places for sessions on one IPC socket, taken from every loop: {@code max_sessions} in all,
 * and at most {@code max_sessions_per_uid} for the processes of one user, so that one user's
 * applications cannot take every place. A reload may change both ({@link #limits}): sessions open
 * keep their places, and each user's are counted whether or not there is a limit per user, so a
 * limit set at a reload counts those already open.
 */
final class SessionSlots {
    /** What {@link #take} did. */
    enum Taken {
        /** A place is the session's until {@link #give}. */
        YES,
        /** Refused: {@code max_sessions} are open. */
        ALL_TAKEN,
        /** Refused: the user has {@code max_sessions_per_uid} open. */
        USER_AT_LIMIT
    }

    /** The uid of a peer whose credentials could not be read: such peers count as one user. */
    static final int UNKNOWN_UID = -1;

    private volatile int max;
    /** 0: no limit per user. */
    private volatile int maxPerUid;
    private final AtomicInteger taken = new AtomicInteger();
    /** Places taken by each user that holds one; guarded by the map's compute. */
    private final ConcurrentHashMap<Integer, Integer> byUid = new ConcurrentHashMap<>();

    /** @param maxPerUid 0 for no limit per user */
    SessionSlots(int max, int maxPerUid) {
        limits(max, maxPerUid);
    }

    /** The limits for the sessions that begin from now on. */
    void limits(int max, int maxPerUid) {
        if (max < 1) {
            throw new IllegalArgumentException("max_sessions " + max + " < 1");
        }
        if (maxPerUid < 0) {
            throw new IllegalArgumentException("max_sessions_per_uid " + maxPerUid + " < 0");
        }
        this.max = max;
        this.maxPerUid = maxPerUid;
    }

    /** Without a limit per user. */
    SessionSlots(int max) {
        this(max, 0);
    }

    /**
     * Takes a place for a session of {@code uid}.
     *
     * @param uid the peer's user id; {@link #UNKNOWN_UID} if unknown
     */
    Taken take(int uid) {
        int perUid = maxPerUid;
        boolean[] got = {false};
        byUid.compute(uid, (u, n) -> {
            int held = n == null ? 0 : n;
            if (perUid > 0 && held >= perUid) {
                return n;
            }
            got[0] = true;
            return held + 1;
        });
        if (!got[0]) {
            return Taken.USER_AT_LIMIT;
        }
        int all = max;
        while (true) {
            int now = taken.get();
            if (now >= all) {
                release(uid);
                return Taken.ALL_TAKEN;
            }
            if (taken.compareAndSet(now, now + 1)) {
                return Taken.YES;
            }
        }
    }

    /** Gives back a place {@link #take} gave to a session of {@code uid}. */
    void give(int uid) {
        release(uid);
        taken.decrementAndGet();
    }

    private void release(int uid) {
        byUid.computeIfPresent(uid, (u, n) -> n == 1 ? null : n - 1);
    }

    int max() {
        return max;
    }

    int maxPerUid() {
        return maxPerUid;
    }

    /** Users that hold a place now (for tests). */
    int users() {
        return byUid.size();
    }
}
