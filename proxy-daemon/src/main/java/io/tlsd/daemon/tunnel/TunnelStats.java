package io.tlsd.daemon.tunnel;

/**
 * What a tunnel carries now and what it has carried since it started, for its metrics. The far
 * end is the target of a client tunnel and the backend of a server tunnel. A failed connection
 * counts once, as a dial or as a handshake failure, whichever came first.
 *
 * @param connections connections carried now
 * @param refused connections closed as soon as accepted, because {@code max_connections} were carried
 * @param dialFailures connections closed because the far end could not be resolved or connected to
 * @param handshakeFailures connections closed because their TLS handshake failed: with the
 *     target (client tunnel: e.g. its certificate was rejected) or with the client (server
 *     tunnel; not a client that closed the connection during it, such as a TCP health check)
 * @param bytesFromClients plaintext bytes relayed from the tunnel's clients to the far end (once
 *     written to its socket)
 * @param bytesToClients plaintext bytes relayed from the far end to the clients
 */
public record TunnelStats(int connections, long refused, long dialFailures, long handshakeFailures,
                          long bytesFromClients, long bytesToClients) {
}
