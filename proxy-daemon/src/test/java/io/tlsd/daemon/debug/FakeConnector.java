package io.tlsd.daemon.debug;

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
import java.util.ArrayList;
import java.util.List;

/**
 * A connector whose "TLS connections" are {@link EmbeddedChannel}s: the test decides when the
 * handshake succeeds or fails and what the peer sends. (Trimmed from the IPC tests' fake.)
 */
final class FakeConnector implements Connector {

    /** One connection attempt and, once established, its channel. */
    static final class Attempt {
        final Open open;
        final Promise<Channel> promise;
        final EmbeddedChannel channel;
        final Recorder written = new Recorder();

        Attempt(Open open, Promise<Channel> promise, ChannelHandler handler) {
            this.open = open;
            this.promise = promise;
            this.channel = new EmbeddedChannel(written, handler); // fires channelActive, as a connect would
            channel.config().setAutoRead(false);
        }

        void succeed() {
            promise.setSuccess(channel);
        }

        void fail(Failure failure) {
            promise.setFailure(failure);
        }
    }

    /** What reached the socket, byte for byte; every write completes at once. */
    static final class Recorder extends ChannelOutboundHandlerAdapter {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            ByteBuf buf = (ByteBuf) msg;
            byte[] copy = new byte[buf.readableBytes()];
            buf.getBytes(buf.readerIndex(), copy);
            bytes.writeBytes(copy);
            ReferenceCountUtil.release(msg);
            promise.setSuccess();
        }
    }

    final List<Attempt> attempts = new ArrayList<>();

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

    Attempt last() {
        return attempts.get(attempts.size() - 1);
    }
}
