package io.tlsd.bench;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.tlsd.sdk.OpenOptions;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.SharedBuffer;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * SDK path: an application using the SDK → client daemon (its own process) → TLS server, against
 * the same application doing TLS in-process with Netty + BoringSSL to the same server. Both
 * variants alternate within each round.
 */
final class SdkScenario {
    static final int BULK_CHUNK = 64 << 10;

    /** The daemon's worker_busy_poll for the latency rows that have it (unless --busy-poll sets all). */
    static final String BUSY_POLL = "50us";

    private String busyPoll() {
        return options.busyPoll.isEmpty() ? BUSY_POLL : options.busyPoll;
    }
    static final int OP_BYTES = 1024;

    private final Suite.Options options;
    private final BenchPki pki;
    private final Path dir;
    private final LoadClient load;
    private final EventLoopGroup serverGroup;
    private final Class<? extends ServerChannel> serverChannel;

    SdkScenario(Suite.Options options, BenchPki pki, Path dir, EventLoopGroup loadGroup, EventLoopGroup serverGroup,
                Class<? extends Channel> socket, Class<? extends ServerChannel> serverChannel) {
        this.options = options;
        this.pki = pki;
        this.dir = dir;
        this.load = new LoadClient(loadGroup, socket);
        this.serverGroup = serverGroup;
        this.serverChannel = serverChannel;
    }

    static SslContext serverContext(BenchPki pki) throws Exception {
        return SslContextBuilder.forServer(pki.cert.toFile(), pki.key.toFile()).sslProvider(SslProvider.OPENSSL)
                .protocols("TLSv1.3").build();
    }

    static SslContext clientContext(BenchPki pki) throws Exception {
        return SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3")
                .trustManager(pki.caCert.toFile()).endpointIdentificationAlgorithm("HTTPS").build();
    }

    /** The client daemon serving {@code socket}, from this JVM's class path. */
    /** The SDK daemons' {@code send_buffer}: the same as the in-process client's bulk connections. */
    private static final String SEND_BUFFER = "send_buffer: " + LoadClient.BULK_SEND_BUFFER + "\n";

    static PeerProcess startClientDaemon(Suite.Options options, BenchPki pki, Path dir, String name, String extraConfig)
            throws Exception {
        Path socket = dir.resolve(name + ".sock");
        Path config = java.nio.file.Files.writeString(dir.resolve(name + ".yaml"), "socket: " + socket
                + "\nlog_level: warn\n" + options.loopsYaml()
                + "tls:\n  ca_file: " + pki.caCert + "\n" + extraConfig);
        return PeerProcess.startWithSocket(name, dir,
                TunnelPair.tlsdCommand(options.daemonJvm, "client", "--config", config.toString()), socket);
    }

    static Path socketOf(Path dir, String name) {
        return dir.resolve(name + ".sock");
    }

    void run(Results results) throws Exception {
        try (EchoBackend server = new EchoBackend(serverGroup, serverChannel, serverContext(pki));
             // the send buffer of in-process TLS's bulk connections (LoadClient.BULK_SEND_BUFFER)
             PeerProcess daemon = startClientDaemon(options, pki, dir, "tlsd-sdk-client", SEND_BUFFER);
             // room for the shared buffer the bulk writes come from (the ring gets the rest)
             TlsdClient tlsd = TlsdClient.builder().socket(socketOf(dir, "tlsd-sdk-client")).appName("bench-sdk")
                     .sharedBufferBytes(BULK_CHUNK).build();
             // the same daemon with its latency option on: worker loops poll before they sleep
             PeerProcess polling = startClientDaemon(options, pki, dir, "tlsd-sdk-busy-poll",
                     SEND_BUFFER + (options.busyPoll.isEmpty() ? "worker_busy_poll: " + busyPoll() + "\n" : ""));
             TlsdClient tlsdPolling = TlsdClient.builder().socket(socketOf(dir, "tlsd-sdk-busy-poll"))
                     .appName("bench-sdk").build()) {
            SslContext inProcess = clientContext(pki);
            LoadClient.Tls tls = new LoadClient.Tls(inProcess, true);
            int port = server.port();
            long ms = options.millis;
            List<Double> sdkBulk = new ArrayList<>();
            List<Double> nettyBulk = new ArrayList<>();
            List<Double> sdkBulkCpu = new ArrayList<>();
            List<Double> nettyBulkCpu = new ArrayList<>();
            List<Double> sdkBulkBusy = new ArrayList<>();
            List<Double> sdkCopiedBulk = new ArrayList<>();
            List<Double> sdkCopiedBulkCpu = new ArrayList<>();
            List<Double> nettyBulkBusy = new ArrayList<>();
            List<Double> sdkOps = new ArrayList<>();
            List<Double> nettyOps = new ArrayList<>();
            List<Double> sdkP50 = new ArrayList<>();
            List<Double> sdkP99 = new ArrayList<>();
            List<Double> sdkBlockingP50 = new ArrayList<>();
            List<Double> sdkBarrierP50 = new ArrayList<>();
            List<Double> sdkWriteHalfP50 = new ArrayList<>();
            List<Double> sdkWriteAloneP50 = new ArrayList<>();
            List<Double> floorP50 = new ArrayList<>();
            List<Double> pollingP50 = new ArrayList<>();
            List<Double> pollingP99 = new ArrayList<>();
            List<Double> pollingBarrierP50 = new ArrayList<>();
            List<Double> nettyP50 = new ArrayList<>();
            List<Double> nettyP99 = new ArrayList<>();
            // warm-up, as for the tunnel pairs: the daemon's JIT (and this JVM's) for both variants
            long warm = Math.min(3000, Math.max(600, ms));
            sdkBulk(tlsd, server, port, warm, true);
            sdkBulk(tlsd, server, port, warm / 2, false);
            sdkWriteOps(tlsd, port, warm / 2);
            sdkCallbackRoundTrips(tlsd, port, warm / 2);
            sdkCallbackRoundTrips(tlsdPolling, port, warm / 2);
            load.bulk(port, tls, server, 1, BULK_CHUNK, warm / 2);
            load.pingPong(port, tls, OP_BYTES, warm / 2);
            JitWarmup.untilQuiet("sdk", List.of(daemon.pid(), polling.pid()), () -> {
                sdkBulk(tlsd, server, port, 500, true);
                sdkBulk(tlsd, server, port, 250, false);
                sdkWriteOps(tlsd, port, 250);
                sdkCallbackRoundTrips(tlsd, port, 250);
                sdkCallbackRoundTrips(tlsdPolling, port, 250);
                load.bulk(port, tls, server, 1, BULK_CHUNK, 250);
                load.pingPong(port, tls, OP_BYTES, 250);
            }, options.jitWarmupMillis);
            for (int round = 0; round < options.rounds; round++) {
                boolean sdkFirst = round % 2 == 0;
                for (int k = 0; k < 2; k++) {
                    if ((k == 0) == sdkFirst) {
                        Bulk bulk = measured(server, () -> sdkBulk(tlsd, server, port, ms, true));
                        sdkBulk.add(bulk.mibPerSecond());
                        sdkBulkCpu.add(bulk.coreSecondsPerGiB());
                        sdkBulkBusy.add(bulk.busyPercent());
                        Bulk copied = measured(server, () -> sdkBulk(tlsd, server, port, ms, false));
                        sdkCopiedBulk.add(copied.mibPerSecond());
                        sdkCopiedBulkCpu.add(copied.coreSecondsPerGiB());
                        sdkOps.add(sdkWriteOps(tlsd, port, ms));
                        EchoTimes echo = sdkCallbackRoundTrips(tlsd, port, ms);
                        LoadClient.Latency l = echo.roundTrip();
                        sdkWriteHalfP50.add(echo.writeHalf().p50());
                        sdkP50.add(l.p50());
                        sdkP99.add(l.p99());
                        LoadClient.Latency blocking = sdkBlockingRoundTrips(tlsd, port, ms);
                        sdkBlockingP50.add(blocking.p50());
                        // the parts: a BARRIER (daemon and back, no TLS socket), a WRITE into the sink alone
                        LoadClient.Latency barrier = sequentialOps(tlsd, port, Math.max(500, ms / 3),
                                c -> c.barrier().toCompletableFuture());
                        sdkBarrierP50.add(barrier.p50());
                        byte[] sunk = new byte[OP_BYTES];
                        sunk[0] = 's';
                        LoadClient.Latency write = sequentialOps(tlsd, port, Math.max(500, ms / 3),
                                c -> c.write(sunk).toCompletableFuture());
                        sdkWriteAloneP50.add(write.p50());
                        LoadClient.Latency floor = unixSocketPingPong(dir, Math.max(500, ms / 3));
                        floorP50.add(floor.p50());
                        LoadClient.Latency polled = sdkCallbackRoundTrips(tlsdPolling, port, ms).roundTrip();
                        pollingP50.add(polled.p50());
                        pollingP99.add(polled.p99());
                        LoadClient.Latency polledBarrier = sequentialOps(tlsdPolling, port, Math.max(500, ms / 3),
                                c -> c.barrier().toCompletableFuture());
                        pollingBarrierP50.add(polledBarrier.p50());
                        Suite.progress("sdk round %d SDK, worker_busy_poll %s: rtt %s, barrier %s", round + 1,
                                busyPoll(), polled, polledBarrier);
                        Suite.progress("sdk round %d SDK: bulk %.0f MiB/s (%.2f core-s/GiB, machine %.0f%% busy),"
                                + " from byte[] %.0f MiB/s (%.2f core-s/GiB),"
                                + " %.0f ops/s, rtt %s, rtt with await() %s, barrier %s, write alone %s,"
                                + " write in the round trip %s, unix-socket ping-pong %s",
                                round + 1, last(sdkBulk), last(sdkBulkCpu), last(sdkBulkBusy), last(sdkCopiedBulk),
                                last(sdkCopiedBulkCpu), last(sdkOps), l,
                                blocking, barrier, write, echo.writeHalf(), floor);
                    } else {
                        Bulk bulk = measured(server, () -> load.bulk(port, tls, server, 1, BULK_CHUNK, ms));
                        nettyBulk.add(bulk.mibPerSecond());
                        nettyBulkCpu.add(bulk.coreSecondsPerGiB());
                        nettyBulkBusy.add(bulk.busyPercent());
                        nettyOps.add(load.writeOps(port, tls, OP_BYTES, 64, ms));
                        LoadClient.Latency l = load.pingPong(port, tls, OP_BYTES, ms);
                        nettyP50.add(l.p50());
                        nettyP99.add(l.p99());
                        Suite.progress("sdk round %d in-process: bulk %.0f MiB/s (%.2f core-s/GiB, machine %.0f%% busy),"
                                + " %.0f ops/s, rtt %s", round + 1, last(nettyBulk), last(nettyBulkCpu),
                                last(nettyBulkBusy), last(nettyOps), l);
                    }
                }
            }
            results.higherIsBetter("SDK path", "bulk, 1 connection", "MiB/s", TunnelScenario.median(sdkBulk),
                    "in-process", TunnelScenario.median(nettyBulk), 0.7);
            // What stands between the two: the CPU each spends per byte, while both keep the cores busy.
            results.lowerIsBetter("SDK path", "bulk: machine CPU per GiB moved", "core-s",
                    TunnelScenario.median(sdkBulkCpu), "in-process", TunnelScenario.median(nettyBulkCpu), Double.NaN);
            results.absolute("SDK path", "bulk: machine busy, SDK", "%", TunnelScenario.median(sdkBulkBusy),
                    Double.NaN, "");
            results.absolute("SDK path", "bulk: machine busy, in-process", "%",
                    TunnelScenario.median(nettyBulkBusy), Double.NaN, "");
            // The same writes from a byte[], which the SDK copies into its write ring.
            results.higherIsBetter("SDK path", "bulk, writes from a byte[]", "MiB/s",
                    TunnelScenario.median(sdkCopiedBulk), "in-process", TunnelScenario.median(nettyBulk), Double.NaN);
            results.lowerIsBetter("SDK path", "bulk from a byte[]: machine CPU per GiB", "core-s",
                    TunnelScenario.median(sdkCopiedBulkCpu), "in-process", TunnelScenario.median(nettyBulkCpu),
                    Double.NaN);
            results.higherIsBetter("SDK path", "1 KiB writes (64 in flight)", "ops/s", TunnelScenario.median(sdkOps),
                    "in-process", TunnelScenario.median(nettyOps), Double.NaN);
            results.lowerIsBetter("SDK path", "1 KiB op round trip p50", "µs", TunnelScenario.median(sdkP50),
                    "in-process", TunnelScenario.median(nettyP50), Double.NaN);
            results.lowerIsBetter("SDK path", "1 KiB op round trip p99", "µs", TunnelScenario.median(sdkP99),
                    "in-process", TunnelScenario.median(nettyP99), Double.NaN);
            results.absolute("SDK path", "1 KiB op round trip p50 (goal)", "µs", TunnelScenario.median(sdkP50), 100,
                    "≤ 100 µs");
            results.lowerIsBetter("SDK path", "1 KiB op round trip p50, worker_busy_poll " + busyPoll(), "µs",
                    TunnelScenario.median(pollingP50), "in-process", TunnelScenario.median(nettyP50), Double.NaN);
            results.lowerIsBetter("SDK path", "1 KiB op round trip p99, worker_busy_poll " + busyPoll(), "µs",
                    TunnelScenario.median(pollingP99), "in-process", TunnelScenario.median(nettyP99), Double.NaN);
            results.absolute("SDK path", "1 KiB op round trip p50 (goal), worker_busy_poll " + busyPoll(), "µs",
                    TunnelScenario.median(pollingP50), 100, "≤ 100 µs");
            results.absolute("SDK path", "BARRIER round trip p50, worker_busy_poll " + busyPoll(), "µs",
                    TunnelScenario.median(pollingBarrierP50), Double.NaN, "");
            results.absolute("SDK path", "1 KiB op round trip p50, thread in await()", "µs",
                    TunnelScenario.median(sdkBlockingP50), Double.NaN, "");
            results.absolute("SDK path", "BARRIER round trip p50 (IPC only)", "µs",
                    TunnelScenario.median(sdkBarrierP50), Double.NaN, "");
            results.absolute("SDK path", "1 KiB WRITE alone, completion p50", "µs",
                    TunnelScenario.median(sdkWriteAloneP50), Double.NaN, "");
            results.absolute("SDK path", "1 KiB round trip: its WRITE's completion p50", "µs",
                    TunnelScenario.median(sdkWriteHalfP50), Double.NaN, "");
            results.absolute("SDK path", "Unix-socket ping-pong p50, 2 plain threads", "µs",
                    TunnelScenario.median(floorP50), Double.NaN, "");
            results.absolute("SDK path", "1 KiB op round trip p50 floor: in-process + ping-pong", "µs",
                    TunnelScenario.median(nettyP50) + TunnelScenario.median(floorP50), Double.NaN, "");
        }
    }

    /**
     * The floor of any round trip through a second process: 32 bytes there and back over a
     * Unix-domain socket between two threads that block in read, as the SDK's reader and an
     * event loop do. Each such hop costs two thread wake-ups, which no daemon can go below.
     */
    static LoadClient.Latency unixSocketPingPong(Path dir, long millis) throws Exception {
        Path path = dir.resolve("ping-pong.sock");
        Files.deleteIfExists(path);
        UnixDomainSocketAddress address = UnixDomainSocketAddress.of(path);
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(address);
            try (SocketChannel client = SocketChannel.open(address);
                 SocketChannel echo = server.accept()) {
                Thread echoer = new Thread(() -> {
                    ByteBuffer b = ByteBuffer.allocateDirect(32);
                    try {
                        while (true) {
                            b.clear();
                            while (b.hasRemaining()) {
                                if (echo.read(b) < 0) {
                                    return;
                                }
                            }
                            b.flip();
                            while (b.hasRemaining()) {
                                echo.write(b);
                            }
                        }
                    } catch (IOException e) {
                        // closed at the end
                    }
                }, "bench-ping-pong");
                echoer.start();
                ByteBuffer b = ByteBuffer.allocateDirect(32);
                Samples samples = new Samples(millis);
                boolean going = true;
                while (going) {
                    long t0 = System.nanoTime();
                    b.clear();
                    while (b.hasRemaining()) {
                        client.write(b);
                    }
                    b.clear();
                    while (b.hasRemaining()) {
                        client.read(b);
                    }
                    going = samples.record(t0);
                }
                client.shutdownOutput();
                echoer.join(5000);
                return samples.latency();
            }
        } finally {
            Files.deleteIfExists(path);
        }
    }

    /** A bulk run's rate, and what the whole machine spent during it per GiB the sink received. */
    record Bulk(double mibPerSecond, double coreSecondsPerGiB, double busyPercent) { }

    /**
     * Runs {@code bulk} (which returns MiB/s) and measures the machine around it: every process's
     * CPU and the kernel's, over the whole run (connection set-up and warm-up included, for both
     * variants alike), per GiB the sink received in that time.
     */
    static Bulk measured(EchoBackend sink, Callable<Double> bulk) throws Exception {
        MachineLoad before = MachineLoad.snapshot();
        long bytesBefore = sink.sunk.sum();
        double rate = bulk.call();
        MachineLoad after = MachineLoad.snapshot();
        double gib = (sink.sunk.sum() - bytesBefore) / (double) (1L << 30);
        double coreSeconds = after.busyCoreSecondsSince(before);
        return new Bulk(rate, coreSeconds < 0 || gib == 0 ? Double.NaN : coreSeconds / gib,
                after.busyPercentSince(before));
    }

    private static double last(List<Double> v) {
        return v.get(v.size() - 1);
    }

    static TlsConnection open(TlsdClient tlsd, int port) throws Exception {
        return tlsd.open(OpenOptions.builder("127.0.0.1", port).serverName("localhost").build())
                .await(Duration.ofSeconds(10));
    }

    /**
     * Pipelined 64 KiB writes into the sink, at most 32 in flight; MiB/s counted by the sink. With
     * {@code shared}, every write is of the same {@link SharedBuffer}, filled once (no copy, as the
     * in-process client writes one direct buffer over and over), else of the same {@code byte[]},
     * which the SDK copies into its write ring for each write.
     */
    static double sdkBulk(TlsdClient tlsd, EchoBackend sink, int port, long millis, boolean shared)
            throws Exception {
        TlsConnection conn = open(tlsd, port);
        byte[] chunk = new byte[BULK_CHUNK];
        chunk[0] = 's';
        SharedBuffer buffer = shared ? tlsd.allocateBuffer(BULK_CHUNK) : null;
        if (buffer != null) {
            if (!buffer.isShared()) {
                throw new IllegalStateException("the SDK daemon granted no shared memory for the bulk writes");
            }
            buffer.buffer().put(0, chunk);
        }
        Semaphore window = new Semaphore(32);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        long warmupEnd = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.min(1000, millis / 4));
        long before = -1;
        long start = 0;
        while (System.nanoTime() < end && failure.get() == null) {
            if (before < 0 && System.nanoTime() > warmupEnd) {
                before = sink.sunk.sum();
                start = System.nanoTime();
            }
            if (!window.tryAcquire(10, TimeUnit.MILLISECONDS)) {
                continue;
            }
            Operation<Long> write = buffer != null ? conn.write(buffer, 0, BULK_CHUNK) : conn.write(chunk);
            write.toCompletableFuture().whenComplete((n, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                }
                window.release();
            });
        }
        long bytes = sink.sunk.sum() - before;
        double seconds = (System.nanoTime() - start) / 1e9;
        window.acquire(32);
        if (buffer != null) {
            buffer.close();
        }
        conn.close().await(Duration.ofSeconds(10));
        if (failure.get() != null) {
            throw new IllegalStateException("SDK bulk write failed", failure.get());
        }
        return bytes / seconds / (1 << 20);
    }

    /** Pipelined 1 KiB writes, at most 64 in flight; completed writes per second. */
    static double sdkWriteOps(TlsdClient tlsd, int port, long millis) throws Exception {
        TlsConnection conn = open(tlsd, port);
        byte[] data = new byte[OP_BYTES];
        data[0] = 's';
        Semaphore window = new Semaphore(64);
        AtomicLong done = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        long warmupEnd = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.min(1000, millis / 4));
        long before = -1;
        long start = 0;
        while (System.nanoTime() < end && failure.get() == null) {
            if (before < 0 && System.nanoTime() > warmupEnd) {
                before = done.get();
                start = System.nanoTime();
            }
            if (!window.tryAcquire(10, TimeUnit.MILLISECONDS)) {
                continue;
            }
            conn.write(data).toCompletableFuture().whenComplete((n, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                }
                done.incrementAndGet();
                window.release();
            });
        }
        long n = done.get() - before;
        double seconds = (System.nanoTime() - start) / 1e9;
        window.acquire(64);
        conn.close().await(Duration.ofSeconds(10));
        if (failure.get() != null) {
            throw new IllegalStateException("SDK write failed", failure.get());
        }
        return n / seconds;
    }

    /** A round trip's time, and the time its WRITE took to complete (a part of it). */
    record EchoTimes(LoadClient.Latency roundTrip, LoadClient.Latency writeHalf) {
    }

    /** One connection: write 1 KiB to the echo, read until it is all back; each round trip timed. */
    static EchoTimes sdkCallbackRoundTrips(TlsdClient tlsd, int port, long millis) throws Exception {
        TlsConnection conn = open(tlsd, port);
        try {
            CallbackRoundTrips trips = new CallbackRoundTrips(conn, millis);
            Samples roundTrips = trips.start().get(millis + 30_000, TimeUnit.MILLISECONDS);
            return new EchoTimes(roundTrips.latency(), trips.writeHalves.latency());
        } finally {
            conn.close().await(Duration.ofSeconds(10));
        }
    }

    /**
     * Sequential 1 KiB echo round trips on {@code conn} for {@code millis}, the way an asynchronous
     * application (and the in-process variant, on its event loop) runs them: each read's completion
     * (on the SDK's reader thread) submits the next write and read; no thread waits.
     */
    static CompletableFuture<Samples> callbackRoundTrips(TlsConnection conn, long millis) {
        return new CallbackRoundTrips(conn, millis).start();
    }

    private static final class CallbackRoundTrips {
        private final TlsConnection conn;
        private final byte[] data = new byte[OP_BYTES];
        private final Samples roundTrips;
        /** When each round trip's WRITE completed, after its start: the write half alone. */
        final Samples writeHalves;
        private final CompletableFuture<Samples> done = new CompletableFuture<>();
        private long t0;

        CallbackRoundTrips(TlsConnection conn, long millis) {
            this.conn = conn;
            data[0] = 'e';
            roundTrips = new Samples(millis);
            writeHalves = new Samples(millis);
        }

        CompletableFuture<Samples> start() {
            next();
            return done;
        }

        private void next() {
            long start = System.nanoTime();
            t0 = start;
            conn.write(data).toCompletableFuture().whenComplete((w, e) -> {
                if (e != null) {
                    done.completeExceptionally(e);
                } else {
                    writeHalves.record(start);
                }
            });
            read(OP_BYTES);
        }

        private void read(int missing) {
            conn.read(missing).toCompletableFuture().whenComplete((r, e) -> {
                if (e != null || r.length == 0) {
                    done.completeExceptionally(e != null ? e : new IllegalStateException("echo closed"));
                } else if (r.length < missing) {
                    read(missing - r.length);
                } else if (roundTrips.record(t0)) {
                    next();
                } else {
                    done.complete(roundTrips);
                }
            });
        }
    }

    /**
     * One kind of operation on its own connection, each started from the previous one's
     * completion (on the SDK's reader thread); each timed from submit to completion.
     */
    static LoadClient.Latency sequentialOps(TlsdClient tlsd, int port, long millis,
                                            Function<TlsConnection, CompletionStage<?>> op) throws Exception {
        TlsConnection conn = open(tlsd, port);
        try {
            Samples samples = new Samples(millis);
            CompletableFuture<LoadClient.Latency> done = new CompletableFuture<>();
            Runnable[] next = new Runnable[1];
            next[0] = () -> {
                long t0 = System.nanoTime();
                op.apply(conn).whenComplete((v, e) -> {
                    if (e != null) {
                        done.completeExceptionally(e);
                    } else if (samples.record(t0)) {
                        next[0].run();
                    } else {
                        done.complete(samples.latency());
                    }
                });
            };
            next[0].run();
            return done.get(millis + 30_000, TimeUnit.MILLISECONDS);
        } finally {
            conn.close().await(Duration.ofSeconds(10));
        }
    }

    /** The same round trips from one thread that waits for each read with {@code await()}. */
    private static LoadClient.Latency sdkBlockingRoundTrips(TlsdClient tlsd, int port, long millis) throws Exception {
        TlsConnection conn = open(tlsd, port);
        try {
            byte[] data = new byte[OP_BYTES];
            data[0] = 'e';
            Samples samples = new Samples(millis);
            boolean going = true;
            while (going) {
                long t0 = System.nanoTime();
                conn.write(data);
                int got = 0;
                while (got < OP_BYTES) {
                    byte[] r = conn.read(OP_BYTES - got).await(Duration.ofSeconds(10));
                    if (r.length == 0) {
                        throw new IllegalStateException("echo closed");
                    }
                    got += r.length;
                }
                going = samples.record(t0);
            }
            return samples.latency();
        } finally {
            conn.close().await(Duration.ofSeconds(10));
        }
    }
}
