package io.tlsd.it.tunnel;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A plain TCP server on 127.0.0.1, port 0, serving each connection on its own thread with a
 * handler the test writes, the way {@code JsseServer} does for TLS. {@link #close()} fails with
 * the first exception a handler threw, so a backend-side assertion cannot fail silently.
 */
final class PlainBackend implements AutoCloseable {
    private static final long GRACE_MILLIS = 2_000;

    @FunctionalInterface
    interface Handler {
        void handle(Socket socket) throws Exception;
    }

    private final ServerSocket serverSocket;
    private final Handler handler;
    private final Thread acceptor;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    private final List<Throwable> failures = new CopyOnWriteArrayList<>();
    private volatile boolean closing;

    private PlainBackend(ServerSocket serverSocket, Handler handler) {
        this.serverSocket = serverSocket;
        this.handler = handler;
        this.acceptor = new Thread(this::acceptLoop, "plain-backend-" + serverSocket.getLocalPort());
        acceptor.setDaemon(true);
    }

    static PlainBackend start(Handler handler) {
        try {
            PlainBackend backend = new PlainBackend(
                    new ServerSocket(0, 50, InetAddress.getLoopbackAddress()), handler);
            backend.acceptor.start();
            return backend;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Echoes every byte until EOF, then ends its output and closes. */
    static Handler echo() {
        return socket -> {
            socket.getInputStream().transferTo(socket.getOutputStream());
            socket.shutdownOutput();
        };
    }

    /** Reads until EOF, then answers {@code "got N bytes: <text>"} and closes. */
    static Handler replyAfterEof() {
        return socket -> {
            byte[] request = socket.getInputStream().readAllBytes();
            OutputStream out = socket.getOutputStream();
            out.write(("got " + request.length + " bytes: " + new String(request, StandardCharsets.UTF_8))
                    .getBytes(StandardCharsets.UTF_8));
            socket.shutdownOutput();
        };
    }

    InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), serverSocket.getLocalPort());
    }

    private void acceptLoop() {
        while (!serverSocket.isClosed()) {
            Socket socket;
            try {
                socket = serverSocket.accept();
            } catch (IOException e) {
                return; // closed
            }
            sockets.add(socket);
            Thread thread = new Thread(() -> serve(socket), acceptor.getName() + "-" + socket.getPort());
            thread.setDaemon(true);
            threads.add(thread);
            thread.start();
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            socket.setSoTimeout(30_000);
            handler.handle(socket);
            // Wait for the tunnel to close its side: closing with unread bytes would send an RST.
            InputStream in = socket.getInputStream();
            in.transferTo(OutputStream.nullOutputStream());
        } catch (Throwable t) {
            if (!closing) {
                failures.add(t);
            }
        } finally {
            sockets.remove(socket);
            threads.remove(Thread.currentThread());
        }
    }

    @Override
    public void close() {
        try {
            serverSocket.close();
        } catch (IOException e) {
            // best effort
        }
        try {
            long deadline = System.currentTimeMillis() + GRACE_MILLIS;
            for (Thread thread : threads) {
                thread.join(Math.max(1, deadline - System.currentTimeMillis()));
            }
            closing = true;
            for (Socket socket : sockets) {
                try {
                    socket.close();
                } catch (IOException e) {
                    // best effort
                }
            }
            for (Thread thread : threads) {
                thread.join(GRACE_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!failures.isEmpty()) {
            AssertionError error = new AssertionError("a PlainBackend handler failed", failures.get(0));
            failures.subList(1, failures.size()).forEach(error::addSuppressed);
            throw error;
        }
    }
}
