package io.tlsd.daemon.engine;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.unix.PeerCredentials;
import io.netty.util.concurrent.Future;
import io.tlsd.proto.v1.ConnectionInfo;

/**
 * Hands connections accepted by the server role's listeners to sessions. Like {@link Connector},
 * a seam that keeps sockets and TLS out of the op engine.
 */
public interface Acceptor {
    /**
     * Waits for the next client of {@code listener} whose handshake is done. The future completes
     * on {@code loop} with a channel already registered on {@code loop} (the session's loop), its
     * pipeline ending in the listener's hand-over handler. Cancelling withdraws the wait unless a
     * connection is already being handed over. Fails with a {@link Failure} (NOT_FOUND) for an
     * unknown listener.
     */
    Future<Channel> accept(String listener, EventLoop loop);

    /**
     * {@link #accept(String, EventLoop)} for the process whose credentials are {@code peer} (null
     * when unknown): a reload that changes the listener's {@code allowed_peers} so that they no
     * longer let it in fails the wait with {@code UNAUTHORIZED}.
     */
    default Future<Channel> accept(String listener, EventLoop loop, PeerCredentials peer) {
        return accept(listener, loop);
    }

    /**
     * Whether the process behind a session, whose kernel credentials are {@code peer} (null when
     * unknown), may accept on {@code listener}; true for a listener that does not exist (its
     * ACCEPT fails NOT_FOUND).
     */
    default boolean mayAccept(String listener, PeerCredentials peer) {
        return true;
    }

    /** Replaces the hand-over handler with {@code handler} and replays what it buffered. */
    void attach(Channel channel, io.netty.channel.ChannelHandler handler);

    /** What the application learns of an accepted connection. */
    ConnectionInfo describe(Channel channel, long connectionId);
}
