package io.tlsd.daemon.ipc;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.tlsd.daemon.engine.Acceptor;
import io.tlsd.daemon.engine.Connector;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.daemon.transport.UnixSocketFile;
import io.tlsd.proto.v1.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The application-facing Unix-domain socket. The socket file has mode 0660 (owner and group may
 * connect); see {@link UnixSocketFile} for how it is bound and when an old file is replaced.
 */
public final class IpcServer implements AutoCloseable {

    /**
     * What a session needs to know of its daemon.
     *
     * @param role "client" or "server"
     * @param daemonVersion announced in Welcome
     * @param limits the per-session bounds
     * @param helloTimeout how long a new connection may stay silent before its Hello
     * @param ringDirectory where sessions' write rings are made (see {@code WriteRing.createDirectory}),
     *     or null for none
     * @param writeRingBytes the largest write ring a session gets; 0 for none
     * @param ringMaker where a write ring is made (it writes the whole file: off the event loops);
     *     its task hands the session back to the session's loop
     * @param allowedPeers who may open a session, beyond the socket file's mode
     * @param maxSessions how many sessions may be open at once; one more is refused at its Hello
     *     with {@code Goodbye{LIMIT_EXCEEDED}}
     * @param maxSessionsPerUid how many of them the processes of one user may hold; 0 for no such
     *     limit (it needs the peers' credentials, which only epoll tells). Both at start: a reload
     *     changes them with {@link IpcServer#sessionLimits}
     */
    public record Settings(String role, String daemonVersion, SessionLimits limits, Duration helloTimeout,
                           Path ringDirectory, int writeRingBytes, Executor ringMaker, AllowedPeers allowedPeers,
                           int maxSessions, int maxSessionsPerUid) {
        /** The default of {@code max_sessions}: with the default 4 MiB write ring, 1 GiB of shared memory. */
        public static final int DEFAULT_MAX_SESSIONS = 256;

        /** Without a limit per user. */
        public Settings(String role, String daemonVersion, SessionLimits limits, Duration helloTimeout,
                        Path ringDirectory, int writeRingBytes, Executor ringMaker, AllowedPeers allowedPeers,
                        int maxSessions) {
            this(role, daemonVersion, limits, helloTimeout, ringDirectory, writeRingBytes, ringMaker, allowedPeers,
                    maxSessions, 0);
        }

        /** Settings without write rings. */
        public Settings(String role, String daemonVersion, SessionLimits limits, Duration helloTimeout) {
            this(role, daemonVersion, limits, helloTimeout, null, 0, Runnable::run, AllowedPeers.ANYONE,
                    DEFAULT_MAX_SESSIONS);
        }

        /** Settings for anyone who can open the socket. */
        public Settings(String role, String daemonVersion, SessionLimits limits, Duration helloTimeout,
                        Path ringDirectory, int writeRingBytes, Executor ringMaker) {
            this(role, daemonVersion, limits, helloTimeout, ringDirectory, writeRingBytes, ringMaker,
                    AllowedPeers.ANYONE, DEFAULT_MAX_SESSIONS);
        }

        boolean offersWriteRings() {
            return ringDirectory != null && writeRingBytes > 0;
        }

        /**
         * The same settings with {@code next} as the sessions' limits. Its {@code maxSessions} and
         * {@code maxSessionsPerUid} stay those of the start: only {@link IpcServer#bind} reads them,
         * and a reload changes them in the session slots ({@link IpcServer#sessionLimits}).
         */
        Settings withLimits(SessionLimits next) {
            return new Settings(role, daemonVersion, next, helloTimeout, ringDirectory, writeRingBytes, ringMaker,
                    allowedPeers, maxSessions, maxSessionsPerUid);
        }
    }

    private final Path path;
    private final Channel serverChannel;
    private final ChannelGroup sessions;
    /** Started by {@link #drain}; a session that starts afterwards drains at once. */
    private final DrainDeadline drain;
    private final SessionSlots slots;
    private final IpcChannelInitializer sessionsInit;
    /** Until {@link #drain} or {@link #close}, whichever comes first (they may race). */
    private final AtomicBoolean accepting = new AtomicBoolean(true);

    private IpcServer(Path path, Channel serverChannel, ChannelGroup sessions, DrainDeadline drain,
                      SessionSlots slots, IpcChannelInitializer sessionsInit) {
        this.sessionsInit = sessionsInit;
        this.path = path;
        this.serverChannel = serverChannel;
        this.sessions = sessions;
        this.drain = drain;
        this.slots = slots;
    }

    /**
     * Binds the socket (mode 0660) and starts serving sessions.
     *
     * @param connector opens connections for OPEN (client role), or null
     * @param acceptor hands over clients for ACCEPT (server role), or null
     */
    public static IpcServer bind(Path path, Transport transport, EventLoopGroup boss, EventLoopGroup workers,
                                 Settings settings, Connector connector, Acceptor acceptor,
                                 DaemonCounters counters)
            throws IOException, InterruptedException {
        ChannelGroup sessions = new DefaultChannelGroup("ipc-sessions", GlobalEventExecutor.INSTANCE);
        DrainDeadline drain = new DrainDeadline();
        SessionSlots slots = new SessionSlots(settings.maxSessions(), settings.maxSessionsPerUid());
        IpcChannelInitializer init = new IpcChannelInitializer(settings, connector, acceptor, counters, sessions,
                drain, slots);
        Channel channel = UnixSocketFile.bind(new ServerBootstrap()
                        .group(boss, workers)
                        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(1 << 20, 4 << 20))
                        .childHandler(init),
                transport, path, "rw-rw----");
        return new IpcServer(path, channel, sessions, drain, slots, init);
    }

    /** The per-session {@code limits} of the sessions that connect from now on (a reload); open ones keep theirs. */
    public void limits(SessionLimits next) {
        sessionsInit.limits(next);
    }

    /**
     * {@code max_sessions} and {@code max_sessions_per_uid} for the sessions that begin from now
     * on (a reload); sessions open keep their places.
     */
    public void sessionLimits(int maxSessions, int maxSessionsPerUid) {
        slots.limits(maxSessions, maxSessionsPerUid);
    }

    public Path path() {
        return path;
    }

    /**
     * Stops accepting and removes the socket file, so that a daemon replacing this one can bind
     * the path at once; tells every session that the daemon drains, with the time left ({@code
     * Draining}); sessions with connections go on until they have none ({@code
     * IpcSessionHandler#drain}), the others end now.
     *
     * <p>A session accepted just before, whose channel joins the sessions a moment later, drains
     * as it starts. {@link #sessions()} says when all have ended.
     *
     * @param timeout how long the daemon serves the sessions' connections at most (the caller ends
     *     them then, with {@link #close})
     */
    public void drain(Duration timeout) {
        drain.start(timeout);
        stopAccepting();
        for (Channel ch : sessions) {
            try {
                ch.eventLoop().execute(() -> {
                    IpcSessionHandler handler = ch.pipeline().get(IpcSessionHandler.class);
                    if (handler != null) {
                        handler.drain();
                    } else {
                        ch.close();
                    }
                });
            } catch (RejectedExecutionException e) {
                // the daemon was closed meanwhile (a second signal): the session is gone with its loop
            }
        }
    }

    /** Sessions open now. */
    public int sessions() {
        return sessions.size();
    }

    private void stopAccepting() {
        if (accepting.compareAndSet(true, false)) {
            serverChannel.close().syncUninterruptibly();
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                // nothing left to do about it; the next start replaces a stale file
            }
        }
    }

    /**
     * Stops accepting, says Goodbye to every session, and removes the socket file (unless a drain
     * removed it before: the path may be a successor's by now).
     */
    @Override
    public void close() {
        stopAccepting();
        for (Channel ch : sessions) {
            ch.eventLoop().execute(() -> {
                IpcSessionHandler handler = ch.pipeline().get(IpcSessionHandler.class);
                if (handler != null) {
                    handler.goodbye(Status.UNAVAILABLE, "tlsd is shutting down");
                } else {
                    ch.close();
                }
            });
        }
        sessions.newCloseFuture().awaitUninterruptibly(5_000);
    }
}
