package io.tlsd.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * The load generator: Netty (epoll) clients for the four kinds of load the suite applies —
 * new connections with a short echo, bulk upload into a sink, ping-pong round trips, and TLS
 * handshakes. Every method runs for a fixed time and returns what it measured.
 */
final class LoadClient {
    /**
     * SO_SNDBUF of a bulk connection, and of the SDK daemon's connections ({@code send_buffer}), so
     * that in-process TLS and the SDK path send through the same socket buffer.
     */
    static final int BULK_SEND_BUFFER = 1 << 20;

    private final EventLoopGroup group;
    private final Class<? extends Channel> channelClass;

    LoadClient(EventLoopGroup group, Class<? extends Channel> channelClass) {
        this.group = group;
        this.channelClass = channelClass;
    }

    /** What a TLS client does when the target speaks TLS itself; null for plain targets. */
    record Tls(SslContext context, boolean resume) {
        SslHandler handler(Channel ch, int port) {
            return resume ? context.newHandler(ch.alloc(), "localhost", port) : context.newHandler(ch.alloc());
        }
    }

    private Bootstrap bootstrap() {
        return new Bootstrap().group(group).channel(channelClass)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000);
    }

    record Rate(double perSecond, long errors, double resumedFraction) { }

    /**
     * {@code concurrency} loops of: connect (and handshake when {@code tls} is set), send
     * {@code messageBytes} to the echo, read them back, close. Counts completed loops per second.
     */
    Rate connections(int port, Tls tls, int concurrency, int messageBytes, long millis) throws Exception {
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong done = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicLong resumed = new AtomicLong();
        AtomicLong counting = new AtomicLong(); // 0 = warm-up, 1 = measuring
        long warmup = Math.min(1000, millis / 4);
        CompletableFuture<?>[] slots = new CompletableFuture<?>[concurrency];
        for (int i = 0; i < concurrency; i++) {
            CompletableFuture<Void> slot = new CompletableFuture<>();
            slots[i] = slot;
            connectOnce(port, tls, messageBytes, running, done, errors, resumed, counting, slot);
        }
        Thread.sleep(warmup);
        counting.set(1);
        long start = System.nanoTime();
        long before = done.get();
        long resumedBefore = resumed.get();
        long errorsBefore = errors.get();
        Thread.sleep(millis - warmup);
        long n = done.get() - before;
        long r = resumed.get() - resumedBefore;
        double seconds = (System.nanoTime() - start) / 1e9;
        running.set(false);
        CompletableFuture.allOf(slots).get(30, TimeUnit.SECONDS);
        return new Rate(n / seconds, errors.get() - errorsBefore, n == 0 ? 0 : (double) r / n);
    }

    private void connectOnce(int port, Tls tls, int messageBytes, AtomicBoolean running, AtomicLong done,
                             AtomicLong errors, AtomicLong resumed, AtomicLong counting, CompletableFuture<Void> slot) {
        if (!running.get()) {
            slot.complete(null);
            return;
        }
        boolean[] ok = new boolean[1];
        boolean[] reused = new boolean[1];
        ChannelFuture connect = bootstrap().handler(tlsThen(tls, port, ssl -> new StartsWhenReady(ssl) {
                    private int received;

                    @Override
                    void handshakeDone(ChannelHandlerContext ctx, Future<?> handshake) {
                        if (handshake.isSuccess()) {
                            reused[0] = ssl.engine() instanceof io.netty.handler.ssl.ReferenceCountedOpenSslEngine e
                                    && io.netty.internal.tcnative.SSL.isSessionReused(e.sslPointer());
                            start(ctx);
                        }
                    }

                    @Override
                    void start(ChannelHandlerContext ctx) {
                        ByteBuf msg = ctx.alloc().buffer(messageBytes);
                        msg.writeByte('e');
                        msg.writeZero(messageBytes - 1);
                        ctx.writeAndFlush(msg);
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        received += ((ByteBuf) msg).readableBytes();
                        ((ByteBuf) msg).release();
                        if (received >= messageBytes && !ok[0]) {
                            ok[0] = true;
                            ctx.close();
                        }
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        ctx.close();
                    }
                })).connect(new InetSocketAddress("127.0.0.1", port));
        connect.channel().closeFuture().addListener(f -> {
            if (ok[0]) {
                done.incrementAndGet();
                if (reused[0]) {
                    resumed.incrementAndGet();
                }
            } else if (running.get()) {
                errors.incrementAndGet();
            }
            connectOnce(port, tls, messageBytes, running, done, errors, resumed, counting, slot);
        });
    }

    /**
     * {@code streams} connections each writing {@code chunk}-byte buffers as fast as the
     * connection takes them into the backend's sink; MiB/s as counted by the sink.
     */
    double bulk(int port, Tls tls, EchoBackend sink, int streams, int chunk, long millis) throws Exception {
        AtomicBoolean running = new AtomicBoolean(true);
        ByteBuf data = PooledByteBufAllocator.DEFAULT.directBuffer(chunk);
        data.writeByte('s');
        data.writeZero(chunk - 1);
        Channel[] channels = new Channel[streams];
        for (int i = 0; i < streams; i++) {
            channels[i] = bootstrap().option(ChannelOption.SO_SNDBUF, BULK_SEND_BUFFER).handler(new ChannelInitializer<>() {
                @Override
                protected void initChannel(Channel ch) {
                    if (tls != null) {
                        ch.pipeline().addLast(tls.handler(ch, port));
                    }
                    ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelActive(ChannelHandlerContext ctx) {
                            pump(ctx);
                            ctx.fireChannelActive();
                        }

                        @Override
                        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
                            pump(ctx);
                        }

                        private void pump(ChannelHandlerContext ctx) {
                            while (running.get() && ctx.channel().isWritable()) {
                                ctx.write(data.retainedDuplicate());
                            }
                            ctx.flush();
                        }

                        @Override
                        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                            ctx.close();
                        }
                    });
                }
            }).connect(new InetSocketAddress("127.0.0.1", port)).sync().channel();
        }
        long warmup = Math.min(1000, millis / 4);
        Thread.sleep(warmup);
        long before = sink.sunk.sum();
        long start = System.nanoTime();
        Thread.sleep(millis - warmup);
        long bytes = sink.sunk.sum() - before;
        double seconds = (System.nanoTime() - start) / 1e9;
        running.set(false);
        for (Channel ch : channels) {
            ch.close().await(5, TimeUnit.SECONDS);
        }
        data.release();
        return bytes / seconds / (1 << 20);
    }

    /**
     * One connection writing {@code bytes}-byte messages into the sink, each flushed on its own,
     * at most {@code window} unacknowledged (written to the socket); completed writes per second.
     */
    double writeOps(int port, Tls tls, int bytes, int window, long millis) throws Exception {
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong done = new AtomicLong();
        ByteBuf data = PooledByteBufAllocator.DEFAULT.directBuffer(bytes);
        data.writeByte('s');
        data.writeZero(bytes - 1);
        Channel ch = bootstrap().handler(tlsThen(tls, port, ssl -> new StartsWhenReady(ssl) {
                    private int inFlight;

                    @Override
                    void start(ChannelHandlerContext ctx) {
                        fill(ctx);
                    }

                    private void fill(ChannelHandlerContext ctx) {
                        while (running.get() && inFlight < window) {
                            inFlight++;
                            ctx.writeAndFlush(data.retainedDuplicate()).addListener(f -> {
                                inFlight--;
                                done.incrementAndGet();
                                if (f.isSuccess()) {
                                    fill(ctx);
                                }
                            });
                        }
                    }
                })).connect(new InetSocketAddress("127.0.0.1", port)).sync().channel();
        long warmup = Math.min(1000, millis / 4);
        Thread.sleep(warmup);
        long before = done.get();
        long start = System.nanoTime();
        Thread.sleep(millis - warmup);
        long n = done.get() - before;
        double seconds = (System.nanoTime() - start) / 1e9;
        running.set(false);
        ch.close().await(5, TimeUnit.SECONDS);
        data.release();
        return n / seconds;
    }

    /**
     * One connection sending {@code messageBytes} to the echo and waiting for them before the
     * next; every round trip is recorded (microseconds).
     */
    Latency pingPong(int port, Tls tls, int messageBytes, long millis) throws Exception {
        return Latency.of(pingPongSamples(port, tls, messageBytes, millis));
    }

    /** {@link #pingPong}'s round trips themselves, in nanoseconds. */
    long[] pingPongSamples(int port, Tls tls, int messageBytes, long millis) throws Exception {
        Samples samples = new Samples(millis, 1 << 22);
        CompletableFuture<Void> finished = new CompletableFuture<>();
        Channel ch = bootstrap().handler(tlsThen(tls, port, ssl -> new StartsWhenReady(ssl) {
                    private int received;
                    private long sent;

                    @Override
                    void start(ChannelHandlerContext ctx) {
                        send(ctx);
                    }

                    private void send(ChannelHandlerContext ctx) {
                        ByteBuf msg = ctx.alloc().directBuffer(messageBytes);
                        msg.writeByte('e');
                        msg.writeZero(messageBytes - 1);
                        sent = System.nanoTime();
                        ctx.writeAndFlush(msg);
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        received += ((ByteBuf) msg).readableBytes();
                        ((ByteBuf) msg).release();
                        if (received >= messageBytes) {
                            received -= messageBytes;
                            if (samples.record(sent)) {
                                send(ctx);
                            } else {
                                finished.complete(null);
                                ctx.close();
                            }
                        }
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        finished.completeExceptionally(cause);
                        ctx.close();
                    }
                })).connect(new InetSocketAddress("127.0.0.1", port)).sync().channel();
        finished.get(millis + 30_000, TimeUnit.MILLISECONDS);
        ch.closeFuture().await(5, TimeUnit.SECONDS);
        return samples.values();
    }

    /** Percentiles of round trips, in microseconds. */
    record Latency(int samples, double p50, double p99, double max) {
        static Latency of(long[] nanos) {
            if (nanos.length == 0) {
                return new Latency(0, Double.NaN, Double.NaN, Double.NaN);
            }
            Arrays.sort(nanos);
            return new Latency(nanos.length, pct(nanos, 0.50) / 1e3, pct(nanos, 0.99) / 1e3,
                    nanos[nanos.length - 1] / 1e3);
        }

        private static double pct(long[] sorted, double q) {
            return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
        }
    }

    /** The pipeline of every load connection: TLS first when {@code tls} is set, then {@code app}. */
    private static ChannelInitializer<Channel> tlsThen(Tls tls, int port, Function<SslHandler, ChannelHandler> app) {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                SslHandler ssl = tls == null ? null : tls.handler(ch, port);
                if (ssl != null) {
                    ch.pipeline().addLast(ssl);
                }
                ch.pipeline().addLast(app.apply(ssl));
            }
        };
    }

    /** A load handler that starts once the connection is usable: at once, or after its handshake. */
    private abstract static class StartsWhenReady extends ChannelInboundHandlerAdapter {
        private final SslHandler ssl;

        StartsWhenReady(SslHandler ssl) {
            this.ssl = ssl;
        }

        abstract void start(ChannelHandlerContext ctx);

        /** Called when the handshake ended; starts regardless of its outcome unless overridden. */
        void handshakeDone(ChannelHandlerContext ctx, Future<?> handshake) {
            start(ctx);
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (ssl == null) {
                start(ctx);
            } else {
                ssl.handshakeFuture().addListener(f -> handshakeDone(ctx, f));
            }
            ctx.fireChannelActive();
        }
    }
}
