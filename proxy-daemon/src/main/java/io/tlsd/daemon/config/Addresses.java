package io.tlsd.daemon.config;

import java.net.InetSocketAddress;

/** Parses the {@code HOST:PORT} forms an operator writes: {@code 127.0.0.1:8443}, {@code [::1]:8443}, {@code :8443}. */
public final class Addresses {
    private Addresses() {
    }

    /** An address to bind: an empty host means every address. Not resolved beyond literals and names. */
    public static InetSocketAddress parse(String text) {
        InetSocketAddress parsed = unresolved(text);
        return parsed.getHostString().isEmpty() ? new InetSocketAddress(parsed.getPort())
                : new InetSocketAddress(parsed.getHostString(), parsed.getPort());
    }

    /** A host and port as written, not resolved (a target resolved for each connection). */
    public static InetSocketAddress unresolved(String text) {
        int colon = text.lastIndexOf(':');
        if (colon < 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("expected HOST:PORT, got '" + text + "'");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("port '" + text.substring(colon + 1) + "' in '" + text + "' is not a number");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " in '" + text + "' is not in 0..65535");
        }
        return InetSocketAddress.createUnresolved(host, port);
    }
}
