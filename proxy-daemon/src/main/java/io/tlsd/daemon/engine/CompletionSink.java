package io.tlsd.daemon.engine;

import io.tlsd.proto.v1.Completion;

/** Where a session's completions go: the application's IPC channel. Called on the session's loop. */
public interface CompletionSink {
    void send(Completion completion);

    /**
     * False while the application is not reading its completions fast enough. Read data is then
     * held back (still bounded by the per-connection buffer), so the IPC channel's outbound
     * buffer cannot grow without bound.
     */
    boolean isWritable();

    /** Who the session is, for the log: e.g. {@code session 6a1b2c3d (app=billing)}. */
    default String describe() {
        return "session";
    }
}
