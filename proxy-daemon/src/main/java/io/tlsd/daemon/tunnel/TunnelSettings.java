package io.tlsd.daemon.tunnel;

import io.netty.channel.Channel;
import io.tlsd.daemon.transport.ConnectionLimit;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;

/**
 * The timeouts and the connection limit of a {@link ClientTunnel} or {@link ServerTunnel}.
 *
 * <pre>{@code
 * TunnelSettings settings = new TunnelSettings(Duration.ofSeconds(10), Duration.ofSeconds(10), Duration.ofMinutes(10));
 * }</pre>
 *
 * @param connectTimeout how long the TCP connect to the target or backend may take
 * @param handshakeTimeout how long a TLS handshake may take, counted from the TCP connection;
 *     on the accepting side this is what keeps a silent client from holding a connection
 * @param idleTimeout a tunnelled connection with no bytes in either direction for this long is
 *     closed; {@link Duration#ZERO} never closes idle connections
 * @param maxConnections the most connections the tunnel carries at once; one accepted beyond
 *     that is closed at once (see {@link io.tlsd.daemon.transport.ConnectionLimit}); 0 for no limit
 * @param name the tunnel's name, which its log lines start with (as its metrics are labelled);
 *     null for none
 * @param accessLog whether each connection relayed gets a log line when it ends (see {@link Relay})
 * @param maxConnectionsPerClient the most connections one client address (IP) holds at once; 0 for
 *     no such limit
 */
public record TunnelSettings(Duration connectTimeout, Duration handshakeTimeout, Duration idleTimeout,
                             int maxConnections, String name, boolean accessLog, int maxConnectionsPerClient) {
    /** The default of {@code max_connections}: 8192 file descriptors, and well within the heap. */
    public static final int DEFAULT_MAX_CONNECTIONS = 4096;

    /** 10 s to connect, 10 s to handshake, 10 min idle, 4096 connections. */
    public static final TunnelSettings DEFAULTS =
            new TunnelSettings(Duration.ofSeconds(10), Duration.ofSeconds(10), Duration.ofMinutes(10));

    /** With the default connection limit. */
    public TunnelSettings(Duration connectTimeout, Duration handshakeTimeout, Duration idleTimeout) {
        this(connectTimeout, handshakeTimeout, idleTimeout, DEFAULT_MAX_CONNECTIONS);
    }

    /** Without a name or an access log. */
    public TunnelSettings(Duration connectTimeout, Duration handshakeTimeout, Duration idleTimeout,
                          int maxConnections) {
        this(connectTimeout, handshakeTimeout, idleTimeout, maxConnections, null, false, 0);
    }

    /** Without a per-client limit. */
    public TunnelSettings(Duration connectTimeout, Duration handshakeTimeout, Duration idleTimeout,
                          int maxConnections, String name, boolean accessLog) {
        this(connectTimeout, handshakeTimeout, idleTimeout, maxConnections, name, accessLog, 0);
    }

    /** The tunnel's connection limit, with its per-client part; {@code owner} names it in warnings. */
    ConnectionLimit connectionLimit(Function<Channel, String> owner) {
        return new ConnectionLimit(owner, "max_connections", maxConnections, "max_connections_per_client",
                maxConnectionsPerClient);
    }

    /** How log lines name the tunnel: "tunnel NAME " or, without a name, "tunnel ". */
    String logPrefix() {
        return name == null ? "tunnel " : "tunnel " + name + " ";
    }

    public TunnelSettings {
        Objects.requireNonNull(connectTimeout, "connectTimeout == null");
        Objects.requireNonNull(handshakeTimeout, "handshakeTimeout == null");
        Objects.requireNonNull(idleTimeout, "idleTimeout == null");
        if (connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw new IllegalArgumentException("connectTimeout <= 0");
        }
        if (connectTimeout.toMillis() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("connectTimeout > " + Integer.MAX_VALUE + " ms");
        }
        if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
            throw new IllegalArgumentException("handshakeTimeout <= 0");
        }
        if (idleTimeout.isNegative()) {
            throw new IllegalArgumentException("idleTimeout < 0");
        }
        if (maxConnections < 0) {
            throw new IllegalArgumentException("maxConnections < 0");
        }
        if (maxConnectionsPerClient < 0) {
            throw new IllegalArgumentException("maxConnectionsPerClient < 0");
        }
    }
}
