package io.tlsd.bench;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A few seconds of every scenario of {@link Suite}, so that the benchmark cannot rot: the real
 * daemon processes (and a second tlsd tunnel pair, as {@code --variant-jvm} runs), stunnel4 and
 * HAProxy when installed (CI installs stunnel4), every figure a finite number (positive but for a
 * whole-process RSS difference), the table and the chart written.
 */
class SuiteSmokeTest {
    @Test
    void everyScenarioProducesFigures(@TempDir Path out) throws Exception {
        Suite.Options options = new Suite.Options();
        options.millis = 400;
        options.rounds = 1;
        options.connections = 100;
        options.jitWarmupMillis = 1; // one chunk of the JIT warm-up, whatever the compilers do
        options.out = out;
        List<String> peers = new ArrayList<>();
        for (String peer : List.of("stunnel", "haproxy")) {
            if (onPath(peer.equals("stunnel") ? "stunnel4" : "haproxy")) {
                peers.add(peer);
            }
        }
        options.peers = peers;
        options.variantJvm = options.daemonJvm; // a second tlsd pair, as --variant-jvm makes

        Results results = Suite.run(options);
        results.chart(out.resolve("ratios.png"), "smoke");

        assertFalse(results.rows.isEmpty());
        for (Results.Row row : results.rows) {
            assertTrue(Double.isFinite(row.ours()), "tlsd figure of " + row);
            // The heap and RSS per connection are differences of two whole-process readings. At
            // the smoke run's 100 connections they are within what a full GC frees or gives back
            // to the OS (a heap 56 KiB smaller after them was seen), so they may be negative;
            // every other figure must be positive.
            if (!row.figure().startsWith("daemon RSS") && !row.figure().startsWith("daemon heap")) {
                assertTrue(row.ours() > 0, "tlsd figure of " + row);
            }
            if (!row.peer().isEmpty()) {
                assertTrue(Double.isFinite(row.theirs()) && row.theirs() > 0, "peer figure of " + row);
            }
        }
        assertTrue(results.rows.stream().anyMatch(r -> r.scenario().equals("scale")), results.text());
        assertTrue(results.rows.stream().anyMatch(r -> r.peer().equals("tlsd-b")
                && r.figure().equals("bulk, 8 streams: daemons' CPU per GiB")), results.text());
        assertTrue(results.markdown().contains("| tunnel pair |"), results.markdown());
        assertTrue(Files.size(out.resolve("ratios.png")) > 1000);
    }

    /** Whether {@code tool} is an executable on the PATH. */
    static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
