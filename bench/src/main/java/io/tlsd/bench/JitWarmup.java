package io.tlsd.bench;

import java.io.IOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Warm-up that goes on until the JIT compilers are nearly idle: of this JVM (the load generator)
 * and of the processes under test (tlsd's JVMs; stunnel and HAProxy have none, so for them only
 * this JVM's count). On 2 cores, three JVMs compiling the TLS handshake path at once leave little
 * CPU for the warm-up load itself, and a fixed warm-up can end while C2 still holds a core: the
 * first measured rounds then measure the compiler.
 */
final class JitWarmup {
    /** Compilers at most this share of one core over a chunk: warm. */
    private static final double QUIET_SHARE = 0.05;

    private static final CompilationMXBean OWN_JIT = ManagementFactory.getCompilationMXBean();

    private JitWarmup() {
    }

    /** One chunk of warm-up load. */
    interface Chunk {
        void run() throws Exception;
    }

    /**
     * Runs {@code chunk} until, over one run of it, the compilers of this JVM and of {@code pids}
     * together were busy less than {@link #QUIET_SHARE} of a core, or {@code maxMillis} passed
     * (not at all if it is 0), and says how long that took.
     */
    static void untilQuiet(String name, List<Long> pids, Chunk chunk, long maxMillis) throws Exception {
        if (maxMillis <= 0) {
            return;
        }
        long start = System.nanoTime();
        double share;
        int chunks = 0;
        do {
            long wallBefore = System.nanoTime();
            long ownBefore = OWN_JIT.getTotalCompilationTime();
            long ticksBefore = compilerTicks(pids);
            chunk.run();
            chunks++;
            double seconds = (System.nanoTime() - wallBefore) / 1e9;
            double busy = (OWN_JIT.getTotalCompilationTime() - ownBefore) / 1e3
                    + (compilerTicks(pids) - ticksBefore) / PeerProcess.CLOCK_TICKS_PER_SECOND;
            share = busy / seconds;
        } while (share > QUIET_SHARE && System.nanoTime() - start < maxMillis * 1_000_000);
        Suite.progress("%s: JIT warm-up, %d more chunks (%.1f s); compilers busy %.0f%% of a core in the last",
                name, chunks, (System.nanoTime() - start) / 1e9, 100 * share);
    }

    /** CPU clock ticks of the JIT compiler threads ("C1 CompilerThre", "C2 CompilerThre") of {@code pids}. */
    private static long compilerTicks(List<Long> pids) throws IOException {
        long ticks = 0;
        for (long pid : pids) {
            Path tasks = Path.of("/proc", Long.toString(pid), "task");
            if (!Files.isDirectory(tasks)) {
                continue;
            }
            try (DirectoryStream<Path> threads = Files.newDirectoryStream(tasks)) {
                for (Path thread : threads) {
                    ticks += compilerTicksOf(thread);
                }
            }
        }
        return ticks;
    }

    private static long compilerTicksOf(Path thread) {
        try {
            String stat = Files.readString(thread.resolve("stat"));
            String comm = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
            if (!comm.startsWith("C1 Compiler") && !comm.startsWith("C2 Compiler")) {
                return 0;
            }
            return PeerProcess.statTicks(stat);
        } catch (IOException | RuntimeException e) {
            return 0; // the thread ended meanwhile
        }
    }
}
