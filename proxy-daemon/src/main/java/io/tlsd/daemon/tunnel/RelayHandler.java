package io.tlsd.daemon.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;

/**
 * The last handler of either end's pipeline: turns what Netty reports on that channel into the
 * {@link Relay}'s terms (bytes read, input ended cleanly or truncated, failed, closed, idle).
 */
final class RelayHandler extends ChannelInboundHandlerAdapter {
    private final Relay relay;
    private final End end;

    RelayHandler(Relay relay, End end) {
        this.relay = relay;
        this.end = end;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (end.isTls()) {
            // Nothing reads by itself (AUTO_READ=false): this first read lets the handshake in;
            // SslHandler then keeps reading until the handshake is done.
            ctx.read();
        }
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf data) {
            relay.read(end, data);
        } else {
            ReferenceCountUtil.release(msg);
            throw new AssertionError("unexpected type: " + msg.getClass().getName());
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // A close_notify decoded in this read: the engine knows, but SslHandler does not always
        // say so with an event (see End.Tls#receivedCloseNotify).
        if (end.receivedCloseNotify()) {
            relay.closeNotifyReceived(end);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            // A TCP FIN. On TLS it is a clean end only after a close_notify.
            if (end.receivedCloseNotify()) {
                relay.closeNotifyReceived(end);
            } else if (!end.isTls()) {
                relay.inputEnded(end);
            } else {
                relay.inputTruncated(end);
            }
        } else if (evt instanceof SslCloseCompletionEvent close) {
            if (close.isSuccess() && end.receivedCloseNotify()) {
                relay.closeNotifyReceived(end);
            } // a failed one comes with channelInactive or exceptionCaught
        } else if (evt instanceof IdleStateEvent) {
            relay.idle();
        } else if (!(evt instanceof ChannelInputShutdownReadComplete || evt instanceof SslHandshakeCompletionEvent)) {
            ctx.fireUserEventTriggered(evt); // the tunnel awaits the handshake through its future
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        relay.failed(end, cause);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        relay.inactive(end);
    }
}
