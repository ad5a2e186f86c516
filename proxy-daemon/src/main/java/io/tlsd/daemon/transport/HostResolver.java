package io.tlsd.daemon.transport;

import io.netty.channel.EventLoop;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;

/**
 * Resolves host names off the event loops: the JDK resolver blocks, and a loop must not. IP
 * literals are answered at once without a thread. The threads start only when a name needs them.
 */
public final class HostResolver implements AutoCloseable {
    /** How names become addresses: the JDK's resolver, or a test's table. */
    @FunctionalInterface
    public interface Lookup {
        /** Every address of {@code host}, in the order to try them. */
        InetAddress[] addressesOf(String host) throws UnknownHostException;
    }

    private final ExecutorService threads;
    private final Lookup lookup;

    public HostResolver(String threadName) {
        this(threadName, InetAddress::getAllByName);
    }

    public HostResolver(String threadName, Lookup lookup) {
        this.threads = Executors.newFixedThreadPool(2, new DefaultThreadFactory(threadName, true));
        this.lookup = lookup;
    }

    /**
     * Every address of {@code host} (at least one), in the resolver's order, which by default puts
     * IPv4 first ({@code java.net.preferIPv6Addresses}); the future completes on {@code loop}.
     */
    public Future<List<InetAddress>> resolveAll(String host, EventLoop loop) {
        byte[] literal = NetUtil.createByteArrayFromIpAddressString(host);
        if (literal != null) {
            try {
                return loop.newSucceededFuture(List.of(InetAddress.getByAddress(host, literal)));
            } catch (UnknownHostException e) {
                throw new AssertionError("a parsed IP literal is always valid", e);
            }
        }
        Promise<List<InetAddress>> promise = loop.newPromise();
        try {
            threads.execute(() -> {
                try {
                    InetAddress[] all = lookup.addressesOf(host);
                    if (all.length == 0) {
                        throw new UnknownHostException(host);
                    }
                    promise.trySuccess(List.of(all));
                } catch (UnknownHostException e) {
                    promise.tryFailure(new UnknownHostException("cannot resolve host " + host));
                } catch (RuntimeException e) {
                    promise.tryFailure(new UnknownHostException("cannot resolve host " + host + ": " + e));
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
