package io.tlsd.daemon.logging;

import java.util.Locale;
import org.slf4j.event.Level;

/**
 * How the daemon logs: the level and the line format of every logger, changeable at any time
 * (loggers read it at each event). Each event starts a line on stderr, for systemd or a
 * container runtime to collect:
 *
 * <pre>
 * text: 2026-11-30T09:46:16.504Z [main] INFO TlsdDaemon - tlsd 0.1.0 client daemon started: …
 * json: {"time":"2026-11-30T09:46:16.504Z","level":"INFO","thread":"main","logger":"io.tlsd.daemon.TlsdDaemon","message":"tlsd 0.1.0 client daemon started: …"}
 * </pre>
 *
 * <p>In text, a stack trace (or a message of several lines) continues on lines that start with a
 * tab; in JSON it is the {@code exception} field of the one line. Times are UTC. Netty's own
 * loggers log warnings and errors only, whatever the level.
 */
public final class DaemonLog {
    /** The line format. */
    public enum Format {
        /** Time, thread, level, short logger name, message. */
        TEXT,
        /** One JSON object per line: time, level, thread, logger, message, exception. */
        JSON;

        /** "text" or "json". */
        public static Format parse(String name) {
            for (Format f : values()) {
                if (f.name().equalsIgnoreCase(name)) {
                    return f;
                }
            }
            throw new IllegalArgumentException("unknown log format '" + name + "' (text or json)");
        }

    }

    private static volatile Level level = Level.INFO;
    private static volatile Format format = Format.TEXT;

    private DaemonLog() {
    }

    /**
     * Sets the level ({@code "error"}, {@code "warn"}, {@code "info"} or {@code "debug"}) and the
     * format of every logger, those made already included.
     */
    public static void configure(String level, Format format) {
        DaemonLog.level = parseLevel(level);
        DaemonLog.format = format;
    }

    /** Sets the format alone (see {@link #configure}); the lines from then on have it. */
    public static void format(Format format) {
        DaemonLog.format = format;
    }

    /** Sets the level alone (see {@link #configure}). */
    public static void level(String level) {
        DaemonLog.level = parseLevel(level);
    }

    /** The level named {@code "error"}, {@code "warn"}, {@code "info"} or {@code "debug"}. */
    public static Level parseLevel(String name) {
        switch (String.valueOf(name)) {
            case "error":
                return Level.ERROR;
            case "warn":
                return Level.WARN;
            case "info":
                return Level.INFO;
            case "debug":
                return Level.DEBUG;
            default:
                throw new IllegalArgumentException("unknown log level '" + name + "' (error, warn, info, debug)");
        }
    }

    static Level level() {
        return level;
    }

    /** The level now: "error", "warn", "info" or "debug". */
    public static String levelName() {
        return level.name().toLowerCase(Locale.ROOT);
    }

    static Format format() {
        return format;
    }
}
