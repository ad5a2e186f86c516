package io.tlsd.daemon.debug;

import io.tlsd.daemon.logging.DaemonLog;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * One line of the debug protocol, parsed. Each command is its own small record; {@link #parse}
 * turns a line into one or says, in the words the human will read, why it cannot.
 *
 * <p>The verb is case-insensitive; arguments are separated by spaces, except the TEXT of
 * {@code write} and {@code writeraw}, which is everything after the single space that follows
 * the connection id (so it may contain spaces).
 */
sealed interface DebugCommand {

    /** Every verb, in the order {@code help} lists them, with its usage and a one-line description. */
    enum Verb {
        HELP("help", "list the commands"),
        OPEN("open HOST PORT [SERVERNAME]",
                "open a TLS connection (client role); SERVERNAME (default HOST) is sent as SNI and verified"),
        ACCEPT("accept [LISTENER [TIMEOUT_MS]]",
                "wait for a TLS client of LISTENER (server role; default listener 'default', 60000 ms, 0 = forever)"),
        WRITE("write ID TEXT", "send TEXT and a newline"),
        WRITERAW("writeraw ID TEXT",
                "send TEXT as it is, no newline added; \\n \\r \\t \\\\ \\xNN stand for those bytes"),
        READ("read ID [MAX [TIMEOUT_MS]]",
                "wait for data, then print it escaped (default 16384 bytes, 5000 ms, 0 = forever)"),
        CLOSE("close ID", "send close_notify and close the connection"),
        CONNS("conns", "list this session's connections"),
        STATS("stats", "print the daemon-wide counters"),
        LOGLEVEL("loglevel [error|warn|info|debug]",
                "print the daemon's log level, or change it until the daemon stops (no restart)"),
        QUIT("quit", "end this debug session, closing its connections");

        final String usage;
        final String description;

        Verb(String usage, String description) {
            this.usage = usage;
            this.description = description;
        }
    }

    /** Used when {@code read} names no MAX; capped by the session's {@code max_read_bytes}. */
    int DEFAULT_READ_BYTES = 16384;
    /** Used when {@code read} names no TIMEOUT_MS: long enough to type, short enough not to be stuck. */
    int DEFAULT_READ_TIMEOUT_MS = 5000;
    /** Used when {@code accept} names no TIMEOUT_MS: time to start a client by hand. */
    int DEFAULT_ACCEPT_TIMEOUT_MS = 60_000;

    record Help() implements DebugCommand {
    }

    record Open(String host, int port, String serverName) implements DebugCommand {
    }

    /** @param listener empty for the daemon's default listener; @param timeoutMs 0 for none */
    record Accept(String listener, int timeoutMs) implements DebugCommand {
    }

    /** {@code write} and {@code writeraw}, reduced to the bytes they send. */
    record Write(long connId, byte[] data) implements DebugCommand {
    }

    /** @param maxBytes 0 for the default; @param timeoutMs 0 for none */
    record Read(long connId, int maxBytes, int timeoutMs) implements DebugCommand {
    }

    record Close(long connId) implements DebugCommand {
    }

    record Conns() implements DebugCommand {
    }

    record Stats() implements DebugCommand {
    }

    /** @param level the level to set, or null to print it */
    record LogLevel(String level) implements DebugCommand {
    }

    record Quit() implements DebugCommand {
    }

    /** A line that is not a command; the message is the whole reply after {@code "error "}. */
    final class Unusable extends Exception {
        Unusable(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Parses one line (without its line terminator). A blank line is not a command and must not
     * be passed here.
     *
     * @throws Unusable with {@code "unknown command 'x'; try help"} or {@code "usage: ..."}
     */
    static DebugCommand parse(String line) throws Unusable {
        Words words = new Words(line);
        String word = words.next();
        Verb verb;
        try {
            verb = Verb.valueOf(word.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new Unusable("unknown command '" + word + "'; try help");
        }
        try {
            DebugCommand command = switch (verb) {
                case HELP -> new Help();
                case OPEN -> new Open(words.required(), port(words.required()), words.optional(""));
                case ACCEPT -> new Accept(words.optional(""), timeout(words.optional(null), DEFAULT_ACCEPT_TIMEOUT_MS));
                case WRITE -> new Write(connId(words.required()),
                        (words.rest() + "\n").getBytes(StandardCharsets.UTF_8));
                case WRITERAW -> new Write(connId(words.required()), EscapedText.unescape(nonEmpty(words.rest())));
                case READ -> new Read(connId(words.required()), maxBytes(words.optional(null)),
                        timeout(words.optional(null), DEFAULT_READ_TIMEOUT_MS));
                case CLOSE -> new Close(connId(words.required()));
                case CONNS -> new Conns();
                case STATS -> new Stats();
                case LOGLEVEL -> new LogLevel(logLevel(words.optional(null)));
                case QUIT -> new Quit();
            };
            if (verb != Verb.WRITE && verb != Verb.WRITERAW) {
                words.end();
            }
            return command;
        } catch (NumberFormatException e) {
            throw new Unusable("usage: " + verb.usage);
        } catch (IllegalArgumentException e) {
            throw new Unusable("usage: " + verb.usage + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")"));
        }
    }

    private static long connId(String word) {
        long id = Long.parseLong(word); // NumberFormatException is an IllegalArgumentException
        if (id < 1) {
            throw new IllegalArgumentException();
        }
        return id;
    }

    /** Range checks are the engine's, so that its message is the one the human sees. */
    private static int port(String word) {
        return Integer.parseInt(word);
    }

    private static int maxBytes(String word) {
        return word == null ? 0 : Integer.parseInt(word);
    }

    private static int timeout(String word, int fallback) {
        if (word == null) {
            return fallback;
        }
        int ms = Integer.parseInt(word);
        if (ms < 0) {
            throw new IllegalArgumentException();
        }
        return ms;
    }

    private static String logLevel(String word) {
        if (word == null) {
            return null;
        }
        String level = word.toLowerCase(Locale.ROOT);
        DaemonLog.parseLevel(level); // an IllegalArgumentException names the levels
        return level;
    }

    private static String nonEmpty(String text) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException();
        }
        return text;
    }

    /** Space-separated words of a line, and for TEXT arguments, the rest of it. */
    final class Words {
        private final String line;
        private int pos;

        Words(String line) {
            this.line = line;
            skipSpaces();
        }

        private void skipSpaces() {
            while (pos < line.length() && line.charAt(pos) == ' ') {
                pos++;
            }
        }

        String next() {
            int start = pos;
            while (pos < line.length() && line.charAt(pos) != ' ') {
                pos++;
            }
            String word = line.substring(start, pos);
            skipSpaces();
            return word;
        }

        String required() {
            if (pos >= line.length()) {
                throw new IllegalArgumentException();
            }
            return next();
        }

        String optional(String fallback) {
            return pos >= line.length() ? fallback : next();
        }

        /**
         * Everything after the separator that follows the previous word. Only the first space
         * of the separator is dropped, so TEXT keeps its own leading spaces.
         */
        String rest() {
            int start = pos;
            while (start > 0 && line.charAt(start - 1) == ' ') {
                start--;
            }
            if (start < line.length() && start < pos) {
                start++;
            }
            return start >= line.length() ? "" : line.substring(start);
        }

        void end() {
            if (pos < line.length()) {
                throw new IllegalArgumentException();
            }
        }
    }
}
