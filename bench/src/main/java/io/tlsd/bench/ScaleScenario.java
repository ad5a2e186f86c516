package io.tlsd.bench;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.tlsd.sdk.OpenOptions;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Scale: N idle TLS connections held through the client daemon (one SDK session; the daemon's
 * connection limit raised in its config), the daemon's heap after a full GC and its RSS per
 * connection; then the op latency on a few of those established connections, first quiet, then
 * while another session storms the daemon with new connections (open, handshake, close).
 *
 * <p>The storm's connections go to a TLS server of their own, on other event loops than the echo
 * server of the idle connections, so that the bench's own server does not queue the pings behind
 * the storm's handshakes: what the latency shows is the daemon's (and the machine's) doing.
 */
final class ScaleScenario {
    private static final int PINGERS = 4;
    private static final int STORM_IN_FLIGHT = 32;

    private final Suite.Options options;
    private final BenchPki pki;
    private final Path dir;
    private final EventLoopGroup serverGroup;
    private final EventLoopGroup stormServerGroup;
    private final Class<? extends ServerChannel> serverChannel;

    ScaleScenario(Suite.Options options, BenchPki pki, Path dir, EventLoopGroup serverGroup,
                  EventLoopGroup stormServerGroup, Class<? extends ServerChannel> serverChannel) {
        this.options = options;
        this.pki = pki;
        this.dir = dir;
        this.serverGroup = serverGroup;
        this.stormServerGroup = stormServerGroup;
        this.serverChannel = serverChannel;
    }

    void run(Results results) throws Exception {
        int n = options.connections;
        String limits = "limits:\n  max_connections: " + (n + 1000) + "\n  max_ops_in_flight: 4096\n";
        try (EchoBackend server = new EchoBackend(serverGroup, serverChannel, SdkScenario.serverContext(pki));
             EchoBackend stormServer = new EchoBackend(stormServerGroup, serverChannel, SdkScenario.serverContext(pki));
             PeerProcess daemon = SdkScenario.startClientDaemon(options, pki, dir, "tlsd-scale-client", limits);
             TlsdClient app = TlsdClient.builder().socket(SdkScenario.socketOf(dir, "tlsd-scale-client"))
                     .appName("bench-idle").build();
             TlsdClient storm = TlsdClient.builder().socket(SdkScenario.socketOf(dir, "tlsd-scale-client"))
                     .appName("bench-storm").build()) {
            int port = server.port();
            OpenOptions open = OpenOptions.builder("127.0.0.1", port).serverName("localhost").build();
            // warm up: classes loaded, pools created, JIT under way
            List<TlsConnection> warm = openMany(app, open, Math.min(200, n));
            for (TlsConnection c : warm) {
                c.close().await(Duration.ofSeconds(10));
            }
            Thread.sleep(500);
            long heap0 = daemon.heapUsedAfterGcKib();
            long rss0 = daemon.rssKib();
            long t0 = System.nanoTime();
            List<TlsConnection> idle = openMany(app, open, n);
            double openSeconds = (System.nanoTime() - t0) / 1e9;
            Thread.sleep(1000);
            long heap1 = daemon.heapUsedAfterGcKib();
            long rss1 = daemon.rssKib();
            double heapPer = (heap1 - heap0) * 1024.0 / n / 1024;
            double rssPer = (rss1 - rss0) * 1024.0 / n / 1024;
            Suite.progress("scale: %d connections opened in %.1f s; heap %d → %d KiB, RSS %d → %d KiB", n, openSeconds,
                    heap0, heap1, rss0, rss1);
            results.absolute("scale", "daemon heap per idle conn (" + n + ")", "KiB", heapPer, 20, "≤ 20 KiB");
            results.absolute("scale", "daemon RSS per idle conn (" + n + ")", "KiB", rssPer, Double.NaN, "");

            List<TlsConnection> pingers = idle.subList(0, PINGERS);
            // This JVM (the TLS server and the SDK side of 10,000 connections) would otherwise
            // promote them all in young collections of tens of ms during the measurement.
            System.gc();
            // the op path's JIT warm-up (the opens above compiled the handshake path only); a JIT
            // compiling on one of the 2 cores during the measurement would be in its tail
            pingAll(pingers, Math.max(1000, options.millis));
            JitWarmup.untilQuiet("scale pings", List.of(daemon.pid()), () -> pingAll(pingers, 1000),
                    options.jitWarmupMillis);
            Pings quiet = pingAll(pingers, options.millis);
            AtomicBoolean storming = new AtomicBoolean(true);
            AtomicLong handshakes = new AtomicLong();
            AtomicReference<Throwable> stormFailure = new AtomicReference<>();
            OpenOptions stormOpen = OpenOptions.builder("127.0.0.1", stormServer.port()).serverName("localhost").build();
            Thread stormer = new Thread(() -> storm(storm, stormOpen, storming, handshakes, stormFailure), "bench-storm");
            stormer.start();
            Thread.sleep(300);
            // the storm's own paths (open, close, the storm server's handshakes) compiled before
            // the measurement: what is measured is a storm in a warm daemon, not the JIT
            JitWarmup.untilQuiet("scale storm", List.of(daemon.pid()), () -> pingAll(pingers, 1000),
                    options.jitWarmupMillis);
            long h0 = handshakes.get();
            long s0 = System.nanoTime();
            Pings stormed = pingAll(pingers, options.millis);
            double rate = (handshakes.get() - h0) / ((System.nanoTime() - s0) / 1e9);
            storming.set(false);
            stormer.join(30_000);
            Suite.progress("scale: op round trips quiet %s; during a storm of %.0f handshakes/s %s (storm errors: %s)",
                    quiet, rate, stormed, stormFailure.get());
            results.absolute("scale", "1 KiB op p99, quiet", "µs", quiet.all().p99(), Double.NaN, "");
            results.absolute("scale", String.format("1 KiB op p99, storm %.0f hs/s", rate), "µs", stormed.all().p99(),
                    2000, "≤ 2000 µs");
            // the figure this table showed before: stricter than the p99 of all ops
            results.absolute("scale", "1 KiB op p99 of the worst connection, storm", "µs",
                    stormed.worstConnectionP99(), Double.NaN, "");
            for (TlsConnection c : idle) {
                c.close();
            }
        }
    }

    private static List<TlsConnection> openMany(TlsdClient app, OpenOptions open, int n) throws Exception {
        Semaphore window = new Semaphore(256);
        ConcurrentLinkedQueue<TlsConnection> opened = new ConcurrentLinkedQueue<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int i = 0; i < n && failure.get() == null; i++) {
            window.acquire();
            app.open(open).toCompletableFuture().whenComplete((c, e) -> {
                if (e != null) {
                    failure.compareAndSet(null, e);
                } else {
                    opened.add(c);
                }
                window.release();
            });
        }
        window.acquire(256);
        if (failure.get() != null) {
            throw new IllegalStateException("open failed after " + opened.size() + " connections", failure.get());
        }
        return new ArrayList<>(opened);
    }

    /**
     * What the pingers measured: every op of every connection together, and the worst
     * connection's p99 on its own.
     */
    record Pings(LoadClient.Latency all, double worstConnectionP99) {
        @Override
        public String toString() {
            return all + String.format(", worst connection's p99=%.0f", worstConnectionP99);
        }
    }

    /** Callback-driven round trips on each connection at once. */
    private static Pings pingAll(List<TlsConnection> conns, long millis) throws Exception {
        List<CompletableFuture<Samples>> parts = new ArrayList<>();
        for (TlsConnection c : conns) {
            parts.add(SdkScenario.callbackRoundTrips(c, millis));
        }
        List<long[]> perConnection = new ArrayList<>();
        double worstP99 = 0;
        for (CompletableFuture<Samples> f : parts) {
            long[] values = f.get(millis + 60_000, TimeUnit.MILLISECONDS).values();
            perConnection.add(values);
            worstP99 = Math.max(worstP99, LoadClient.Latency.of(values.clone()).p99());
        }
        long[] all = new long[perConnection.stream().mapToInt(v -> v.length).sum()];
        int at = 0;
        for (long[] values : perConnection) {
            System.arraycopy(values, 0, all, at, values.length);
            at += values.length;
        }
        return new Pings(LoadClient.Latency.of(all), worstP99);
    }

    private static void storm(TlsdClient storm, OpenOptions open, AtomicBoolean running, AtomicLong handshakes,
                              AtomicReference<Throwable> failure) {
        Semaphore window = new Semaphore(STORM_IN_FLIGHT);
        try {
            while (running.get()) {
                if (!window.tryAcquire(10, TimeUnit.MILLISECONDS)) {
                    continue;
                }
                storm.open(open).toCompletableFuture().whenComplete((c, e) -> {
                    if (e != null) {
                        failure.compareAndSet(null, e);
                        window.release();
                    } else {
                        handshakes.incrementAndGet();
                        c.close().toCompletableFuture().whenComplete((x, y) -> window.release());
                    }
                });
            }
            window.tryAcquire(STORM_IN_FLIGHT, 30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
