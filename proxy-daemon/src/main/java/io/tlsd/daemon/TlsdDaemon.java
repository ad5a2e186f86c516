package io.tlsd.daemon;

import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.ipc.IpcServer;
import io.tlsd.daemon.server.ListenerSet;
import io.tlsd.daemon.tls.ClientTlsContexts;
import io.tlsd.daemon.tls.TicketKeys;
import io.tlsd.daemon.tls.TlsConnector;
import io.tlsd.daemon.transport.Transport;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running daemon of either role: one control loop accepting IPC sessions (and, for the server
 * role, TLS clients), worker loops (one per core by default) running sessions and their TLS
 * connections.
 *
 * <pre>{@code
 * try (TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder().socket(path).build())) {
 *     daemon.awaitTermination();
 * }
 * }</pre>
 */
public final class TlsdDaemon implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TlsdDaemon.class);

    private final DaemonConfig config;
    private final EventLoopGroup control;
    private final EventLoopGroup workers;
    private final ExecutorService resolver;
    private final DaemonCounters counters = new DaemonCounters();
    private final IpcServer ipc;
    private final ListenerSet listeners;
    private final Object closeLock = new Object();
    private boolean closed;

    private TlsdDaemon(DaemonConfig config) throws Exception {
        this.config = config;
        Transport transport = Transport.select(config.transport());
        boolean server = config.role() == DaemonConfig.Role.SERVER;
        ClientTlsContexts contexts = server ? null
                : new ClientTlsContexts(config.tlsProvider(), config.caFile(), config.tlsProtocols());
        control = transport.newGroup(1, new DefaultThreadFactory("tlsd-control"));
        workers = transport.newGroup(config.workerThreads(), new DefaultThreadFactory("tlsd-worker"));
        resolver = Executors.newFixedThreadPool(2, new DefaultThreadFactory("tlsd-resolver", true));
        ListenerSet bound = null;
        try {
            IpcServer.Settings settings = new IpcServer.Settings(config.role().wireName(), "tlsd " + Version.VERSION,
                    config.limits(), config.helloTimeout());
            if (server) {
                TicketKeys tickets = new TicketKeys(3);
                bound = ListenerSet.bind(config.listeners(), config.tlsProtocols(), config.tlsProvider(), tickets,
                        transport, control, workers);
                long every = config.ticketKeyRotation().toMillis();
                control.scheduleAtFixedRate(tickets::rotate, every, every, TimeUnit.MILLISECONDS);
                ipc = IpcServer.bind(config.socket(), transport, control, workers, settings, null, bound, counters);
            } else {
                TlsConnector connector = new TlsConnector(transport, contexts, config.connectTimeout(),
                        config.handshakeTimeout(), resolver);
                ipc = IpcServer.bind(config.socket(), transport, control, workers, settings, connector, null, counters);
            }
        } catch (Exception | Error e) {
            if (bound != null) {
                bound.close();
            }
            shutdownLoops();
            throw e;
        }
        listeners = bound;
        log.info("tlsd {} {} daemon listening on {} (transport {}, {} workers, TLS {} via {}{})",
                Version.VERSION, config.role().wireName(), config.socket(), transport.name().toLowerCase(),
                config.workerThreads(), config.tlsProtocols(), config.tlsProvider(),
                server ? "" : ", trust " + (config.caFile() == null ? "JDK trust store" : config.caFile()));
    }

    /** Binds the IPC socket and starts serving; fails if the socket is held by a live daemon. */
    public static TlsdDaemon start(DaemonConfig config) throws Exception {
        return new TlsdDaemon(config);
    }

    public Path socketPath() {
        return ipc.path();
    }

    public DaemonConfig config() {
        return config;
    }

    /** Server role: where a listener is bound (useful when configured with port 0). */
    public java.net.InetSocketAddress listenerAddress(String name) {
        if (listeners == null) {
            throw new IllegalStateException("the client role has no listeners");
        }
        return listeners.localAddress(name);
    }

    public DaemonCounters.Snapshot stats() {
        return counters.snapshot();
    }

    /** Blocks until {@link #close()} ran (from another thread or a shutdown hook). */
    public void awaitTermination() throws InterruptedException {
        synchronized (closeLock) {
            while (!closed) {
                closeLock.wait();
            }
        }
    }

    /** Says Goodbye to every session, closes every connection, removes the socket. Idempotent. */
    @Override
    public void close() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
            closeLock.notifyAll();
        }
        if (listeners != null) {
            listeners.close();
        }
        ipc.close();
        shutdownLoops();
        log.info("tlsd stopped");
    }

    private void shutdownLoops() {
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        control.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        resolver.shutdownNow();
    }
}
