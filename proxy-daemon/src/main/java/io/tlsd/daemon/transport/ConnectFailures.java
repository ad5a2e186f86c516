package io.tlsd.daemon.transport;

import io.netty.channel.ConnectTimeoutException;
import java.time.Duration;
import java.util.regex.Pattern;

/** Why a TCP connect failed, in words for a log line or an application: without Netty's decorations. */
public final class ConnectFailures {
    /** epoll: "finishConnect(..) failed with error(-111): Connection refused". */
    private static final Pattern NATIVE_CALL = Pattern.compile("^\\w+\\(\\.\\.\\) failed( with error\\(-?\\d+\\))?: ");
    /** What Netty and NIO append: ": /127.0.0.1:8080", or ": localhost/127.0.0.1:8080". */
    private static final Pattern ADDRESS = Pattern.compile(": [^\\s/]*/\\S+$");

    private ConnectFailures() {
    }

    /** "Connection refused", "timed out after 10000 ms". */
    public static String reason(Throwable cause, Duration timeout) {
        if (cause instanceof ConnectTimeoutException) {
            return "timed out after " + timeout.toMillis() + " ms";
        }
        return ADDRESS.matcher(NATIVE_CALL.matcher(innermostMessage(cause)).replaceFirst("")).replaceFirst("");
    }

    /** The message of the innermost cause that has one, else the class's simple name. */
    public static String innermostMessage(Throwable cause) {
        String message = cause.getMessage();
        for (Throwable t = cause.getCause(); t != null; t = t.getCause()) {
            if (t.getMessage() != null) {
                message = t.getMessage();
            }
        }
        return message != null ? message : cause.getClass().getSimpleName();
    }
}
