package io.tlsd.bench;

import io.netty.handler.ssl.OpenSsl;
import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.logging.DaemonLog;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy;
import io.tlsd.daemon.tls.signing.SigningPolicy;
import java.io.PrintStream;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Do expensive private-key operations stall established connections, and does moving them off the
 * event loops help? For each key type and signing mode this starts a real server-role daemon,
 * has an application ACCEPT {@code --connections} clients through the SDK and echo them while
 * they ping on a fixed schedule, and meanwhile runs a handshake storm of {@code --storm} parallel
 * new clients. It reports the pings' latency percentiles (from when each ping was due) and the
 * handshakes per second.
 *
 * <pre>
 * java -jar bench/target/tlsd-bench-*-all.jar --rounds 2
 * java -jar bench/target/tlsd-bench-*-all.jar --keys rsa-4096 --modes on-loop,off-loop --seconds 20
 * </pre>
 *
 * <p>Configurations run round by round, each round in the opposite mode order of the previous
 * one, so slow drifts of a shared machine do not favour one mode.
 */
public final class KeyIsolationBench {
    private static final String LISTENER = "bench";
    private static final double QUIET_BUSY_PERCENT = 20;
    private static final double JIT_WARMUP_CHUNK_SECONDS = 2;
    /** Compilation time per wall-clock time below which the JIT counts as settled. */
    private static final double JIT_QUIET_SHARE = 0.03;

    /** Command-line options; {@link #parse} documents them. */
    record Options(List<BenchKey> keys, List<String> modes, int rounds, double warmupSeconds, double seconds,
                   int connections, int storm, double stormRate, double intervalMillis, int workers, boolean baseline,
                   boolean closeNotify, int quietWaitSeconds, double jvmWarmupSeconds) {

        static final String USAGE = """
                usage: KeyIsolationBench [options]
                  --keys LIST           ec-p256,ec-p384,rsa-2048,rsa-3072,rsa-4096
                                        (default ec-p256,rsa-2048,rsa-4096)
                  --modes LIST          on-loop,off-loop,auto (default on-loop,off-loop)
                  --rounds N            repetitions of every configuration, alternating order (default 2)
                  --warmup-seconds S    storm and pings before measuring (default 2)
                  --seconds S           measured window per configuration (default 5)
                  --connections N       established connections pinging (default 16)
                  --storm N             handshakes in flight during the storm (default 32)
                  --storm-rate R        new clients per second, at most --storm in flight; default 0:
                                        a closed loop keeping --storm in flight (as fast as it goes)
                  --interval-ms MS      ping period per connection (default 20)
                  --workers N           daemon worker loops (default: the daemon's, = cores)
                  --baseline            also measure each key without a storm
                  --jvm-warmup-seconds S  before round 1, run every key and mode, unrecorded, until the JIT
                                        compilers are nearly idle or S have passed (default 30; 0 = none)
                  --quiet-wait-seconds S  before each configuration, wait up to S for the machine to be
                                        under 20% busy (default 10; 0 = do not wait)
                  --close-notify        storm clients close with close_notify (reproduces a daemon bug,
                                        see HandshakeStorm) instead of a bare FIN
                """;

        static Options parse(String[] args) {
            List<BenchKey> keys = List.of(BenchKey.EC_P256, BenchKey.RSA_2048, BenchKey.RSA_4096);
            List<String> modes = List.of("on-loop", "off-loop");
            int rounds = 2;
            double warmup = 2;
            double seconds = 5;
            int connections = 16;
            int storm = 32;
            double stormRate = 0;
            double interval = 20;
            int workers = 0;
            boolean baseline = false;
            boolean closeNotify = false;
            int quietWait = 10;
            double jvmWarmup = 30;
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                if (arg.equals("--baseline")) {
                    baseline = true;
                    continue;
                }
                if (arg.equals("--close-notify")) {
                    closeNotify = true;
                    continue;
                }
                if (arg.equals("--help") || arg.equals("-h")) {
                    throw new IllegalArgumentException("");
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(arg + " needs a value");
                }
                String value = args[++i];
                switch (arg) {
                    case "--keys" -> keys = List.of(value.split(",")).stream().map(BenchKey::named).toList();
                    case "--modes" -> {
                        modes = List.of(value.split(","));
                        modes.forEach(SigningPolicy::parse); // fails on a misspelling
                    }
                    case "--rounds" -> rounds = positive(arg, Integer.parseInt(value));
                    case "--warmup-seconds" -> warmup = Double.parseDouble(value);
                    case "--seconds" -> seconds = Double.parseDouble(value);
                    case "--connections" -> connections = positive(arg, Integer.parseInt(value));
                    case "--storm" -> storm = positive(arg, Integer.parseInt(value));
                    case "--storm-rate" -> stormRate = Double.parseDouble(value);
                    case "--interval-ms" -> interval = Double.parseDouble(value);
                    case "--workers" -> workers = positive(arg, Integer.parseInt(value));
                    case "--quiet-wait-seconds" -> quietWait = Integer.parseInt(value);
                    case "--jvm-warmup-seconds" -> jvmWarmup = Double.parseDouble(value);
                    default -> throw new IllegalArgumentException("unknown option " + arg);
                }
            }
            if (seconds <= 0 || warmup < 0 || interval <= 0) {
                throw new IllegalArgumentException("--seconds and --interval-ms must be > 0, --warmup-seconds >= 0");
            }
            return new Options(keys, modes, rounds, warmup, seconds, connections, storm, stormRate, interval, workers,
                    baseline, closeNotify, quietWait, jvmWarmup);
        }

        private static int positive(String option, int value) {
            if (value < 1) {
                throw new IllegalArgumentException(option + " < 1");
            }
            return value;
        }
    }

    /** One configuration's measurement. */
    record RunResult(BenchKey key, String mode, int round, PingClients.Result ping,
                     HandshakeStorm.Result storm, double seconds, Map<String, Long> cpuMillis,
                     double ownPercent, double othersPercent) {

        /** Corrected for coordinated omission: the latency that counts. */
        Latencies.Summary pings() {
            return ping.corrected();
        }

        double handshakesPerSecond() {
            return storm == null ? 0 : storm.handshakes().count() / seconds;
        }
    }

    private final Options options;
    private final PrintStream out;
    private final Path dir;

    KeyIsolationBench(Options options, PrintStream out, Path dir) {
        this.options = options;
        this.out = out;
        this.dir = dir;
    }

    public static void main(String[] args) throws Exception {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().isEmpty()) {
                System.err.println(e.getMessage());
            }
            System.err.print(Options.USAGE);
            System.exit(2);
            return;
        }
        // The daemon's per-connection log lines would be part of the measurement.
        DaemonLog.level("warn");
        Path dir = Files.createTempDirectory("tlsd-bench");
        try {
            new KeyIsolationBench(options, System.out, dir).runAll(String.join(" ", args));
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        System.exit(0); // the SDK's and the signer pool's daemon threads need no orderly end
    }

    List<RunResult> runAll(String commandLine) throws Exception {
        int cores = Runtime.getRuntime().availableProcessors();
        out.printf(Locale.ROOT, "KeyIsolationBench %s%n", commandLine);
        out.printf(Locale.ROOT, "machine: %d cores, %s %s, %s; daemon workers: %s%n", cores,
                System.getProperty("java.vm.name"), System.getProperty("java.version"), OpenSsl.versionString(),
                options.workers > 0 ? options.workers : "default (" + cores + ")");
        out.printf(Locale.ROOT, "per configuration: %.1f s warm-up, %.1f s measured; %d connections pinging every "
                        + "%.1f ms; storm: %s%n%n", options.warmupSeconds, options.seconds,
                options.connections, options.intervalMillis, options.stormRate > 0
                        ? String.format(Locale.ROOT, "%.0f new clients/s, at most %d in flight", options.stormRate,
                                options.storm)
                        : options.storm + " handshakes always in flight (closed loop)");

        Map<BenchKey, BenchKey.Pem> pems = new EnumMap<>(BenchKey.class);
        for (BenchKey key : options.keys) {
            pems.put(key, key.generate(dir));
        }
        warmUpJit(pems);
        List<RunResult> results = new ArrayList<>();
        for (int round = 1; round <= options.rounds; round++) {
            for (BenchKey key : options.keys) {
                List<String> modes = new ArrayList<>(options.modes);
                if (round % 2 == 0) {
                    Collections.reverse(modes);
                }
                if (options.baseline) {
                    modes.add(0, "auto/idle");
                }
                for (String mode : modes) {
                    RunResult result = run(key, pems.get(key), mode, round, options.warmupSeconds, options.seconds,
                            options.quietWaitSeconds > 0);
                    results.add(result);
                    out.println(row(result));
                }
            }
        }
        out.println();
        out.println(table(results));
        out.println(summary(results));
        return results;
    }

    /**
     * Runs every configuration, unrecorded, until the JIT compilers are nearly idle: on two cores a
     * busy C2 thread is a third of the machine, and would penalise whichever configuration comes
     * first. Stops after {@code --jvm-warmup-seconds} regardless.
     */
    private void warmUpJit(Map<BenchKey, BenchKey.Pem> pems) throws Exception {
        if (options.jvmWarmupSeconds <= 0) {
            return;
        }
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        long deadline = System.nanoTime() + (long) (options.jvmWarmupSeconds * 1e9);
        double share;
        do {
            long compiledBefore = jit.getTotalCompilationTime();
            long before = System.nanoTime();
            for (BenchKey key : options.keys) {
                for (String mode : options.modes) {
                    run(key, pems.get(key), mode, 0, 0, JIT_WARMUP_CHUNK_SECONDS, false);
                }
            }
            share = (jit.getTotalCompilationTime() - compiledBefore) * 1e6 / (System.nanoTime() - before);
        } while (share > JIT_QUIET_SHARE && System.nanoTime() < deadline);
        out.printf(Locale.ROOT, "(JIT warm-up done: compilers busy %.0f%% of the last pass)%n", 100 * share);
    }

    private RunResult run(BenchKey key, BenchKey.Pem pem, String mode, int round, double warmupSeconds,
                          double seconds, boolean awaitQuiet) throws Exception {
        boolean storm = !mode.endsWith("/idle");
        if (awaitQuiet) {
            double busy = MachineLoad.awaitQuiet(QUIET_BUSY_PERCENT, options.quietWaitSeconds * 1000L);
            if (busy >= QUIET_BUSY_PERCENT) {
                out.printf(Locale.ROOT, "(machine still %.0f%% busy after %d s; measuring anyway)%n",
                        busy, options.quietWaitSeconds);
            }
        }
        System.gc();
        Path socket = dir.resolve("s" + System.nanoTime() % 1_000_000 + ".sock");
        ListenerConfig listener = new ListenerConfig(LISTENER, new InetSocketAddress("127.0.0.1", 0),
                List.of(ListenerConfig.CertificateSpec.pem(List.of(), pem.certificate(), pem.key(), null)),
                List.of(), ClientAuthPolicy.NONE, null, Duration.ofSeconds(10), 4096, 0);
        DaemonConfig.Builder config = DaemonConfig.builder()
                .role(DaemonConfig.Role.SERVER)
                .socket(socket)
                .signing(SigningPolicy.parse(mode.replace("/idle", "")))
                .listeners(List.of(listener));
        if (options.workers > 0) {
            config.workerThreads(options.workers);
        }
        long windowNanos = (long) (seconds * 1e9);
        try (TlsdDaemon daemon = TlsdDaemon.start(config.build());
             EchoApp echo = new EchoApp(daemon.socketPath())) {
            InetSocketAddress address = daemon.listenerAddress(LISTENER);
            try (PingClients pings = new PingClients(trusting(pem), address, options.connections,
                    (long) (options.intervalMillis * 1e6));
                 HandshakeStorm handshakes = storm
                         ? new HandshakeStorm(address, options.storm, options.stormRate, daemon.socketPath(), LISTENER,
                                 options.closeNotify) : null) {
                for (int i = 0; i < options.connections; i++) {
                    echo.acceptOne(LISTENER, Duration.ofSeconds(10));
                }
                pings.start();
                if (handshakes != null) {
                    handshakes.start();
                }
                Thread.sleep((long) (warmupSeconds * 1000));
                ThreadCpu cpuBefore = ThreadCpu.snapshot();
                MachineLoad loadBefore = MachineLoad.snapshot();
                pings.recordWindow(windowNanos);
                if (handshakes != null) {
                    handshakes.recordWindow(windowNanos);
                }
                TimeUnit.NANOSECONDS.sleep(windowNanos);
                Map<String, Long> cpu = ThreadCpu.snapshot().millisSince(cpuBefore);
                MachineLoad loadAfter = MachineLoad.snapshot();
                PingClients.Result pingSummary = pings.stop();
                HandshakeStorm.Result stormResult = handshakes == null ? null : handshakes.stop();
                if (echo.failure() != null) {
                    throw new IllegalStateException("the echo application failed", echo.failure());
                }
                int cores = Runtime.getRuntime().availableProcessors();
                return new RunResult(key, mode, round, pingSummary, stormResult, seconds, cpu,
                        loadAfter.ownPercentSince(loadBefore, cores), loadAfter.othersPercentSince(loadBefore, cores));
            }
        }
    }

    /** Trusts exactly the bench certificate. */
    private static SSLContext trusting(BenchKey.Pem pem) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("bench", pem.x509());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }

    private static final String HEADER = "| key | signing | round | ping p50 µs | p99 µs | p99.9 µs | max µs | p99 from send µs | pings "
            + "| handshakes/s | hs p50 ms | hs p99 ms | hs failed | CPU ms worker / signer / storm client | JVM % | others % |";

    static String row(RunResult r) {
        if (r.pings().count() == 0) {
            // Every ping of the window was still unanswered when the bench gave up on it.
            return String.format(Locale.ROOT, "| %s | %s | %d | stalled: no ping of the %.0f s window answered |",
                    r.key().label(), r.mode(), r.round(), r.seconds());
        }
        HandshakeStorm.Result s = r.storm();
        return String.format(Locale.ROOT,
                "| %s | %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %d | %s | %s | %s | %s | %d / %d / %d | %.0f | %s |",
                r.key().label(), r.mode(), r.round(),
                r.pings().micros(0.50), r.pings().micros(0.99), r.pings().micros(0.999), r.pings().maxMicros(),
                r.ping().fromSend().micros(0.99), r.pings().count(),
                s == null ? "-" : String.format(Locale.ROOT, "%.0f", r.handshakesPerSecond()),
                s == null ? "-" : String.format(Locale.ROOT, "%.1f", s.handshakes().micros(0.50) / 1000),
                s == null ? "-" : String.format(Locale.ROOT, "%.1f", s.handshakes().micros(0.99) / 1000),
                s == null ? "-" : s.failed() + (s.shed() > 0 ? " (+" + s.shed() + " shed)" : ""),
                r.cpuMillis().getOrDefault("tlsd-worker", 0L), r.cpuMillis().getOrDefault("tlsd-signer", 0L),
                r.cpuMillis().getOrDefault("bench-storm", 0L),
                r.ownPercent(), r.othersPercent() < 0 ? "?" : String.format(Locale.ROOT, "%.0f", r.othersPercent()));
    }

    static String table(List<RunResult> results) {
        StringBuilder t = new StringBuilder(HEADER).append('\n');
        t.append("|---".repeat(16)).append("|\n");
        results.stream()
                .sorted(Comparator.comparing((RunResult r) -> r.key().ordinal())
                        .thenComparing(RunResult::mode).thenComparing(RunResult::round))
                .forEach(r -> t.append(row(r)).append('\n'));
        return t.toString();
    }

    /** Per key and mode: the rounds' ping p99 and handshake rates side by side. */
    static String summary(List<RunResult> results) {
        Map<String, List<RunResult>> byConfig = results.stream()
                .sorted(Comparator.comparing((RunResult r) -> r.key().ordinal()).thenComparing(RunResult::mode)
                        .thenComparing(RunResult::round))
                .collect(Collectors.groupingBy(r -> r.key().label() + " | " + r.mode(), LinkedHashMap::new,
                        Collectors.toList()));
        StringBuilder t = new StringBuilder("| key | signing | ping p99 µs (each round) | ping max µs | handshakes/s |\n")
                .append("|---|---|---|---|---|\n");
        byConfig.forEach((config, runs) -> t.append("| ").append(config).append(" | ")
                .append(join(runs, r -> r.pings().micros(0.99))).append(" | ")
                .append(join(runs, r -> r.pings().maxMicros())).append(" | ")
                .append(join(runs, RunResult::handshakesPerSecond)).append(" |\n"));
        return t.toString();
    }

    private static String join(List<RunResult> runs, ToDoubleFunction<RunResult> value) {
        return runs.stream().map(r -> Double.isNaN(value.applyAsDouble(r)) ? "stalled"
                        : String.format(Locale.ROOT, "%.0f", value.applyAsDouble(r)))
                .collect(Collectors.joining(" / "));
    }
}
