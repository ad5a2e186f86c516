package io.tlsd.daemon.logging;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import org.slf4j.event.Level;

/**
 * One log event as text or as one JSON line.
 *
 * <p>Text: the event's first line starts with its time; a message of several lines (Netty's leak
 * reports) and a stack trace continue on lines that start with a tab. So whatever a message or an
 * exception carries from outside (an application's name, a peer's SNI) cannot start a line of
 * its own, and the other control characters in it are escaped as in JSON. JSON: one object per
 * line, every character outside printable ASCII escaped, so that the line survives any stderr
 * encoding.
 */
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
            field(line, "thread", String.valueOf(thread));
            field(line, "logger", logger);
            field(line, "message", String.valueOf(message));
            if (throwable != null) {
                field(line, "exception", stackTrace(throwable).stripTrailing());
            }
            return line.append("}\n").toString();
        }
        line.append(when).append(" [");
        text(line, String.valueOf(thread));
        line.append("] ").append(level.name()).append(' ')
                .append(logger.substring(logger.lastIndexOf('.') + 1)).append(" - ");
        text(line, String.valueOf(message));
        line.append('\n');
        if (throwable != null) {
            String trace = stackTrace(throwable).stripTrailing();
            line.append('\t');
            text(line, trace.replace("\n\t", "\n")); // its own indentation becomes the continuation's
            line.append('\n');
        }
        return line.toString();
    }

    private static void field(StringBuilder line, String key, String value) {
        line.append(",\"").append(key).append("\":\"");
        json(line, value);
        line.append('"');
    }

    /** A JSON string's body (RFC 8259), in printable ASCII: anything else as {@code \}{@code uXXXX}. */
    static void json(StringBuilder out, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20 || c >= 0x7f) {
                        unicodeEscape(out, c);
                    } else {
                        out.append(c);
                    }
                }
            }
        }
    }

    /**
     * {@code s} for a text line: a newline continues on a line that starts with a tab, the other
     * control characters (and the Unicode line separators) are escaped as in JSON.
     */
    static void text(StringBuilder out, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\n' -> out.append("\n\t");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append(c);
                default -> {
                    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\u2028' || c == '\u2029') {
                        unicodeEscape(out, c);
                    } else {
                        out.append(c);
                    }
                }
            }
        }
    }

    private static void unicodeEscape(StringBuilder out, char c) {
        out.append("\\u").append(Character.forDigit(c >> 12 & 0xf, 16)).append(Character.forDigit(c >> 8 & 0xf, 16))
                .append(Character.forDigit(c >> 4 & 0xf, 16)).append(Character.forDigit(c & 0xf, 16));
    }

    private static String stackTrace(Throwable throwable) {
        StringWriter trace = new StringWriter();
        try (PrintWriter w = new PrintWriter(trace)) {
            throwable.printStackTrace(w);
        }
        return trace.toString().replace("\r\n", "\n");
    }
}
