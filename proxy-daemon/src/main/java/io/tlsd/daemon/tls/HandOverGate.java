package io.tlsd.daemon.tls;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import java.util.ArrayList;
import java.util.List;

/**
 * The last handler of a TLS channel while it handshakes on one event loop before it moves to the
 * loop of the session that will own it. It keeps what the peer sent with its last handshake
 * flight and until the move: application bytes, a close_notify, the end of its input (nothing
 * more is read until the hand-over), and then makes way for the op engine, replaying them to it
 * in the order they came.
 */
public abstract class HandOverGate extends ChannelInboundHandlerAdapter {
    private final List<ByteBuf> early = new ArrayList<>();
    private SslCloseCompletionEvent closeNotify;
    private boolean inputShutdown;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        early.add((ByteBuf) msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslCloseCompletionEvent close && close.isSuccess()) {
            closeNotify = close; // after the bytes that came before it, as the engine would see them
        } else if (evt == ChannelInputShutdownEvent.INSTANCE) {
            inputShutdown = true;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releaseEarly();
        ctx.fireChannelInactive();
    }

    /** True once the peer's FIN arrived (with half-closure allowed, the channel stays open). */
    public boolean inputShutdown() {
        return inputShutdown;
    }

    /**
     * Puts {@code next} in this handler's place (named "connection") and passes it what arrived
     * early, on the channel's loop: the bytes, then the close_notify if one came.
     */
    public void handOverTo(ChannelHandlerContext ctx, ChannelHandler next) {
        ctx.pipeline().replace(this, "connection", next);
        ChannelHandlerContext tls = ctx.pipeline().context(SslHandler.class);
        for (ByteBuf buf : early) {
            tls.fireChannelRead(buf);
        }
        early.clear();
        if (closeNotify != null) {
            tls.fireUserEventTriggered(closeNotify);
        }
    }

    private void releaseEarly() {
        for (ByteBuf buf : early) {
            buf.release();
        }
        early.clear();
    }
}
