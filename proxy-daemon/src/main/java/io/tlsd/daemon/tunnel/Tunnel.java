package io.tlsd.daemon.tunnel;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * A tunnel of either role as the daemon runs it: started (bound), counted, stopped from accepting
 * when it drains or a reload removes it, and closed.
 */
public interface Tunnel extends AutoCloseable {
    /**
     * Binds the listen address and starts accepting; returns once listening.
     *
     * @throws IOException if the address cannot be bound
     * @throws IllegalStateException if started before or closed
     */
    void start() throws IOException;

    /**
     * Stops accepting connections; those carried go on until they end or {@link #close()}. The
     * first step of a graceful shutdown, and of a tunnel's removal by a reload.
     */
    void stopAccepting();

    /** What the tunnel carries now and has carried since it started. */
    TunnelStats stats();

    /**
     * The bound address, with the port picked if {@code listen} had port 0.
     *
     * @throws IllegalStateException if not started
     */
    InetSocketAddress localAddress();

    /**
     * Stops listening and closes every tunnelled connection cleanly; waits up to 5 s for them to
     * close. Idempotent; close before shutting down the event loops.
     */
    @Override
    void close();
}
