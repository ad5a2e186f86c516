package io.tlsd.daemon.tls;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.tlsd.daemon.engine.Connector;
import io.tlsd.daemon.engine.Failure;
import io.tlsd.daemon.transport.HostResolver;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.proto.v1.ConnectionInfo;
import io.tlsd.proto.v1.Open;
import io.tlsd.proto.v1.Status;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import javax.net.ssl.SSLException;

/**
 * Opens client TLS connections: resolve (off the loop, since the JDK resolver blocks), connect,
 * handshake with chain and hostname verification, then hand the channel to the session.
 */
public final class TlsConnector implements Connector {
    private final Transport transport;
    private final ClientTlsContexts contexts;
    private final Duration connectTimeout;
    private final Duration handshakeTimeout;
    private final HostResolver resolver;

    public TlsConnector(Transport transport, ClientTlsContexts contexts, Duration connectTimeout,
                        Duration handshakeTimeout, HostResolver resolver) {
        this.transport = transport;
        this.contexts = contexts;
        this.connectTimeout = connectTimeout;
        this.handshakeTimeout = handshakeTimeout;
        this.resolver = resolver;
    }

    @Override
    public Future<Channel> connect(Open open, EventLoop loop, ChannelHandler handler) {
        Promise<Channel> promise = loop.newPromise();
        String host = open.getHost();
        String serverName = open.getServerName().isEmpty() ? host : open.getServerName();
        SslContext context;
        try {
            context = contexts.forAlpn(open.getAlpnList());
        } catch (SSLException | RuntimeException e) {
            return promise.setFailure(new Failure(Status.BAD_REQUEST, "cannot offer ALPN "
                    + open.getAlpnList() + ": " + e.getMessage()));
        }
        resolver.resolve(host, loop).addListener(f -> {
            if (f.isSuccess()) {
                connect(loop, promise, (InetAddress) f.getNow(), open.getPort(), serverName, context, handler);
            } else {
                promise.tryFailure(new Failure(Status.CONNECT_FAILED, f.cause().getMessage()));
            }
        });
        return promise;
    }

    private void connect(EventLoop loop, Promise<Channel> promise, InetAddress address, int port,
                         String serverName, SslContext context, ChannelHandler handler) {
        if (promise.isDone()) {
            return; // cancelled while resolving
        }
        String target = NetUtil.toSocketAddressString(new InetSocketAddress(address, port));
        SslHandler[] tls = new SslHandler[1];
        ChannelFuture connected = new Bootstrap()
                .group(loop)
                .channel(transport.socketChannel())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        tls[0] = context.newHandler(ch.alloc(), serverName, port);
                        tls[0].setHandshakeTimeoutMillis(handshakeTimeout.toMillis());
                        ch.pipeline()
                                .addLast("tls", tls[0])            // encrypts, decrypts, verifies the peer
                                .addLast("connection", handler);   // the session's op engine
                    }
                })
                .connect(new InetSocketAddress(address, port));
        Channel ch = connected.channel();
        promise.addListener(f -> {
            if (f.isCancelled()) {
                ch.close();
            }
        });
        connected.addListener(f -> {
            if (!f.isSuccess()) {
                promise.tryFailure(new Failure(Status.CONNECT_FAILED,
                        "cannot connect to " + target + ": " + f.cause().getMessage()));
                return;
            }
            tls[0].handshakeFuture().addListener(h -> {
                if (h.isSuccess()) {
                    if (!promise.trySuccess(ch)) {
                        ch.close();
                    }
                } else {
                    promise.tryFailure(TlsFailures.ofHandshake(h.cause(), serverName));
                    ch.close();
                }
            });
        });
    }

    @Override
    public ConnectionInfo describe(Channel ch, long connectionId) {
        String peerHost = ch.pipeline().get(SslHandler.class).engine().getPeerHost();
        return ConnectionInfos.of(ch, connectionId).setServerName(peerHost == null ? "" : peerHost).build();
    }
}
