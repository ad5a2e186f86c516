package io.tlsd.daemon.debug;

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
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The debug socket: a line-oriented text protocol on its own Unix-domain socket, for a human with
 * {@code nc -U PATH} or {@code socat - UNIX-CONNECT:PATH}. Each connection to it is one session of
 * the same op engine the IPC socket serves, pinned to one worker loop; see the
 * {@linkplain io.tlsd.daemon.debug package documentation} for the commands.
 *
 * <p><b>It is a backdoor into the daemon</b>: whoever connects can open (or accept) connections
 * with the daemon's trust settings (or keys) and read the daemon-wide counters. So it is off
 * unless asked for, and its socket file has mode {@code 0600}: only the daemon's user (and root)
 * may connect. It is bound by {@link UnixSocketFile}, so the file never exists with a wider mode,
 * not even briefly, and a live socket or a path that is not a socket is never replaced.
 *
 * <pre>{@code
 * try (DebugServer debug = DebugServer.bind(Path.of("/run/tlsd/debug.sock"), transport, control, workers,
 *         new DebugServer.Settings("client", config.limits()), connector, null, counters)) {
 *     ...
 * }
 * }</pre>
 */
public final class DebugServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DebugServer.class);


    /**
     * What a debug session needs to know of its daemon.
     *
     * @param role "client" or "server", for the log
     * @param limits the per-session bounds, the same as IPC sessions get
     * @param maxLineBytes longest command line; a longer one is discarded with an error line
     */
    public record Settings(String role, SessionLimits limits, int maxLineBytes) {
        /** 64 KiB: room for a {@code write} of a typical chunk, small enough not to matter. */
        public static final int DEFAULT_MAX_LINE_BYTES = 64 << 10;

        public Settings {
            Objects.requireNonNull(role, "role == null");
            Objects.requireNonNull(limits, "limits == null");
            if (maxLineBytes < 64) {
                throw new IllegalArgumentException("maxLineBytes < 64");
            }
        }

        public Settings(String role, SessionLimits limits) {
            this(role, limits, DEFAULT_MAX_LINE_BYTES);
        }
    }

    private final Path path;
    private final Channel serverChannel;
    private final ChannelGroup sessions;
    private final AtomicBoolean open = new AtomicBoolean(true);
    private final DebugChannelInitializer sessionsInit;

    private DebugServer(Path path, Channel serverChannel, ChannelGroup sessions, DebugChannelInitializer sessionsInit) {
        this.sessionsInit = sessionsInit;
        this.path = path;
        this.serverChannel = serverChannel;
        this.sessions = sessions;
    }

    /**
     * Binds the debug socket at {@code path} (mode 0600) and starts serving it.
     *
     * @param control the loop that accepts debug connections (the daemon's control loop)
     * @param workers the loops sessions run on; each debug session and its TLS connections use one
     * @param connector opens connections for {@code open} (client role), or null
     * @param acceptor hands over connections for {@code accept} (server role), or null
     * @param counters the daemon's counters: debug sessions count as sessions, and {@code stats}
     *     prints them
     * @throws IOException if the path is taken by a live socket or by something else than a
     *     socket, is too long, or cannot be bound
     */
    public static DebugServer bind(Path path, Transport transport, EventLoopGroup control, EventLoopGroup workers,
                                   Settings settings, Connector connector, Acceptor acceptor,
                                   DaemonCounters counters) throws IOException, InterruptedException {
        Path target = path.toAbsolutePath();
        ChannelGroup sessions = new DefaultChannelGroup("debug-sessions", GlobalEventExecutor.INSTANCE);
        DebugChannelInitializer init = new DebugChannelInitializer(settings, connector, acceptor, counters, sessions);
        Channel channel = UnixSocketFile.bind(new ServerBootstrap()
                        .group(control, workers)
                        // "printf 'stats\n' | nc -N -U PATH": answer after the client's EOF
                        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(64 << 10, 256 << 10))
                        .childHandler(init),
                transport, target, "rw-------");
        log.warn("debug socket for the {} role on {} (mode 0600): whoever can connect to it can use this daemon",
                settings.role(), target);
        return new DebugServer(target, channel, sessions, init);
    }

    /** The per-session {@code limits} of the debug sessions that connect from now on (a reload). */
    public void limits(SessionLimits next) {
        sessionsInit.limits(next);
    }

    public Path path() {
        return path;
    }

    /**
     * Stops accepting and removes the socket file (at once: a daemon replacing this one may bind
     * the path next), tells every debug session the daemon is going away and closes it (which
     * closes its connections). Call before the worker loops stop. Idempotent.
     */
    @Override
    public void close() {
        if (!open.compareAndSet(true, false)) {
            return;
        }
        serverChannel.close().syncUninterruptibly();
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // nothing left to do about it; the next start replaces a stale file
        }
        for (Channel ch : sessions) {
            ch.writeAndFlush("error UNAVAILABLE: tlsd is shutting down").addListener(f -> ch.close());
        }
        sessions.newCloseFuture().awaitUninterruptibly(5_000);
    }
}
