package io.tlsd.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark end to end in a few seconds: it measures something, and the modes take effect. */
class KeyIsolationBenchSmokeTest {
    @TempDir
    Path dir;

    @Test
    void measuresBothModesOfOneKey() throws Exception {
        KeyIsolationBench.Options options = KeyIsolationBench.Options.parse(new String[] {
            "--keys", "ec-p256", "--modes", "on-loop,off-loop", "--rounds", "1",
            "--warmup-seconds", "0.3", "--seconds", "1", "--connections", "2", "--storm", "4",
            "--jvm-warmup-seconds", "0", "--quiet-wait-seconds", "0"});
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        List<KeyIsolationBench.RunResult> results;
        try (PrintStream out = new PrintStream(text, true, StandardCharsets.UTF_8)) {
            results = new KeyIsolationBench(options, out, dir).runAll("(smoke test)");
        }
        String report = text.toString(StandardCharsets.UTF_8);
        assertEquals(2, results.size(), report);
        for (KeyIsolationBench.RunResult r : results) {
            assertTrue(r.pings().count() > 0, "no ping answered: " + report);
            assertTrue(r.storm().handshakes().count() > 0, "no handshake: " + report);
            assertEquals(0, r.storm().failed(), report);
            assertEquals(0, r.storm().resumed(), "a resumed session signs nothing: " + report);
        }
        // The mode reached the daemon: only the off-loop run kept the signer threads busy.
        KeyIsolationBench.RunResult onLoop = results.get(0);
        KeyIsolationBench.RunResult offLoop = results.get(1);
        assertEquals("on-loop", onLoop.mode());
        assertEquals(0L, onLoop.cpuMillis().getOrDefault("tlsd-signer", 0L), report);
        assertTrue(offLoop.cpuMillis().getOrDefault("tlsd-signer", 0L) > 0, report);
        assertTrue(report.contains("| ec-p256 | off-loop | 1 |"), report);
    }
}
