package io.tlsd.daemon.testing;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.tlsd.daemon.engine.Connector;
import io.tlsd.daemon.engine.Failure;
import io.tlsd.proto.v1.ConnectionInfo;
import io.tlsd.proto.v1.Open;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * A connector whose "TLS connections" are {@link EmbeddedChannel}s: the test decides when the
 * handshake succeeds or fails, what the peer sends, and whether writes complete.
 */
public final class FakeConnector implements Connector {

    /** One connection attempt and, once established, its channel. */
    public static final class Attempt {
        public final Open open;
        public final Promise<Channel> promise;
        public final EmbeddedChannel channel;
        public final WriteGate gate = new WriteGate();
        public final ReadCounter reads = new ReadCounter();

        Attempt(Open open, Promise<Channel> promise, ChannelHandler handler) {
            this.open = open;
            this.promise = promise;
            this.channel = new EmbeddedChannel(reads, gate, handler); // fires channelActive, as a connect would
            channel.config().setAutoRead(false);
        }

        public void succeed() {
            promise.setSuccess(channel);
        }

        public void fail(Failure failure) {
            promise.setFailure(failure);
        }
    }

    /** Holds write promises while closed, so a test can keep a write "in progress". */
    public static final class WriteGate extends ChannelOutboundHandlerAdapter {
        public boolean open = true;
        final ArrayDeque<ChannelPromise> held = new ArrayDeque<>();
        /** What reached the socket, one string (UTF-8) per write. */
        public final List<String> written = new ArrayList<>();
        /** What reached the socket, byte for byte. */
        public final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        /** Sees each written buffer before the gate releases it (as SslHandler would). */
        public java.util.function.Consumer<ByteBuf> inspect = buf -> { };

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            ByteBuf buf = (ByteBuf) msg;
            written.add(buf.toString(StandardCharsets.UTF_8));
            byte[] copy = new byte[buf.readableBytes()];
            buf.getBytes(buf.readerIndex(), copy);
            bytes.writeBytes(copy);
            inspect.accept(buf);
            ReferenceCountUtil.release(msg);
            if (open) {
                promise.setSuccess();
            } else {
                held.add(promise);
            }
        }

        public void release() {
            open = true;
            ChannelPromise p;
            while ((p = held.poll()) != null) {
                p.setSuccess();
            }
        }

        @Override
        public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
            ChannelPromise p;
            while ((p = held.poll()) != null) {
                p.tryFailure(new java.nio.channels.ClosedChannelException());
            }
            ctx.close(promise);
        }
    }

    /** Counts read() requests, to observe the engine pausing and resuming the socket. */
    public static final class ReadCounter extends ChannelOutboundHandlerAdapter {
        public int reads;

        @Override
        public void read(ChannelHandlerContext ctx) {
            reads++;
            ctx.read();
        }
    }

    public final List<Attempt> attempts = new ArrayList<>();

    @Override
    public Future<Channel> connect(Open open, EventLoop loop, ChannelHandler handler) {
        Attempt attempt = new Attempt(open, loop.newPromise(), handler);
        attempts.add(attempt);
        return attempt.promise;
    }

    @Override
    public ConnectionInfo describe(Channel channel, long connectionId) {
        return ConnectionInfo.newBuilder()
                .setConnId(connectionId)
                .setProtocol("TLSv1.3")
                .setCipherSuite("TLS_AES_128_GCM_SHA256")
                .setPeerAddress("127.0.0.1:4433")
                .setPeerSubject("CN=localhost")
                .build();
    }

    public Attempt last() {
        return attempts.get(attempts.size() - 1);
    }
}
