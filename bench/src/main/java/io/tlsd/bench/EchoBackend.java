package io.tlsd.bench;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.LongAdder;

/**
 * The backend every scenario ends at, plain or TLS: the first byte of a connection picks its
 * mode, {@code 'e'} echoes everything (that byte included), {@code 's'} swallows and counts.
 * A FIN from the client is answered with a FIN once the echo is out.
 */
final class EchoBackend implements AutoCloseable {
    /** Bytes swallowed by sink connections, since start. */
    final LongAdder sunk = new LongAdder();
    private final Channel server;

    EchoBackend(EventLoopGroup group, Class<? extends io.netty.channel.ServerChannel> serverChannel,
                SslContext tls) throws InterruptedException {
        server = new ServerBootstrap()
                .group(group)
                .channel(serverChannel)
                .option(ChannelOption.SO_BACKLOG, 4096)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast(new ModeHandler());
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
    }

    int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    @Override
    public void close() {
        server.close().awaitUninterruptibly();
    }

    private final class ModeHandler extends ChannelInboundHandlerAdapter {
        private int mode;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf data = (ByteBuf) msg;
            if (mode == 0 && data.isReadable()) {
                mode = data.getByte(data.readerIndex());
            }
            if (mode == 's') {
                sunk.add(data.readableBytes());
                data.release();
            } else {
                ctx.write(data);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
            if (!ctx.channel().isWritable()) {
                ctx.channel().config().setAutoRead(false); // backpressure: resume on writability
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                ctx.channel().config().setAutoRead(true);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                ctx.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(f -> {
                    if (ctx.channel() instanceof DuplexChannel d && ctx.pipeline().get(io.netty.handler.ssl.SslHandler.class) == null) {
                        d.shutdownOutput().addListener(x -> ctx.close());
                    } else {
                        ctx.close();
                    }
                });
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
