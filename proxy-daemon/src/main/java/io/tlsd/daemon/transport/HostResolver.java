package io.tlsd.daemon.transport;

import io.netty.channel.EventLoop;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;

/**
 * Resolves host names off the event loops: the JDK resolver blocks, and a loop must not. IP
 * literals are answered at once without a thread. The threads start only when a name needs them.
 */
public final class HostResolver implements AutoCloseable {
    private final ExecutorService threads;

    public HostResolver(String threadName) {
        threads = Executors.newFixedThreadPool(2, new DefaultThreadFactory(threadName, true));
    }

    /** The address of {@code host}; the future completes on {@code loop}. */
    public Future<InetAddress> resolve(String host, EventLoop loop) {
        byte[] literal = NetUtil.createByteArrayFromIpAddressString(host);
        if (literal != null) {
            try {
                return loop.newSucceededFuture(InetAddress.getByAddress(host, literal));
            } catch (UnknownHostException e) {
                throw new AssertionError("a parsed IP literal is always valid", e);
            }
        }
        Promise<InetAddress> promise = loop.newPromise();
        try {
            threads.execute(() -> {
                try {
                    promise.trySuccess(InetAddress.getByName(host));
                } catch (UnknownHostException e) {
                    promise.tryFailure(new UnknownHostException("cannot resolve host " + host));
                }
            });
        } catch (RejectedExecutionException e) {
            promise.tryFailure(new UnknownHostException("cannot resolve host " + host + ": shutting down"));
        }
        return promise;
    }

    @Override
    public void close() {
        threads.shutdownNow();
    }
}
