package io.tlsd.daemon.server;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.tlsd.daemon.tls.ConnectionInfos;
import io.tlsd.daemon.transport.ProxyProtocolIn;
import io.tlsd.daemon.tls.HandOverGate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last handler of an accepted connection until an application takes it: it tells the
 * listener when the handshake is done, keeps the bytes the client sent with its last handshake
 * flight, and makes way for the op engine ({@link HandOverGate}).
 */
final class HandshakeGate extends HandOverGate {
    private static final Logger log = LoggerFactory.getLogger(HandshakeGate.class);

    private final TlsListener listener;
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
        if (evt instanceof SniCompletionEvent sni) {
            if (sni.cause() != null) {
                // no usable ClientHello: silent past the handshake timeout, or not TLS at all
                failed(ctx, sni.cause());
            } else if (sni.hostname() != null) {
                serverName = sni.hostname();
            }
        } else if (evt instanceof SslHandshakeCompletionEvent done) {
            if (done.isSuccess()) {
                handshakeDone = true;
                listener.ready(ctx.channel());
            } else {
                failed(ctx, done.cause());
            }
        }
        super.userEventTriggered(ctx, evt);
    }

    private void failed(ChannelHandlerContext ctx, Throwable cause) {
        listener.handshakeFailed();
        log.info("listener {}: handshake with {} failed: {}", listener.name(),
                ConnectionInfos.addressString(ProxyProtocolIn.clientOf(ctx.channel())), reason(cause));
        ctx.close();
    }

    /**
     * The deepest message of {@code cause}'s chain: BoringSSL's verification failure wraps the
     * trust manager's reason (e.g. which certificate was refused) as its cause.
     */
    private static String reason(Throwable cause) {
        String message = null;
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t.getMessage() != null) {
                message = t.getMessage();
            }
        }
        return message != null ? message : cause.toString();
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
        super.channelInactive(ctx);
    }
}
