package io.tlsd.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;

/**
 * Picks a TCP port on 127.0.0.1 that was free a moment ago, for programs that must be told a port
 * instead of binding port 0 themselves (openssl, gnutls-serv, stunnel).
 *
 * <p>The port is released before it is returned, so another process may take it in between:
 * callers that start a child on it must detect "address in use" and retry with a new port, as
 * {@link TlsPeer} does. Code that can bind port 0 itself should do that instead.
 *
 * <pre>{@code
 * int port = FreePorts.loopback();
 * }</pre>
 */
public final class FreePorts {
    private FreePorts() {
    }

    /** A port number that nothing was listening on at 127.0.0.1 when this method returned. */
    public static int loopback() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free loopback port", e);
        }
    }
}
