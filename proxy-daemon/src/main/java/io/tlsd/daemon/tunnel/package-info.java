/**
 * Plaintext ↔ TLS tunnels, stunnel style: {@link io.tlsd.daemon.tunnel.ClientTunnel} accepts
 * plain TCP and connects with TLS to a target; {@link io.tlsd.daemon.tunnel.ServerTunnel}
 * accepts TLS and connects plain TCP to a backend, optionally announcing the client with a
 * PROXY protocol v2 header. Both take their timeouts from
 * {@link io.tlsd.daemon.tunnel.TunnelSettings}.
 *
 * <p>Every tunnelled connection is a pair of channels on one event loop, relayed with Netty's
 * proxy-style backpressure (read the next chunk once the previous one was written) and with
 * half-closes carried across: a FIN becomes a close_notify and a close_notify a FIN, while a TLS
 * FIN without close_notify, or any error, resets both ends ({@code Relay}).
 */
package io.tlsd.daemon.tunnel;
