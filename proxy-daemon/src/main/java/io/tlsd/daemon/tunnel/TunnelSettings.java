package io.tlsd.daemon.tunnel;

import java.time.Duration;
import java.util.Objects;

/**
 * The timeouts of a {@link ClientTunnel} or {@link ServerTunnel}.
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
 */
public record TunnelSettings(Duration connectTimeout, Duration handshakeTimeout, Duration idleTimeout) {
    /** 10 s to connect, 10 s to handshake, 10 min idle. */
    public static final TunnelSettings DEFAULTS =
            new TunnelSettings(Duration.ofSeconds(10), Duration.ofSeconds(10), Duration.ofMinutes(10));

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
    }
}
