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
import io.tlsd.proto.v1.Status;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

/**
 * The application-facing Unix-domain socket. The socket file is created with mode 0660 (owner
 * and group may connect); a stale file from a crashed daemon is replaced, a live daemon's is not.
 */
public final class IpcServer implements AutoCloseable {

    /**
     * What a session needs to know of its daemon. {@code connector} (client role) or
     * {@code acceptor} (server role) may be null.
     *
     * @param role "client" or "server"
     * @param daemonVersion announced in Welcome
     * @param limits the per-session bounds
     * @param helloTimeout how long a new connection may stay silent before its Hello
     */
    public record Settings(String role, String daemonVersion, SessionLimits limits, Duration helloTimeout) {
    }

    private final Path path;
    private final Channel serverChannel;
    private final ChannelGroup sessions;

    private IpcServer(Path path, Channel serverChannel, ChannelGroup sessions) {
        this.path = path;
        this.serverChannel = serverChannel;
        this.sessions = sessions;
    }

    public static IpcServer bind(Path path, Transport transport, EventLoopGroup boss, EventLoopGroup workers,
                                 Settings settings, Connector connector, Acceptor acceptor,
                                 DaemonCounters counters)
            throws IOException, InterruptedException {
        prepareSocketPath(path);
        ChannelGroup sessions = new DefaultChannelGroup("ipc-sessions", GlobalEventExecutor.INSTANCE);
        Channel channel = new ServerBootstrap()
                .group(boss, workers)
                .channel(transport.domainServerChannel())
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(1 << 20, 4 << 20))
                .childHandler(new IpcChannelInitializer(settings, connector, acceptor, counters, sessions))
                .bind(transport.domainAddress(path))
                .sync()
                .channel();
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw----"));
        return new IpcServer(path, channel, sessions);
    }

    private static void prepareSocketPath(Path path) throws IOException {
        Path dir = path.toAbsolutePath().getParent();
        if (dir != null && !Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rwxr-x---")));
        }
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            if (!isSocket(path)) {
                throw new IOException(path + " exists and is not a socket; not replacing it");
            }
            if (isLive(path)) {
                throw new IOException("another daemon is listening on " + path);
            }
            Files.delete(path); // left by a daemon that crashed
        }
    }

    private static boolean isSocket(Path path) throws IOException {
        int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return (mode & 0170000) == 0140000; // S_IFSOCK
    }

    private static boolean isLive(Path path) {
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public Path path() {
        return path;
    }

    /** Stops accepting, says Goodbye to every session, and removes the socket file. */
    @Override
    public void close() {
        serverChannel.close().syncUninterruptibly();
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
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // nothing left to do about it; the next start replaces a stale file
        }
    }
}
