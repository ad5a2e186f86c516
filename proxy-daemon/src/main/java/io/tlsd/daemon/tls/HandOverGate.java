package io.tlsd.daemon.tls;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import java.util.ArrayList;
import java.util.List;

/**
 * The last handler of a TLS channel while it handshakes on one event loop before it moves to the
 * loop of the session that will own it: it keeps the application bytes that arrived with the
 * peer's last handshake flight (nothing more is read until the hand-over) and then makes way for
 * the op engine, replaying them to it.
 */
public abstract class HandOverGate extends ChannelInboundHandlerAdapter {
    private final List<ByteBuf> early = new ArrayList<>();

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        early.add((ByteBuf) msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releaseEarly();
        ctx.fireChannelInactive();
    }

    /**
     * Puts {@code next} in this handler's place (named "connection") and passes it what arrived
     * early, on the channel's loop.
     */
    public void handOverTo(ChannelHandlerContext ctx, ChannelHandler next) {
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
