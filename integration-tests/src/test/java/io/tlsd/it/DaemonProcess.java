package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.tlsd.daemon.cli.TlsdCommand;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** {@code tlsd ARGS} in a JVM of its own, as an operator runs it, with its log (stderr) in a file. */
final class DaemonProcess implements AutoCloseable {
    /** Logged once SIGTERM, SIGINT and SIGHUP are the daemon's; before, SIGTERM kills the JVM at once. */
    static final String SIGNALS_CLAIMED = "SIGHUP reads the ";
    /**
     * A launcher that gives the daemon SIGHUP's default action whatever this JVM inherited: a
     * process started with SIGHUP ignored (under nohup) passes that on, and the JVM then leaves
     * SIGHUP alone.
     */
    static final List<String> SIGHUP_AS_DEFAULT = List.of("env", "--default-signal=HUP");

    final Process process;
    final Path log;

    private DaemonProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /**
     * Started with SIGHUP's default action ({@link #SIGHUP_AS_DEFAULT}), so that a test suite run
     * under nohup still sees the daemon claim SIGHUP.
     */
    static DaemonProcess start(Path log, String... args) throws Exception {
        return start(log, SIGHUP_AS_DEFAULT, args);
    }

    /** Started through {@code launcher} (e.g. {@code nohup}), which execs the JVM. */
    static DaemonProcess start(Path log, List<String> launcher, String... args) throws Exception {
        List<String> command = new ArrayList<>(launcher);
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), TlsdCommand.class.getName()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(log.toFile()).start();
        return new DaemonProcess(process, log);
    }

    /** Waits up to 30 s for a log line with {@code fragment}; fails if the daemon exits first. */
    void awaitLogLine(String fragment) throws Exception {
        awaitLogLine(fragment, 1);
    }

    /** Waits up to 30 s for the {@code times}th log line with {@code fragment}; fails if the daemon exits first. */
    void awaitLogLine(String fragment, int times) throws Exception {
        awaitLine(log, process, fragment, times, Duration.ofSeconds(30));
    }

    /** Sends {@code kill -NAME}. */
    void signal(String name) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).start().waitFor());
    }

    String logText() throws Exception {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    /** Waits up to {@code timeout} for a line with {@code fragment} in {@code log}; fails if {@code daemon} exits first. */
    static void awaitLine(Path log, Process daemon, String fragment, Duration timeout) throws Exception {
        awaitLine(log, daemon, fragment, 1, timeout);
    }

    private static void awaitLine(Path log, Process daemon, String fragment, int times, Duration timeout)
            throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            if (text.split(java.util.regex.Pattern.quote(fragment), -1).length > times) {
                return;
            }
            if (!daemon.isAlive()) {
                fail("the daemon exited with " + daemon.exitValue() + ":\n" + text);
            }
            Thread.sleep(20);
        }
        fail("no log line with `" + fragment + "` in:\n" + Files.readString(log, StandardCharsets.UTF_8));
    }

    /** SIGTERM, up to 20 s to stop, then SIGKILL. */
    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
