package io.tlsd.daemon.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DuplexChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * An {@link EmbeddedChannel} that can be half-closed like a TCP socket, and that records what
 * happens on its outbound side in order: {@code "write:<text>"}, {@code "shutdownOutput"},
 * {@code "read"}. Writes can be held back to test backpressure.
 */
final class EmbeddedDuplexChannel extends EmbeddedChannel implements DuplexChannel {
    final List<String> log = new ArrayList<>();
    private final List<ChannelPromise> heldWrites = new ArrayList<>();
    private boolean holdWrites;
    private boolean inputShutdown;
    private boolean outputShutdown;

    EmbeddedDuplexChannel() {
        config().setAutoRead(false);
        pipeline().addFirst("recorder", new ChannelOutboundHandlerAdapter() {
            @Override
            public void read(ChannelHandlerContext ctx) {
                log.add("read");
                ctx.read();
            }

            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                log.add("write:" + ((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                if (holdWrites) {
                    heldWrites.add(promise);
                    ctx.write(msg);
                } else {
                    ctx.write(msg, promise);
                }
            }
        });
    }

    /** From now on, writes reach the channel but their promises stay pending until {@link #completeWrites()}. */
    void holdWrites() {
        holdWrites = true;
    }

    void completeWrites() {
        holdWrites = false;
        List<ChannelPromise> promises = new ArrayList<>(heldWrites);
        heldWrites.clear();
        promises.forEach(ChannelPromise::setSuccess);
    }

    long reads() {
        return log.stream().filter("read"::equals).count();
    }

    @Override
    public boolean isInputShutdown() {
        return inputShutdown;
    }

    @Override
    public ChannelFuture shutdownInput() {
        return shutdownInput(newPromise());
    }

    @Override
    public ChannelFuture shutdownInput(ChannelPromise promise) {
        inputShutdown = true;
        return promise.setSuccess();
    }

    @Override
    public boolean isOutputShutdown() {
        return outputShutdown;
    }

    @Override
    public ChannelFuture shutdownOutput() {
        return shutdownOutput(newPromise());
    }

    @Override
    public ChannelFuture shutdownOutput(ChannelPromise promise) {
        log.add("shutdownOutput");
        outputShutdown = true;
        return promise.setSuccess();
    }

    @Override
    public boolean isShutdown() {
        return inputShutdown && outputShutdown;
    }

    @Override
    public ChannelFuture shutdown() {
        return shutdown(newPromise());
    }

    @Override
    public ChannelFuture shutdown(ChannelPromise promise) {
        shutdownInput();
        return shutdownOutput(promise);
    }
}
