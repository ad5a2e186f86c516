package io.tlsd.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.Map;

/**
 * CPU time of this JVM's threads, grouped by name prefix ("tlsd-worker", "tlsd-signer", ...): it
 * shows where the signatures were actually made.
 */
final class ThreadCpu {
    private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();
    static final String[] GROUPS = {"tlsd-worker", "tlsd-signer", "tlsd-control", "bench-storm", "bench-ping"};

    private final Map<Long, Long> byThread = new HashMap<>();
    private final Map<Long, String> groupOf = new HashMap<>();

    private ThreadCpu() {
    }

    static ThreadCpu snapshot() {
        ThreadCpu snapshot = new ThreadCpu();
        for (Thread thread : Thread.getAllStackTraces().keySet()) {
            for (String group : GROUPS) {
                if (thread.getName().startsWith(group)) {
                    long nanos = MX.getThreadCpuTime(thread.getId());
                    if (nanos >= 0) {
                        snapshot.byThread.put(thread.getId(), nanos);
                        snapshot.groupOf.put(thread.getId(), group);
                    }
                }
            }
        }
        return snapshot;
    }

    /** CPU milliseconds per group spent between {@code earlier} and this snapshot. */
    Map<String, Long> millisSince(ThreadCpu earlier) {
        Map<String, Long> millis = new HashMap<>();
        byThread.forEach((id, nanos) -> {
            long before = earlier.byThread.getOrDefault(id, 0L);
            millis.merge(groupOf.get(id), (nanos - before) / 1_000_000, Long::sum);
        });
        return millis;
    }
}
