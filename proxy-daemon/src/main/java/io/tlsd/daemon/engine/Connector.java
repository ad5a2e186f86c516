package io.tlsd.daemon.engine;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.tlsd.proto.v1.ConnectionInfo;
import io.tlsd.proto.v1.Open;

/**
 * Makes outbound TLS connections for sessions. The engine only sees this seam, so the op
 * engine can be tested on {@code EmbeddedChannel}s without sockets or TLS.
 */
public interface Connector {
    /**
     * Connects and handshakes (on {@code loop}, the session's loop, or on a loop of its own and
     * then moves the channel to {@code loop}), then puts {@code handler} last in the channel's
     * pipeline, with the channel already active. The future succeeds on {@code loop} with the
     * channel once the handshake is done and fails with a {@link Failure} otherwise. Cancelling
     * the future abandons the attempt and closes the channel.
     */
    Future<Channel> connect(Open open, EventLoop loop, ChannelHandler handler);

    /**
     * Cancels {@code attempt}, a future {@link #connect} returned, if it has not started to connect
     * yet (its host is still being resolved, or it waits for its turn under a limit on attempts in
     * flight), and returns true; returns false, and leaves it alone, once it has.
     */
    default boolean withdraw(Future<Channel> attempt) {
        return false;
    }

    /**
     * Where {@code attempt} is now, for the detail of an OPEN that timed out: e.g. "waiting for its
     * turn (max_handshakes_in_flight)" or "in the TLS handshake with 192.0.2.1:443"; null if unknown.
     */
    default String progress(Future<Channel> attempt) {
        return null;
    }

    /**
     * Why {@code open} may not go on ({@code allowed_targets}: its host and port, and its
     * server_name if it has one), for the application; null if it may.
     */
    default String refusal(Open open) {
        return null;
    }

    /** What the application learns of an established connection. */
    ConnectionInfo describe(Channel channel, long connectionId);
}
