package io.tlsd.daemon.engine;

import io.tlsd.proto.v1.Status;

/**
 * An operation's failure as the application will see it: a status from the shared catalog and
 * a human-readable detail. Thrown inside the engine to unwind validation; never logged with a
 * stack trace, so it does not fill one in.
 */
public final class Failure extends Exception {
    private final Status status;

    public Failure(Status status, String detail) {
        super(detail, null, false, false);
        this.status = status;
    }

    public Status status() {
        return status;
    }

    public String detail() {
        return getMessage();
    }

    @Override
    public String toString() {
        return status + ": " + getMessage();
    }
}
