package io.tlsd.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.sdk.TlsdClient;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * New TLS clients arriving all the time from a Netty client (BoringSSL, one event loop), each closed
 * as soon as its handshake is done: either {@code parallel} at once, each replaced by the next as
 * soon as it is done (a closed loop: as many handshakes as the machine can make), or at a fixed
 * rate with at most {@code parallel} in flight (the same work for every configuration). An application on its own SDK session ACCEPTs them and closes them, as a real one would.
 *
 * <p>The client offers no session to resume (its engines have no peer host, so nothing is cached):
 * every handshake makes the server sign.
 *
 * <p>By default a client closes with a bare TCP FIN, without {@code close_notify}. A {@code
 * close_notify} that arrives while the daemon hands the connection to an ACCEPT makes the daemon
 * fail that ACCEPT with a NullPointerException in {@code ConnectionInfos.isResumed} (the engine is
 * already freed) and leak the connection in the session; {@code closeNotify} reproduces it.
 */
final class HandshakeStorm implements AutoCloseable {
    /** ACCEPTs kept waiting, so handshaked clients never queue for one. */
    private static final int ACCEPTS_IN_FLIGHT = 64;

    private final InetSocketAddress server;
    private final int parallel;
    private final EventLoopGroup group;
    private final SslContext tls;
    private final Bootstrap bootstrap;
    private final TlsdClient app;
    private final String listener;
    private volatile boolean running;
    /** Handshakes that started in [windowStart, windowEnd) are counted. */
    private volatile long windowStart = Long.MAX_VALUE;
    private volatile long windowEnd = Long.MAX_VALUE;
    private final Latencies handshakeTimes = new Latencies(); // touched on the client loop only
    private final LongAdder failed = new LongAdder();
    private final LongAdder accepted = new LongAdder();
    private final LongAdder resumed = new LongAdder();

    private final boolean closeNotify;
    private final double rate;
    // open loop, on the client loop only
    private double credit;
    private long lastTick;
    private int inFlight;
    private long shed;

    /**
     * @param parallel handshakes in flight: always (closed loop), or at most (at a rate)
     * @param rate new clients per second; 0 for a closed loop of {@code parallel} clients
     */
    HandshakeStorm(InetSocketAddress server, int parallel, double rate, Path socket, String listener,
                   boolean closeNotify) throws Exception {
        this.server = server;
        this.rate = rate;
        this.closeNotify = closeNotify;
        this.parallel = parallel;
        this.listener = listener;
        Transport transport = Transport.select("auto");
        group = transport.newGroup(1, new DefaultThreadFactory("bench-storm"));
        tls = SslContextBuilder.forClient()
                .sslProvider(SslProvider.OPENSSL_REFCNT) // engines freed with their handler, no finalizer
                .protocols("TLSv1.3")
                .trustManager(InsecureTrustManagerFactory.INSTANCE) // the storm measures the server
                .build();
        bootstrap = new Bootstrap()
                .group(group)
                .channel(transport.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        SslHandler handler = tls.newHandler(ch.alloc());
                        handler.setHandshakeTimeoutMillis(10_000);
                        ch.pipeline().addLast(handler);
                    }
                });
        app = TlsdClient.builder().socket(socket).appName("bench-storm").build();
    }

    void start() {
        running = true;
        for (int i = 0; i < ACCEPTS_IN_FLIGHT; i++) {
            acceptNext();
        }
        if (rate > 0) {
            group.execute(() -> {
                lastTick = System.nanoTime();
                tick();
            });
        } else {
            for (int i = 0; i < parallel; i++) {
                group.execute(this::connectNext);
            }
        }
    }

    private void acceptNext() {
        if (!running) {
            return;
        }
        app.accept(listener).toCompletableFuture().whenComplete((conn, error) -> {
            if (conn != null) {
                accepted.increment();
                if (conn.info().resumed()) {
                    resumed.increment();
                }
                conn.close();
            }
            acceptNext();
        });
    }

    /** Closed loop, on the client loop: a new client as soon as one is done. */
    private void connectNext() {
        if (running) {
            connectOne(this::connectNext);
        }
    }

    /** Open loop, on the client loop: new clients at the configured rate, at most {@code parallel} at once. */
    private void tick() {
        if (!running) {
            return;
        }
        long now = System.nanoTime();
        credit += (now - lastTick) * rate / 1e9;
        lastTick = now;
        for (; credit >= 1; credit--) {
            if (inFlight < parallel) {
                inFlight++;
                connectOne(() -> inFlight--);
            } else if (inWindow(now)) {
                shed++;
            }
        }
        group.schedule(this::tick, 1, TimeUnit.MILLISECONDS);
    }

    /** Connects, handshakes and closes one client, then runs {@code done} on the client loop. */
    private void connectOne(Runnable done) {
        long started = System.nanoTime();
        ChannelFuture connect = bootstrap.connect(server);
        connect.addListener(f -> {
            if (!f.isSuccess()) {
                countFailure(started);
                group.schedule(done, 10, TimeUnit.MILLISECONDS);
                return;
            }
            Channel ch = connect.channel();
            ch.closeFuture().addListener(c -> done.run());
            ch.pipeline().get(SslHandler.class).handshakeFuture().addListener(h -> {
                if (h.isSuccess()) {
                    if (inWindow(started)) {
                        handshakeTimes.record(System.nanoTime() - started);
                    }
                } else {
                    countFailure(started);
                }
                if (closeNotify) {
                    ch.close();
                } else {
                    // What the handshake wrote is already below the TLS handler; flush it, then FIN.
                    ch.pipeline().remove(SslHandler.class);
                    ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
                }
            });
        });
    }

    private boolean inWindow(long started) {
        return started - windowStart >= 0 && started - windowEnd < 0;
    }

    private void countFailure(long started) {
        if (inWindow(started)) {
            failed.increment();
        }
    }

    /** Counts the handshakes started from now for {@code nanos}. */
    void recordWindow(long nanos) {
        long now = System.nanoTime();
        windowEnd = now + nanos;
        windowStart = now;
    }

    /** What the storm did in its window. */
    /**
     * @param handshakes client-side times from connect to handshake done
     * @param failed connects or handshakes that failed
     * @param accepted clients the application took (the others closed before their ACCEPT)
     * @param resumed accepted clients whose session was resumed (should be none)
     * @param shed clients not started at a rate because {@code parallel} were still in flight
     */
    record Result(Latencies.Summary handshakes, long failed, long accepted, long resumed, long shed) {
    }

    /** Stops starting handshakes, waits for those in flight, returns the window's counts. */
    Result stop() throws Exception {
        long wait = windowEnd - System.nanoTime();
        if (wait > 0) {
            Thread.sleep(wait / 1_000_000 + 1);
        }
        running = false;
        // Read the loop-confined recorder on the loop, after the handshakes in flight settle.
        Thread.sleep(200);
        return group.submit(() -> new Result(Latencies.summarise(List.of(handshakeTimes)),
                failed.sum(), accepted.sum(), resumed.sum(), shed)).get(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        running = false;
        app.close();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        ReferenceCountUtil.release(tls);
    }
}
