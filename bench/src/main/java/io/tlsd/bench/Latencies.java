package io.tlsd.bench;

import java.util.Arrays;

/** Latency samples in nanoseconds, recorded by one thread, summarised after the run. */
final class Latencies {
    private long[] samples = new long[4096];
    private int count;

    void record(long nanos) {
        if (count == samples.length) {
            samples = Arrays.copyOf(samples, count * 2);
        }
        samples[count++] = nanos;
    }

    int count() {
        return count;
    }

    /** All samples of several recorders, sorted. */
    static Summary summarise(Iterable<Latencies> parts) {
        int total = 0;
        for (Latencies part : parts) {
            total += part.count;
        }
        long[] all = new long[total];
        int at = 0;
        for (Latencies part : parts) {
            System.arraycopy(part.samples, 0, all, at, part.count);
            at += part.count;
        }
        Arrays.sort(all);
        return new Summary(all);
    }

    /** Sorted samples. */
    record Summary(long[] sorted) {
        int count() {
            return sorted.length;
        }

        /** The q-quantile (0 < q <= 1) in microseconds, nearest rank; NaN without samples. */
        double micros(double q) {
            if (sorted.length == 0) {
                return Double.NaN;
            }
            int rank = (int) Math.ceil(q * sorted.length) - 1;
            return sorted[Math.max(0, Math.min(sorted.length - 1, rank))] / 1000.0;
        }

        double maxMicros() {
            return micros(1.0);
        }
    }
}
