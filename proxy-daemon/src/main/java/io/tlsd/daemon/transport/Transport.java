package io.tlsd.daemon.transport;

import io.netty.channel.Channel;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.PeerCredentials;
import java.io.IOException;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.ThreadFactory;

/**
 * The I/O transport: native epoll where it loads (Linux), NIO elsewhere. Both serve Unix-domain
 * sockets; only epoll can tell the peer's uid and pid.
 */
public enum Transport {
    EPOLL {
        @Override
        IoHandlerFactory ioHandlerFactory() {
            return EpollIoHandler.newFactory();
        }

        @Override
        public Class<? extends ServerChannel> domainServerChannel() {
            return EpollServerDomainSocketChannel.class;
        }

        @Override
        public Class<? extends Channel> socketChannel() {
            return EpollSocketChannel.class;
        }

        @Override
        public Class<? extends ServerChannel> serverSocketChannel() {
            return EpollServerSocketChannel.class;
        }

        @Override
        public SocketAddress domainAddress(Path path) {
            return new DomainSocketAddress(path.toFile());
        }
    },
    NIO {
        @Override
        IoHandlerFactory ioHandlerFactory() {
            return NioIoHandler.newFactory();
        }

        @Override
        public Class<? extends ServerChannel> domainServerChannel() {
            return NioServerDomainSocketChannel.class;
        }

        @Override
        public Class<? extends Channel> socketChannel() {
            return NioSocketChannel.class;
        }

        @Override
        public Class<? extends ServerChannel> serverSocketChannel() {
            return NioServerSocketChannel.class;
        }

        @Override
        public SocketAddress domainAddress(Path path) {
            return UnixDomainSocketAddress.of(path);
        }
    };

    abstract IoHandlerFactory ioHandlerFactory();

    public abstract Class<? extends ServerChannel> domainServerChannel();

    public abstract Class<? extends Channel> socketChannel();

    public abstract Class<? extends ServerChannel> serverSocketChannel();

    public abstract SocketAddress domainAddress(Path path);

    public MultiThreadIoEventLoopGroup newGroup(int threads, ThreadFactory threadFactory) {
        return new MultiThreadIoEventLoopGroup(threads, threadFactory, ioHandlerFactory());
    }

    /**
     * Loops that poll for I/O for up to {@code busyPoll} (adaptively, see {@link BusyPollStrategy})
     * before they block; with epoll only, NIO loops always block. Zero: {@link #newGroup}.
     */
    public MultiThreadIoEventLoopGroup newGroup(int threads, ThreadFactory threadFactory, Duration busyPoll) {
        if (this != EPOLL || busyPoll.isZero()) {
            return newGroup(threads, threadFactory);
        }
        long window = busyPoll.toNanos();
        // one strategy per loop: each adapts its own window
        return new MultiThreadIoEventLoopGroup(threads, threadFactory,
                EpollIoHandler.newFactory(0, () -> new BusyPollStrategy(window)));
    }

    /** "uid 1000 gid 1000", or "a process whose credentials are unknown": who a refusal names. */
    public static String who(PeerCredentials creds) {
        return creds == null ? "a process whose credentials are unknown" : "uid " + creds.uid() + " gid " + creds.gids()[0];
    }

    /** "uid=1000 gid=1000 pid=4242", or "peer credentials unavailable" for null: for log lines. */
    public static String describe(PeerCredentials creds) {
        return creds == null ? "peer credentials unavailable"
                : "uid=" + creds.uid() + " gid=" + creds.gids()[0] + " pid=" + creds.pid();
    }

    /** The kernel's credentials of an epoll domain-socket peer ({@code SO_PEERCRED}), else null. */
    public static PeerCredentials credentialsOf(Channel channel) {
        if (channel instanceof EpollDomainSocketChannel domain) {
            try {
                return domain.peerCredentials();
            } catch (IOException | RuntimeException e) {
                return null;
            }
        }
        return null;
    }

    /**
     * {@code auto} picks epoll when its native library loads; naming {@code epoll} when it does
     * not is an error that says why.
     */
    public static Transport select(String name) {
        switch (name.toLowerCase(Locale.ROOT)) {
            case "auto":
                return Epoll.isAvailable() ? EPOLL : NIO;
            case "epoll":
                if (!Epoll.isAvailable()) {
                    throw new IllegalArgumentException("transport epoll is not available: "
                            + Epoll.unavailabilityCause());
                }
                return EPOLL;
            case "nio":
                return NIO;
            default:
                throw new IllegalArgumentException("unknown transport '" + name + "' (auto, epoll, nio)");
        }
    }
}
