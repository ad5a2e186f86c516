package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.sdk.TlsdClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon's log as an operator's collector reads it: {@code --log-format json} gives one JSON
 * object per line (read back with jq), text one line per event; in both, an application that
 * names itself with quotes, a newline and a forged log line stays inside its own event.
 */
@Timeout(90)
class LogFormatTest {
    /** An app name that would forge a second log line if it were written as it is. */
    private static final String HOSTILE_APP = "billing \"api\"\n2026-01-01T00:00:00.000Z [main] ERROR TlsdDaemon - forged\\";

    @TempDir
    Path dir;

    @Test
    void jsonLogIsOneObjectPerLineThatJqReadsBack() throws Exception {
        Path log = runSessionAndStop("--log-format", "json");
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        assertTrue(lines.size() >= 4, "started, session started, session ended, stopping: " + lines);
        for (String line : lines) {
            assertTrue(line.startsWith("{\"time\":\"") && line.endsWith("}"), "not a JSON object line: " + line);
        }
        // every line one object, whose fields are all there
        String fields = jq(log, "-r", "[.time, .level, .thread, .logger, (.message | length > 0)] | @tsv");
        assertEquals(lines.size(), fields.lines().count(), fields);
        assertTrue(fields.lines().allMatch(l -> l.matches(
                "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\t(ERROR|WARN|INFO|DEBUG)\t[^\t]+\tio\\.tlsd\\.[\\w.]+\ttrue")),
                fields);
        String started = jq(log, "-r", "select(.message | startswith(\"session \") and contains(\" started: app=\")) | .message");
        assertTrue(started.contains("app=" + HOSTILE_APP + " "), "the app name, decoded intact: " + started);
        assertTrue(jq(log, "-r", "select(.logger == \"io.tlsd.daemon.TlsdDaemon\") | .message").contains("tlsd stopped"));
    }

    @Test
    void textLogKeepsEachEventOnOneLine() throws Exception {
        Path log = runSessionAndStop();
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        // an event's first line starts with its time, its other lines with a tab
        for (String line : lines) {
            assertTrue(line.startsWith("\t") || line.matches(
                    "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z \\[[^]]+] (ERROR|WARN|INFO|DEBUG) \\w+ - .*"),
                    "not a log line: " + line);
        }
        assertFalse(lines.stream().anyMatch(l -> l.startsWith("2026-01-01T00:00:00.000Z")), "a forged line: " + lines);
        String text = String.join("\n", lines);
        assertTrue(text.contains("app=billing \"api\"\n\t2026-01-01T00:00:00.000Z [main] ERROR TlsdDaemon - forged\\ "), text);
    }

    @Test
    void sighupSwitchesToTheLogLevelAndFormatOfTheFile() throws Exception {
        Path config = Files.writeString(dir.resolve("client.yaml"), "socket: " + dir.resolve("run/c.sock") + "\n");
        Path log = dir.resolve("daemon.log");
        try (DaemonProcess daemon = DaemonProcess.start(log, "client", "--config",
                config.toString())) {
            daemon.awaitLogLine(DaemonProcess.SIGNALS_CLAIMED);
            Files.writeString(config, "log_format: json\nlog_level: warn\n", StandardOpenOption.APPEND);
            daemon.signal("HUP");
            // said in the format and at the level before
            daemon.awaitLogLine(" INFO ReloadSignal - reload: log level warn, log format json");
            Files.writeString(config, "worker_threads: 13\n", StandardOpenOption.APPEND);
            daemon.signal("HUP");
            String waits = "reload: changed, but not applied until a restart: worker_threads";
            daemon.awaitLogLine(waits);
            String line = Files.readAllLines(log, StandardCharsets.UTF_8).stream().filter(l -> l.contains(waits))
                    .findFirst().orElseThrow();
            assertTrue(line.startsWith("{\"time\":\"") && line.contains("\"level\":\"WARN\""), line);
            String after = daemon.logText().substring(daemon.logText().indexOf("log format json"));
            assertFalse(after.contains("\"level\":\"INFO\""), "warn and above from then on:\n" + after);
        }
    }

    /** A daemon with {@code extra} flags, one session of {@link #HOSTILE_APP}, then SIGTERM; its log. */
    private Path runSessionAndStop(String... extra) throws Exception {
        Path socket = dir.resolve("run/client.sock");
        Path log = dir.resolve("daemon.log");
        String[] args = new String[3 + extra.length];
        args[0] = "client";
        args[1] = "--socket";
        args[2] = socket.toString();
        System.arraycopy(extra, 0, args, 3, extra.length);
        try (DaemonProcess daemon = DaemonProcess.start(log, args)) {
            daemon.awaitLogLine(DaemonProcess.SIGNALS_CLAIMED);
            try (TlsdClient app = TlsdClient.builder().socket(socket).appName(HOSTILE_APP).build()) {
                daemon.awaitLogLine(" started: app=");
            }
            daemon.awaitLogLine(" closed: dropped ");
            daemon.signal("TERM");
            assertTrue(daemon.process.waitFor(20, TimeUnit.SECONDS), "stopped");
            assertEquals(0, daemon.process.exitValue());
        }
        return log;
    }

    /** {@code jq ARGS FILE}'s output; fails unless jq parsed the whole file. */
    private static String jq(Path file, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("jq"));
        command.addAll(List.of(args));
        command.add(file.toString());
        Process jq = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(jq.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(jq.waitFor(20, TimeUnit.SECONDS));
        assertEquals(0, jq.exitValue(), "jq: " + out);
        return out;
    }
}
