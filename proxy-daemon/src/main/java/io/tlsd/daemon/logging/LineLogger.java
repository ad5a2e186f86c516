package io.tlsd.daemon.logging;

import java.io.PrintStream;
import java.time.Instant;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;

/** A logger that writes each event as one line to stderr, in {@link DaemonLog}'s level and format. */
final class LineLogger extends LegacyAbstractLogger {
    private static final long serialVersionUID = 1L;

    /** Netty logs its internals at debug; the daemon's level does not go below warn for them. */
    private final boolean quiet;

    LineLogger(String name) {
        this.name = name;
        this.quiet = name.startsWith("io.netty.");
    }

    private boolean enabled(Level event) {
        Level threshold = DaemonLog.level();
        if (quiet && threshold.toInt() < Level.WARN.toInt()) {
            threshold = Level.WARN;
        }
        return event.toInt() >= threshold.toInt();
    }

    @Override
    public boolean isTraceEnabled() {
        return enabled(Level.TRACE);
    }

    @Override
    public boolean isDebugEnabled() {
        return enabled(Level.DEBUG);
    }

    @Override
    public boolean isInfoEnabled() {
        return enabled(Level.INFO);
    }

    @Override
    public boolean isWarnEnabled() {
        return enabled(Level.WARN);
    }

    @Override
    public boolean isErrorEnabled() {
        return enabled(Level.ERROR);
    }

    @Override
    protected String getFullyQualifiedCallerName() {
        return null;
    }

    @Override
    protected void handleNormalizedLoggingCall(Level level, Marker marker, String pattern, Object[] arguments,
                                               Throwable throwable) {
        String message = MessageFormatter.basicArrayFormat(pattern, arguments);
        String line = LogLines.format(DaemonLog.format(), Instant.now(), level, Thread.currentThread().getName(),
                name, message, throwable);
        PrintStream err = System.err; // looked up each time: whatever stderr is now
        err.print(line); // one call: PrintStream's lock keeps the lines of two threads apart
        err.flush();
    }
}
