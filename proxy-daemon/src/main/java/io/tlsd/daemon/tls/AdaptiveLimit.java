package io.tlsd.daemon.tls;

/**
 * A limit on the connection attempts to one target under way at once, learned from how long they
 * take: a gradient limiter, after Netflix's concurrency-limits (Gradient2) and Envoy's adaptive
 * concurrency filter.
 *
 * <p>Each successful attempt reports its duration (TCP connect and TLS handshake). The shortest
 * duration of the recent samples is the baseline: what an attempt costs when nothing queues. When
 * attempts take longer than {@link #TOLERANCE} times the baseline, they queue somewhere (for a
 * core on this machine or the server's, in the server's accept queue), and the limit shrinks in
 * proportion, by half at most; and it grows by its square root, which is what keeps it growing
 * while they do not queue. Each sample moves the limit by {@link #SMOOTHING} of that. A target
 * nearby, whose handshakes are all CPU, settles at a few attempts at once; a target across a
 * network, whose attempts mostly wait for round trips, grows the limit until its attempts start
 * to queue.
 *
 * <p>The baseline is the minimum of the current window of {@link #WINDOW} samples and the one
 * before it, so that it follows a target that becomes slower for good within two windows.
 *
 * <p>Not thread-safe: the caller serializes.
 */
final class AdaptiveLimit {
    /** How much longer than the baseline an attempt may take before the limit shrinks. */
    static final double TOLERANCE = 1.5;
    /** Weight of a sample's new limit in the smoothed limit. */
    static final double SMOOTHING = 0.2;
    /** Samples per baseline window. */
    static final int WINDOW = 500;
    /** Where halving and growing by the square root balance. */
    static final int MIN = 4;
    static final int INITIAL = 8;
    static final int MAX = 512;

    private double limit = INITIAL;
    private long previousWindowMin = Long.MAX_VALUE;
    private long windowMin = Long.MAX_VALUE;
    private int windowSamples;

    /** The attempts that may be under way at once now, from {@link #MIN} to {@link #MAX}. */
    int limit() {
        return (int) limit;
    }

    /**
     * One attempt succeeded.
     *
     * @param nanos how long it took, from the start of its TCP connect to the end of its handshake
     * @param inFlight attempts under way when it ended, itself included
     */
    void sample(long nanos, int inFlight) {
        long d = Math.max(1, nanos);
        windowMin = Math.min(windowMin, d);
        if (++windowSamples == WINDOW) {
            previousWindowMin = windowMin;
            windowMin = Long.MAX_VALUE;
            windowSamples = 0;
        }
        double baseline = Math.min(previousWindowMin, windowMin); // d included
        double gradient = Math.max(0.5, Math.min(1.0, TOLERANCE * baseline / d));
        if (gradient == 1.0 && inFlight < limit / 2) {
            return; // not using the limit, so this says nothing about a higher one
        }
        double next = limit * gradient + Math.sqrt(limit); // at the smallest gradient, MIN holds still
        limit = Math.max(MIN, Math.min(MAX, limit * (1 - SMOOTHING) + next * SMOOTHING));
    }
}
