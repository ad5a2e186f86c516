package io.tlsd.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * A TLS 1.3 server on {@code 127.0.0.1}, port 0, built on the JDK's own TLS stack (JSSE), whose
 * connections a test scripts step by step, including how each one ends: with a
 * {@code close_notify}, with a bare TCP FIN, or with a TCP RST. openssl and gnutls cannot be made
 * to end a connection in each of these ways on demand.
 *
 * <pre>{@code
 * try (JsseServer server = JsseServer.start(pki.issueServer("localhost"), connection -> {
 *     connection.in().readNBytes(5);
 *     connection.reset(); // RST, no close_notify: the client's next read fails with a reset
 * })) {
 *     connectTo("localhost", server.port());
 * }
 * }</pre>
 *
 * <p>Telling these endings apart takes a client that reports them: the JDK 17 {@code SSLSocket}
 * client reads -1 both after a {@code close_notify} and after a bare FIN, and throws
 * {@code SocketException: Connection reset} only for the RST. {@code openssl s_client -msg}
 * prints a received {@code close_notify}, "unexpected eof while reading" for a bare FIN and
 * {@code errno=104} for an RST (this module's tests rely on that).
 *
 * <p>Each accepted connection runs the handler on its own thread. A connection the handler leaves
 * open is closed with {@code close_notify}. If a handler throws, {@link #close()} fails with that
 * exception, so a server-side assertion cannot fail silently; a handler that expects the client to
 * misbehave catches what it expects. Close the client before the server (in try-with-resources,
 * declare the server first) so that handlers can finish on their own.
 */
public final class JsseServer implements AutoCloseable {
    /** How long a closing connection waits for the client to close its side before closing anyway. */
    private static final int LINGER_FOR_CLIENT_MILLIS = 5_000;
    /** How long {@link #close()} lets handlers finish on their own, before and after aborting them. */
    private static final long HANDLER_GRACE_MILLIS = 2_000;

    /** What the server does with one accepted connection. */
    @FunctionalInterface
    public interface Handler {
        /** Serves {@code connection}; may end it with one of its close methods. */
        void handle(Connection connection) throws Exception;
    }

    private final ServerSocket serverSocket;
    private final SSLContext sslContext;
    private final Handler handler;
    private final Thread acceptor;
    private final Set<Socket> openSockets = ConcurrentHashMap.newKeySet();
    private final Set<Thread> connectionThreads = ConcurrentHashMap.newKeySet();
    private final List<Throwable> failures = new CopyOnWriteArrayList<>();
    /** Set once {@link #close()} starts closing connections under running handlers. */
    private volatile boolean aborting;

    private JsseServer(ServerSocket serverSocket, SSLContext sslContext, Handler handler) {
        this.serverSocket = serverSocket;
        this.sslContext = sslContext;
        this.handler = handler;
        this.acceptor = new Thread(this::acceptLoop, "jsse-server-" + serverSocket.getLocalPort());
        acceptor.setDaemon(true);
    }

    /** Starts a server presenting {@code cert} (leaf and CA) and serving every connection with {@code handler}. */
    public static JsseServer start(Issued cert, Handler handler) {
        try {
            KeyStore keyStore = KeyStore.getInstance("PKCS12");
            keyStore.load(null, null);
            char[] password = "unused".toCharArray();
            keyStore.setKeyEntry("server", cert.privateKey(), password, cert.chain().toArray(Certificate[]::new));
            KeyManagerFactory keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keyManagers.init(keyStore, password);
            SSLContext sslContext = SSLContext.getInstance("TLSv1.3");
            sslContext.init(keyManagers.getKeyManagers(), null, null);
            ServerSocket serverSocket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            JsseServer server = new JsseServer(serverSocket, sslContext, handler);
            server.acceptor.start();
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot set up JSSE with the issued key", e);
        }
    }

    /** A handler that echoes every byte until the client closes, then closes with {@code close_notify}. */
    public static Handler echo() {
        return connection -> {
            connection.in().transferTo(connection.out());
            connection.closeWithCloseNotify();
        };
    }

    /** The port on {@code 127.0.0.1}. */
    public int port() {
        return serverSocket.getLocalPort();
    }

    private void acceptLoop() {
        while (!serverSocket.isClosed()) {
            Socket tcp;
            try {
                tcp = serverSocket.accept();
            } catch (IOException e) {
                return; // closed by close()
            }
            openSockets.add(tcp);
            Thread thread = new Thread(() -> serve(tcp), acceptor.getName() + "-connection-" + tcp.getPort());
            thread.setDaemon(true);
            connectionThreads.add(thread);
            thread.start();
        }
    }

    private void serve(Socket tcp) {
        Connection connection = null;
        try {
            // Layered over a TCP socket we keep, so that the close methods can bypass TLS.
            SSLSocket tls = (SSLSocket) sslContext.getSocketFactory().createSocket(tcp, null, false);
            tls.setEnabledProtocols(new String[] {"TLSv1.3"});
            connection = new Connection(tcp, tls);
            handler.handle(connection);
            if (!connection.ended) {
                connection.closeWithCloseNotify();
            }
        } catch (Throwable t) {
            if (!aborting) {
                failures.add(t);
            }
        } finally {
            closeQuietly(tcp);
            openSockets.remove(tcp);
            connectionThreads.remove(Thread.currentThread());
        }
    }

    /**
     * Stops accepting, gives running handlers 2 s to finish, then closes the connections still
     * open abruptly and waits for their handlers. Exceptions that the abrupt close causes in
     * handlers are not failures.
     *
     * @throws AssertionError if a handler threw before that; the first exception is the cause,
     *     the others are suppressed
     */
    @Override
    public void close() {
        closeQuietly(serverSocket);
        try {
            acceptor.join(HANDLER_GRACE_MILLIS);
            awaitHandlers(HANDLER_GRACE_MILLIS);
            aborting = true;
            openSockets.forEach(JsseServer::closeQuietly);
            awaitHandlers(HANDLER_GRACE_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!failures.isEmpty()) {
            AssertionError error = new AssertionError("a JsseServer handler failed", failures.get(0));
            failures.subList(1, failures.size()).forEach(error::addSuppressed);
            throw error;
        }
    }

    private void awaitHandlers(long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000;
        for (Thread thread : connectionThreads) {
            thread.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
        }
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            // Closing is best effort; the interesting failure, if any, was recorded earlier.
        }
    }

    @Override
    public String toString() {
        return "JsseServer on 127.0.0.1:" + port();
    }

    /** One accepted connection, handed to a {@link Handler}. */
    public static final class Connection {
        private final Socket tcp;
        private final SSLSocket tls;
        private boolean ended;

        private Connection(Socket tcp, SSLSocket tls) {
            this.tcp = tcp;
            this.tls = tls;
        }

        /** The TLS socket, e.g. to inspect the session after {@code startHandshake()}. */
        public SSLSocket socket() {
            return tls;
        }

        /** Decrypted bytes from the client; the first read runs the handshake. */
        public InputStream in() throws IOException {
            return tls.getInputStream();
        }

        /** Bytes to encrypt and send to the client. */
        public OutputStream out() throws IOException {
            return tls.getOutputStream();
        }

        /**
         * Ends the connection cleanly: sends {@code close_notify}, then a TCP FIN, then waits up
         * to 5 s for the client to close its side before closing the socket.
         */
        public void closeWithCloseNotify() throws IOException {
            ended = true;
            // Not tls.close(): in TLS 1.3 JSSE's close() sends a user_canceled alert before the
            // close_notify; shutdownOutput() sends the close_notify alone.
            tls.shutdownOutput();
            finishWithFin();
        }

        /**
         * Ends the connection with a TCP FIN and no {@code close_notify}, like a peer that
         * crashed or a truncation attack; the client must treat the data as possibly truncated.
         */
        public void closeWithoutCloseNotify() throws IOException {
            ended = true;
            finishWithFin();
        }

        /**
         * Ends the connection with a TCP RST (SO_LINGER 0) and no {@code close_notify}. Bytes
         * written just before may never reach the client application: observed with
         * {@code openssl s_client}, which reported the reset but not the last record.
         */
        public void reset() throws IOException {
            ended = true;
            tcp.setSoLinger(true, 0);
            tcp.close();
        }

        private void finishWithFin() throws IOException {
            tcp.shutdownOutput();
            // Closing a socket with unread bytes makes the kernel send an RST instead of a FIN,
            // which would turn a clean close into a reset; so read until the client closes too.
            tcp.setSoTimeout(LINGER_FOR_CLIENT_MILLIS);
            try {
                tcp.getInputStream().transferTo(OutputStream.nullOutputStream());
            } catch (SocketTimeoutException | SocketException e) {
                // The client kept its side open, or JsseServer.close() closed the socket.
            }
            tcp.close();
        }
    }
}
