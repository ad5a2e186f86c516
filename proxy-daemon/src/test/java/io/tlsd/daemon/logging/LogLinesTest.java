package io.tlsd.daemon.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.testing.StderrCapture;
import java.io.IOException;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

class LogLinesTest {
    private static final Instant T = Instant.parse("2026-11-30T09:46:16.504918Z");

    @AfterEach
    void defaults() {
        DaemonLog.configure("info", DaemonLog.Format.TEXT);
    }

    @Test
    void textIsTimeThreadLevelShortNameMessage() {
        assertEquals("2026-11-30T09:46:16.504Z [main] INFO TlsdDaemon - tlsd started\n",
                LogLines.format(DaemonLog.Format.TEXT, T, Level.INFO, "main", "io.tlsd.daemon.TlsdDaemon",
                        "tlsd started", null));
    }

    @Test
    void textContinuesOnTabbedLinesAndEscapesTheOtherControlCharacters() {
        String line = LogLines.format(DaemonLog.Format.TEXT, T, Level.WARN, "w", "a.B",
                "app=x\n2026-01-01T00:00:00.000Z [main] ERROR X - forged\r\tz\u001b[31m\u2028\u0085 \"q\" caf\u00e9", null);
        assertEquals("2026-11-30T09:46:16.504Z [w] WARN B - app=x\n\t2026-01-01T00:00:00.000Z [main] ERROR X - forged"
                + "\\r\tz\\u001b[31m\\u2028\\u0085 \"q\" caf\u00e9\n", line);
    }

    @Test
    void textPutsTheStackTraceOnTabbedLinesAfterWhateverItsMessagesCarry() {
        IOException cause = new IOException("peer said\n2026-01-01T00:00:00.000Z [main] ERROR X - forged");
        String line = LogLines.format(DaemonLog.Format.TEXT, T, Level.ERROR, "w", "B", "failed",
                new IllegalStateException("boom", cause));
        assertTrue(line.startsWith("2026-11-30T09:46:16.504Z [w] ERROR B - failed\n\tjava.lang.IllegalStateException: boom\n\tat "),
                line);
        assertTrue(line.contains("\n\tCaused by: java.io.IOException: peer said\n\t2026-01-01"), line);
        assertTrue(line.endsWith("\n") && !line.endsWith("\n\n"), line);
        String[] lines = line.split("\n");
        for (int i = 1; i < lines.length; i++) {
            assertTrue(lines[i].startsWith("\t"), "a continuation line: " + lines[i]);
        }
    }

    @Test
    void jsonIsOneObjectOnOneLine() {
        assertEquals("{\"time\":\"2026-11-30T09:46:16.504Z\",\"level\":\"INFO\",\"thread\":\"tlsd-worker-1\","
                        + "\"logger\":\"io.tlsd.daemon.TlsdDaemon\",\"message\":\"a \\\"b\\\" c\\\\d\\ne\\u0000"
                        + " caf\\u00e9 \\ud83d\\ude00 \\u2028\"}\n",
                LogLines.format(DaemonLog.Format.JSON, T, Level.INFO, "tlsd-worker-1", "io.tlsd.daemon.TlsdDaemon",
                        "a \"b\" c\\d\ne\u0000 caf\u00e9 \ud83d\ude00 \u2028", null));
    }

    @Test
    void jsonCarriesTheStackTraceInItsLine() {
        String line = LogLines.format(DaemonLog.Format.JSON, T, Level.ERROR, "w", "B", "failed",
                new IOException("boom \"x\""));
        assertTrue(line.contains(",\"exception\":\"java.io.IOException: boom \\\"x\\\"\\n\\tat "), line);
        assertTrue(line.endsWith("\"}\n"), line);
        assertEquals(1, line.lines().count(), line);
    }

    @Test
    void loggersFollowTheLevelAndFormatSetAfterTheyWereMade() {
        Logger ours = LoggerFactory.getLogger("io.tlsd.daemon.Something");
        Logger netty = LoggerFactory.getLogger("io.netty.channel.Something");
        String out = StderrCapture.of(() -> {
            DaemonLog.configure("warn", DaemonLog.Format.TEXT);
            ours.info("hidden {}", 1);
            ours.warn("shown {} of {}", 1, 2);
            DaemonLog.configure("debug", DaemonLog.Format.JSON);
            ours.debug("debug {}", "now");
            netty.info("netty's info stays out");
            netty.warn("netty's warning", new IllegalStateException("x"));
        });
        // only this test's loggers: a thread another test left running may log meanwhile
        String[] lines = out.lines().filter(l -> l.contains("Something")).toArray(String[]::new);
        assertTrue(lines[0].matches(".* \\[.+] WARN Something - shown 1 of 2"), out);
        assertTrue(lines[1].startsWith("{\"time\":") && lines[1].contains("\"level\":\"DEBUG\"")
                && lines[1].contains("\"message\":\"debug now\""), out);
        assertTrue(lines[2].contains("\"logger\":\"io.netty.channel.Something\"")
                && lines[2].contains("\"exception\":\"java.lang.IllegalStateException: x"), out);
        assertEquals(3, lines.length, out);
        assertFalse(out.contains("hidden") || out.contains("stays out"), out);
        assertTrue(ours.isDebugEnabled());
        assertFalse(netty.isInfoEnabled());
    }

    @Test
    void unknownNamesAreRefused() {
        assertEquals("unknown log level 'verbose' (error, warn, info, debug)",
                org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                        () -> DaemonLog.parseLevel("verbose")).getMessage());
        assertEquals(DaemonLog.Format.JSON, DaemonLog.Format.parse("JSON"));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> DaemonLog.Format.parse("xml"));
    }
}
