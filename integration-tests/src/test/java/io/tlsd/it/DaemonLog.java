package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** The log of a daemon process a test started. */
final class DaemonLog {
    private DaemonLog() {
    }

    /** Waits up to 30 s for a line with {@code fragment}; fails if the daemon exits first. */
    static void awaitLine(Path log, Process daemon, String fragment) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            if (text.contains(fragment)) {
                return;
            }
            if (!daemon.isAlive()) {
                fail("the daemon exited with " + daemon.exitValue() + ":\n" + text);
            }
            Thread.sleep(50);
        }
        fail("no log line with `" + fragment + "` in:\n" + Files.readString(log, StandardCharsets.UTF_8));
    }
}
