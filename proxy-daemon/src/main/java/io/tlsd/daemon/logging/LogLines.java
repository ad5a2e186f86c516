package io.tlsd.daemon.logging;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import org.slf4j.event.Level;

/** One log event as one line (and, in text, the stack trace's lines after it). */
final class LogLines {
    /** ISO 8601 in UTC, to the millisecond: 2026-11-30T09:46:16.504Z. */
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
            .withZone(ZoneOffset.UTC);

    private LogLines() {
    }

    static String format(DaemonLog.Format format, Instant time, Level level, String thread, String logger,
                         String message, Throwable throwable) {
        String when = TIME.format(time.truncatedTo(ChronoUnit.MILLIS));
        StringBuilder line = new StringBuilder(128);
        if (format == DaemonLog.Format.JSON) {
            line.append("{\"time\":\"").append(when).append('"');
            field(line, "level", level.name());
            field(line, "thread", thread);
            field(line, "logger", logger);
            field(line, "message", message == null ? "null" : message);
            if (throwable != null) {
                field(line, "exception", stackTrace(throwable).stripTrailing());
            }
            return line.append("}\n").toString();
        }
        line.append(when).append(" [").append(thread).append("] ").append(level.name()).append(' ')
                .append(logger.substring(logger.lastIndexOf('.') + 1)).append(" - ");
        // one line per event, whatever a message carries (an application's name, a peer's SNI)
        escape(line, String.valueOf(message), false);
        line.append('\n');
        if (throwable != null) {
            line.append(stackTrace(throwable));
        }
        return line.toString();
    }

    private static void field(StringBuilder line, String key, String value) {
        line.append(",\"").append(key).append("\":\"");
        escape(line, value, true);
        line.append('"');
    }

    /**
     * Appends {@code s} with its control characters (and the Unicode line separators) escaped as
     * in JSON; with {@code json}, quote and backslash too, which makes it a JSON string's body (RFC
     * 8259).
     */
    static void escape(StringBuilder out, String s, boolean json) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"':
                case '\\':
                    if (json) {
                        out.append('\\');
                    }
                    out.append(c);
                    break;
                case '\n':
                    out.append("\\n");
                    break;
                case '\r':
                    out.append("\\r");
                    break;
                case '\t':
                    out.append("\\t");
                    break;
                default:
                    if (c < 0x20 || c == 0x7f || c == '\u2028' || c == '\u2029') {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
    }

    private static String stackTrace(Throwable throwable) {
        StringWriter trace = new StringWriter();
        try (PrintWriter w = new PrintWriter(trace)) {
            throwable.printStackTrace(w);
        }
        return trace.toString();
    }
}
