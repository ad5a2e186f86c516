package io.tlsd.bench;

import io.netty.channel.Channel;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The performance suite: tlsd against stunnel4, HAProxy and in-process Netty TLS on loopback,
 * one table at the end. {@code bench/run --help} lists the flags.
 *
 * <pre>{@code
 * bench/run                          # everything, ~8 minutes on 2 cores
 * bench/run --quick                  # a few seconds per scenario, one round (the smoke test's settings)
 * bench/run --scenarios tunnel,sdk --seconds 5 --rounds 5
 * }</pre>
 */
public final class Suite {
    /** Settings of one run. */
    static final class Options {
        long millis = 3000;
        int rounds = 3;
        List<String> scenarios = List.of("tunnel", "sdk", "handshake", "scale");
        List<String> peers = List.of("stunnel", "haproxy");
        int connections = 10_000;
        int workers = 0;
        int handshakeThreads = -1;
        /** tlsd's worker_busy_poll for every daemon, e.g. "50us"; empty: tlsd's default (off). */
        String busyPoll = "";
        /** tlsd's max_handshakes_in_flight for every daemon (adaptive, 0 or N); empty: tlsd's default (adaptive). */
        String maxHandshakesInFlight = "";
        /** tlsd's tls.groups where it is compared with OpenSSL 3.0 peers, which have no ML-KEM; empty: BoringSSL's. */
        List<String> groups = List.of("X25519");
        List<String> daemonJvm = List.of("-XX:+UseG1GC", "-Xms64m");
        /** JVM options of a second tlsd tunnel pair, "tlsd-b", compared like a peer; empty: none. */
        List<String> variantJvm = List.of();
        Path out = Path.of("bench-results");
        boolean quick;
        /** Warm-up beyond the fixed one, until the JIT compilers are nearly idle, at most this long; 0: none. */
        long jitWarmupMillis = 60_000;

        /** tlsd's config lines for its event loops (when set by flags). */
        String loopsYaml() {
            return (workers > 0 ? "worker_threads: " + workers + "\n" : "")
                    + (handshakeThreads >= 0 ? "handshake_threads: " + handshakeThreads + "\n" : "")
                    + (busyPoll.isEmpty() ? "" : "worker_busy_poll: " + busyPoll + "\n")
                    + (maxHandshakesInFlight.isEmpty() ? "" : "max_handshakes_in_flight: " + maxHandshakesInFlight + "\n");
        }

        /** The line under {@code tls:} with the groups for the comparisons with stunnel and HAProxy, or "". */
        String groupsYaml() {
            return groups.isEmpty() ? "" : "  groups: [" + String.join(", ", groups) + "]\n";
        }

        /** {@link #loopsYaml()} and, if there are groups, a {@code tls:} section with them. */
        String tlsdYaml() {
            return loopsYaml() + (groups.isEmpty() ? "" : "tls:\n" + groupsYaml());
        }

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--quick" -> {
                        o.quick = true;
                        o.millis = 1000;
                        o.rounds = 1;
                        o.connections = 500;
                        o.jitWarmupMillis = 0;
                    }
                    case "--seconds" -> o.millis = (long) (Double.parseDouble(args[++i]) * 1000);
                    case "--rounds" -> o.rounds = Integer.parseInt(args[++i]);
                    case "--jit-warmup" -> o.jitWarmupMillis = (long) (Double.parseDouble(args[++i]) * 1000);
                    case "--scenarios" -> o.scenarios = Arrays.asList(args[++i].split(","));
                    case "--peers" -> {
                        String peers = args[++i];
                        o.peers = peers.isEmpty() ? List.of() : Arrays.asList(peers.split(","));
                    }
                    case "--connections" -> o.connections = Integer.parseInt(args[++i]);
                    case "--workers" -> o.workers = Integer.parseInt(args[++i]);
                    case "--handshake-threads" -> o.handshakeThreads = Integer.parseInt(args[++i]);
                    case "--busy-poll" -> o.busyPoll = args[++i];
                    case "--max-handshakes-in-flight" -> o.maxHandshakesInFlight = args[++i];
                    case "--groups" -> {
                        String list = args[++i];
                        o.groups = list.equals("default") ? List.of() : Arrays.asList(list.split(","));
                    }
                    case "--daemon-jvm" -> o.daemonJvm = Arrays.asList(args[++i].trim().split("\\s+"));
                    case "--variant-jvm" -> o.variantJvm = Arrays.asList(args[++i].trim().split("\\s+"));
                    case "--out" -> o.out = Path.of(args[++i]);
                    case "--help", "-h" -> {
                        System.out.println("""
                                usage: bench/run [--quick] [--seconds S] [--rounds N] [--scenarios tunnel,sdk,handshake,scale]
                                                 [--peers stunnel,haproxy] [--connections N] [--workers N] [--handshake-threads N]
                                                 [--groups LIST|default] [--busy-poll DURATION] [--max-handshakes-in-flight adaptive|N]
                                                 [--daemon-jvm "OPTS"] [--variant-jvm "OPTS"] [--jit-warmup S] [--out DIR]
                                  --seconds    length of each measurement (default 3)
                                  --rounds     alternating rounds per comparison; medians are compared (default 3)
                                  --jit-warmup after the fixed warm-up, go on until the JIT compilers of tlsd's JVMs
                                               and of this one are nearly idle, at most S seconds (default 60; 0: no)
                                  --connections idle connections of the scale scenario (default 10000)
                                  --workers    tlsd worker loops (default: cores)
                                  --handshake-threads tlsd handshake loops (default: tlsd's, cores; 0: on the workers)
                                  --busy-poll  worker_busy_poll for every tlsd daemon, e.g. 50us (default: tlsd's, off;
                                               the SDK scenario measures round trips with 50us apart anyway)
                                  --max-handshakes-in-flight max_handshakes_in_flight for every tlsd daemon
                                               (default: tlsd's, adaptive; 0: no limit; it applies to the client
                                               role's OPENs)
                                  --daemon-jvm the JVM options of every tlsd daemon (default: -XX:+UseG1GC -Xms64m)
                                  --variant-jvm the tunnel scenario also runs a second tlsd pair, "tlsd-b", whose
                                               daemons take these JVM options instead, in the same alternation,
                                               compared like a peer (no goals): for trying a change
                                  --groups     tlsd's key-exchange groups against stunnel and HAProxy (default: X25519,
                                               as their OpenSSL 3.0 negotiates; "default": BoringSSL's, ML-KEM hybrid first)
                                  --out        where results.md, results.txt and ratios.png go (default bench-results)""");
                        System.exit(0);
                    }
                    default -> throw new IllegalArgumentException("unknown flag " + a + " (see --help)");
                }
            }
            return o;
        }
    }

    private static final long START = System.nanoTime();

    static void progress(String format, Object... args) {
        System.err.printf(Locale.ROOT, "[%6.1fs] " + format + "%n",
                prepend((System.nanoTime() - START) / 1e9, args));
    }

    private static Object[] prepend(Object first, Object[] rest) {
        Object[] all = new Object[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    public static void main(String[] args) throws Exception {
        Options options = Options.parse(args);
        Results results = run(options);
        System.out.println();
        System.out.println(results.text());
        Files.createDirectories(options.out);
        Files.writeString(options.out.resolve("results.md"), results.markdown());
        Files.writeString(options.out.resolve("results.txt"), results.text());
        results.chart(options.out.resolve("ratios.png"), "tlsd bench " + Instant.now().toString().substring(0, 16)
                + " — " + Runtime.getRuntime().availableProcessors() + " cores");
        System.out.println("written: " + options.out.resolve("results.md") + ", " + options.out.resolve("ratios.png"));
        System.exit(results.rows.isEmpty() ? 1 : 0);
    }

    /** Runs the chosen scenarios; also the smoke test's entry. */
    static Results run(Options options) throws Exception {
        System.setProperty("java.awt.headless", "true");
        Results results = new Results();
        boolean epoll = Epoll.isAvailable();
        Class<? extends Channel> socket = epoll ? EpollSocketChannel.class : NioSocketChannel.class;
        Class<? extends ServerChannel> server = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        MultiThreadIoEventLoopGroup loadGroup = new MultiThreadIoEventLoopGroup(2, new DefaultThreadFactory("bench-load"),
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        MultiThreadIoEventLoopGroup backendGroup = new MultiThreadIoEventLoopGroup(2,
                new DefaultThreadFactory("bench-backend"), epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        Path dir = Files.createTempDirectory("tlsd-bench");
        List<AutoCloseable> open = new ArrayList<>();
        try {
            BenchPki pki = BenchPki.create(dir.resolve("pki"));
            LoadClient load = new LoadClient(loadGroup, socket);
            EchoBackend backend = new EchoBackend(backendGroup, server, null);
            open.add(backend);
            progress("machine: %s", MachineInfo.describe());
            if (options.scenarios.contains("tunnel")) {
                List<TunnelPair> pairs = new ArrayList<>();
                pairs.add(TunnelPair.tlsd(pki, dir, backend.port(), options));
                if (!options.variantJvm.isEmpty()) {
                    pairs.add(TunnelPair.tlsd("tlsd-b", options.variantJvm, pki, dir, backend.port(), options));
                }
                if (options.peers.contains("stunnel")) {
                    pairs.add(TunnelPair.stunnel(pki, dir, backend.port()));
                }
                if (options.peers.contains("haproxy")) {
                    pairs.add(TunnelPair.haproxy(pki, dir, backend.port(), Runtime.getRuntime().availableProcessors()));
                }
                open.addAll(pairs);
                progress("tunnel pairs up: %s", pairs.stream().map(p -> p.name).toList());
                // warm-up, mostly for the JIT of the JVM daemons: every pair gets the same; the
                // handshake path is the longest to compile, so connections get the most
                long warm = Math.min(3000, Math.max(600, options.millis));
                for (TunnelPair p : pairs) {
                    // a JVM's C2 needs several seconds of new connections on 2 busy cores
                    load.connections(p.entryPort, null, 16, 100, options.quick ? warm : 3 * warm);
                    load.bulk(p.entryPort, null, backend, 8, 64 << 10, warm / 3);
                    load.pingPong(p.entryPort, null, 64, warm / 3);
                    // then on until the compilers are done (tlsd's two JVMs and this one)
                    JitWarmup.untilQuiet("tunnel " + p.name, List.of(p.client.pid(), p.server.pid()), () -> {
                        load.connections(p.entryPort, null, 16, 100, 1500);
                        load.bulk(p.entryPort, null, backend, 8, 64 << 10, 250);
                        load.pingPong(p.entryPort, null, 64, 250);
                    }, options.jitWarmupMillis);
                }
                new TunnelScenario(options, load, backend, pairs).run(results);
                for (TunnelPair p : pairs) {
                    p.close();
                }
            }
            if (options.scenarios.contains("sdk")) {
                new SdkScenario(options, pki, dir, loadGroup, backendGroup, socket, server).run(results);
            }
            if (options.scenarios.contains("handshake")) {
                new HandshakeScenario(options, pki, dir, load, backend).run(results);
            }
            if (options.scenarios.contains("scale")) {
                new ScaleScenario(options, pki, dir, backendGroup, loadGroup, server).run(results);
            }
        } finally {
            for (AutoCloseable c : open) {
                try {
                    c.close();
                } catch (Exception e) {
                    progress("closing %s: %s", c, e);
                }
            }
            loadGroup.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
            backendGroup.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
        }
        return results;
    }
}
