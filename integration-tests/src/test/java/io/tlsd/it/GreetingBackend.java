package io.tlsd.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A plain TCP backend on loopback that writes one line to each connection and closes it, so that
 * a TLS client in front of a server tunnel sees it got through; until {@link #close()}.
 */
final class GreetingBackend implements AutoCloseable {
    private final ServerSocket socket;
    private final String line;
    private final Thread acceptor;

    GreetingBackend(String line) {
        try {
            socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.line = line;
        acceptor = new Thread(this::greetEach, "greeting-backend-" + socket.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return socket.getLocalPort();
    }

    private void greetEach() {
        while (!socket.isClosed()) {
            try (Socket s = socket.accept()) {
                s.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        try {
            socket.close();
        } catch (IOException e) {
            // closing anyway
        }
        acceptor.join(5_000);
    }
}
