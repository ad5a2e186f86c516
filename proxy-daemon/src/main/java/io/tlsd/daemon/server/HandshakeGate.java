package io.tlsd.daemon.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.tlsd.daemon.tls.ConnectionInfos;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last handler of an accepted connection until an application takes it: it tells the
 * listener when the handshake is done, keeps the bytes the client sent with its last handshake
 * flight (nothing more is read until the hand-over), and makes way for the op engine.
 */
final class HandshakeGate extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(HandshakeGate.class);

    private final TlsListener listener;
    private final List<ByteBuf> early = new ArrayList<>();
    private String serverName = "";
    private boolean handshakeDone;

    HandshakeGate(TlsListener listener) {
        this.listener = listener;
    }

    String serverName() {
        return serverName;
    }

    TlsListener listener() {
        return listener;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.read(); // AUTO_READ is off; the TLS handlers keep reading until the handshake is done
        ctx.fireChannelActive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SniCompletionEvent sni && sni.hostname() != null) {
            serverName = sni.hostname();
        } else if (evt instanceof SslHandshakeCompletionEvent done) {
            if (done.isSuccess()) {
                handshakeDone = true;
                listener.ready(ctx.channel());
            } else {
                listener.handshakeFailed();
                log.info("listener {}: handshake with {} failed: {}", listener.name(),
                        ConnectionInfos.addressString(ctx.channel().remoteAddress()), reason(done.cause()));
                ctx.close();
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    private static String reason(Throwable cause) {
        Throwable t = cause;
        while (t.getCause() != null && t.getMessage() == null) {
            t = t.getCause();
        }
        return t.getMessage() != null ? t.getMessage() : t.toString();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        early.add((ByteBuf) msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("listener {}: {}: {}", listener.name(), ctx.channel(), cause.toString());
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (handshakeDone) {
            listener.gone(ctx.channel());
        }
        releaseEarly();
        ctx.fireChannelInactive();
    }

    /** Puts {@code next} in this handler's place and passes it what arrived early. */
    void handOverTo(ChannelHandlerContext ctx, ChannelHandler next) {
        ctx.pipeline().replace(this, "connection", next);
        ChannelHandlerContext tls = ctx.pipeline().context(SslHandler.class);
        for (ByteBuf buf : early) {
            tls.fireChannelRead(buf);
        }
        early.clear();
    }

    private void releaseEarly() {
        for (ByteBuf buf : early) {
            buf.release();
        }
        early.clear();
    }
}
