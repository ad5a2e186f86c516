package io.tlsd.daemon.debug;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.tlsd.daemon.engine.Acceptor;
import io.tlsd.proto.v1.ConnectionInfo;
import java.util.ArrayList;
import java.util.List;

/** An acceptor whose clients are {@link EmbeddedChannel}s the test hands over when it likes. */
final class FakeAcceptor implements Acceptor {
    /** One ACCEPT waiting for a client. */
    record Wait(String listener, Promise<Channel> promise) {
    }

    final List<Wait> waits = new ArrayList<>();
    final List<EmbeddedChannel> clients = new ArrayList<>();

    @Override
    public Future<Channel> accept(String listener, EventLoop loop) {
        Wait wait = new Wait(listener, loop.newPromise());
        waits.add(wait);
        return wait.promise();
    }

    /** A client arrives at the last waiting ACCEPT, its handshake done. */
    EmbeddedChannel clientArrives() {
        EmbeddedChannel client = new EmbeddedChannel();
        client.config().setAutoRead(false);
        clients.add(client);
        waits.get(waits.size() - 1).promise().setSuccess(client);
        return client;
    }

    @Override
    public void attach(Channel channel, ChannelHandler handler) {
        channel.pipeline().addLast("connection", handler);
    }

    @Override
    public ConnectionInfo describe(Channel channel, long connectionId) {
        return ConnectionInfo.newBuilder()
                .setConnId(connectionId)
                .setProtocol("TLSv1.3")
                .setCipherSuite("TLS_AES_256_GCM_SHA384")
                .setPeerAddress("127.0.0.1:50000")
                .build();
    }
}
