package io.tlsd.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How busy the whole machine was, and how much of that was this JVM (from /proc/stat and the
 * JVM's own CPU time): on a shared machine, what others ran during a configuration is noise.
 */
final class MachineLoad {
    private final long busyTicks;
    private final long totalTicks;
    private final long processNanos;
    private final long wallNanos;

    private MachineLoad(long busyTicks, long totalTicks, long processNanos, long wallNanos) {
        this.busyTicks = busyTicks;
        this.totalTicks = totalTicks;
        this.processNanos = processNanos;
        this.wallNanos = wallNanos;
    }

    static MachineLoad snapshot() {
        long busy = -1;
        long total = -1;
        try {
            String[] cpu = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            total = 0;
            for (int i = 1; i < cpu.length; i++) {
                total += Long.parseLong(cpu[i]);
            }
            long idle = Long.parseLong(cpu[4]) + Long.parseLong(cpu[5]); // idle + iowait
            busy = total - idle;
        } catch (IOException | RuntimeException e) {
            // not Linux: the columns stay empty
        }
        long process = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
        return new MachineLoad(busy, total, process, System.nanoTime());
    }

    /**
     * Percent of all cores busy with other processes since {@code earlier}; -1 if unknown.
     */
    double othersPercentSince(MachineLoad earlier, int cores) {
        if (busyTicks < 0 || earlier.busyTicks < 0 || totalTicks == earlier.totalTicks) {
            return -1;
        }
        double busyShare = (double) (busyTicks - earlier.busyTicks) / (totalTicks - earlier.totalTicks);
        double ownShare = (double) (processNanos - earlier.processNanos) / ((wallNanos - earlier.wallNanos) * (double) cores);
        return Math.max(0, 100 * (busyShare - ownShare));
    }

    /**
     * Core-seconds the whole machine was busy since {@code earlier} (every process and the
     * kernel's own work, from /proc/stat's clock ticks of 1/100 s); -1 if unknown.
     */
    double busyCoreSecondsSince(MachineLoad earlier) {
        if (busyTicks < 0 || earlier.busyTicks < 0) {
            return -1;
        }
        return (busyTicks - earlier.busyTicks) / 100.0;
    }

    /** Percent of all cores busy since {@code earlier}, whoever was busy; -1 if unknown. */
    double busyPercentSince(MachineLoad earlier) {
        if (busyTicks < 0 || earlier.busyTicks < 0 || totalTicks == earlier.totalTicks) {
            return -1;
        }
        return 100.0 * (busyTicks - earlier.busyTicks) / (totalTicks - earlier.totalTicks);
    }

    /** Core-seconds this JVM used since {@code earlier} (every thread, user and system time). */
    double ownCoreSecondsSince(MachineLoad earlier) {
        return (processNanos - earlier.processNanos) / 1e9;
    }

    /** Percent of all cores this JVM used since {@code earlier}. */
    double ownPercentSince(MachineLoad earlier, int cores) {
        return 100.0 * (processNanos - earlier.processNanos) / ((wallNanos - earlier.wallNanos) * (double) cores);
    }

    /**
     * Waits, up to {@code maxWaitMillis}, for a second in which the machine was less than
     * {@code maxBusyPercent} busy (this JVM included, so call it between configurations).
     *
     * @return the busy percentage of the last second sampled; -1 if unknown
     */
    static double awaitQuiet(double maxBusyPercent, long maxWaitMillis) throws InterruptedException {
        long deadline = System.nanoTime() + maxWaitMillis * 1_000_000;
        double busy;
        do {
            MachineLoad before = snapshot();
            Thread.sleep(1000);
            MachineLoad after = snapshot();
            if (before.totalTicks < 0 || after.totalTicks == before.totalTicks) {
                return -1;
            }
            busy = 100.0 * (after.busyTicks - before.busyTicks) / (after.totalTicks - before.totalTicks);
        } while (busy >= maxBusyPercent && System.nanoTime() < deadline);
        return busy;
    }
}
