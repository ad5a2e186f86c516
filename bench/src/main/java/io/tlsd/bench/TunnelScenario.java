package io.tlsd.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tunnel pair: load → client tunnel → TLS 1.3 → server tunnel → echo backend, for tlsd, stunnel4
 * and HAProxy, measured in alternation (each round visits every pair, starting with a different
 * one) so that the machine's noise hits all of them alike; medians of the rounds are compared,
 * but for the ping-pong's percentiles (see {@link #pingSlots}).
 */
final class TunnelScenario {
    private final Suite.Options options;
    private final LoadClient load;
    private final EchoBackend backend;
    private final List<TunnelPair> pairs;

    TunnelScenario(Suite.Options options, LoadClient load, EchoBackend backend, List<TunnelPair> pairs) {
        this.options = options;
        this.load = load;
        this.backend = backend;
        this.pairs = pairs;
    }

    interface Measure {
        double run(TunnelPair pair) throws Exception;
    }

    /** Medians over the rounds, per pair name. */
    private Map<String, Double> alternate(String what, Measure measure) throws Exception {
        Map<String, List<Double>> values = new LinkedHashMap<>();
        for (TunnelPair p : pairs) {
            values.put(p.name, new ArrayList<>());
        }
        for (int round = 0; round < options.rounds; round++) {
            for (int i = 0; i < pairs.size(); i++) {
                TunnelPair p = pairs.get((i + round) % pairs.size());
                double v = measure.run(p);
                values.get(p.name).add(v);
                Suite.progress("tunnel %s round %d %s: %.2f", what, round + 1, p.name, v);
            }
        }
        return medians(values);
    }

    /** The median of each pair's values, in the same order. */
    private static Map<String, Double> medians(Map<String, List<Double>> values) {
        Map<String, Double> medians = new LinkedHashMap<>();
        values.forEach((k, v) -> medians.put(k, median(v)));
        return medians;
    }

    static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        return v.length == 0 ? Double.NaN : v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    void run(Results results) throws Exception {
        long ms = options.millis;
        Map<String, Double> rate = alternate("conn/s", p -> load.connections(p.entryPort, null, 16, 100, ms).perSecond());
        compare(results, "new connections/s (16 conc.)", "conn/s", rate, true, Map.of("stunnel", 1.3, "haproxy", 1.0));
        for (int streams : new int[] {1, 8}) {
            String figure = streams == 1 ? "bulk, 1 stream" : "bulk, " + streams + " streams";
            Map<String, List<Double>> cpu = new LinkedHashMap<>();
            Map<String, Double> bulk = alternate("bulk" + streams, p -> {
                double cpuSeconds = p.cpuSeconds();
                MachineLoad machine = MachineLoad.snapshot();
                long sunk = backend.sunk.sum();
                double mibPerSecond = load.bulk(p.entryPort, null, backend, streams, 64 << 10, ms);
                double gib = (backend.sunk.sum() - sunk) / (double) (1L << 30);
                MachineLoad after = MachineLoad.snapshot();
                double perGib = gib == 0 ? Double.NaN : (p.cpuSeconds() - cpuSeconds) / gib;
                cpu.computeIfAbsent(p.name, k -> new ArrayList<>()).add(perGib);
                Suite.progress("tunnel bulk%d %s: core-s per GiB: the two daemons %.2f, this JVM's load and sink %.2f,"
                        + " the machine %.2f", streams, p.name, perGib, after.ownCoreSecondsSince(machine) / gib,
                        after.busyCoreSecondsSince(machine) / gib);
                return mibPerSecond;
            });
            compare(results, figure, "MiB/s", bulk, true, Map.of("stunnel", 1.3, "haproxy", 1.0));
            // What the throughput costs: both cores are busy in every pair, so a pair's CPU per
            // byte is what its rate follows (set-up and warm-up included, alike for every pair).
            compare(results, figure + ": daemons' CPU per GiB", "core-s", medians(cpu), false, Map.of());
        }
        Map<String, LoadClient.Latency> pings = pingSlots(ms);
        Map<String, Double> p50 = new LinkedHashMap<>();
        Map<String, Double> p99 = new LinkedHashMap<>();
        pings.forEach((name, l) -> {
            p50.put(name, l.p50());
            p99.put(name, l.p99());
        });
        compare(results, "64 B round trip p50", "µs", p50, false, Map.of());
        compare(results, "64 B round trip p99", "µs", p99, false, Map.of("stunnel", 1.0, "haproxy", 1.0));
    }

    /**
     * The 64-byte ping-pong: three times as many slots as rounds, each a third as long (at least a
     * second, or the whole measurement when shorter), the pairs alternating from slot to slot as
     * in {@link #alternate}; percentiles over every round trip of a pair's slots. The tail of these
     * round trips is mostly the machine's (moments when every thread on it runs slower), so the
     * finer the pairs alternate, the more alike the moments each of them is measured in.
     */
    private Map<String, LoadClient.Latency> pingSlots(long ms) throws Exception {
        int slots = 3 * options.rounds;
        long slotMillis = Math.max(ms / 3, Math.min(ms, 1000));
        Map<String, List<long[]>> trips = new LinkedHashMap<>();
        for (TunnelPair p : pairs) {
            trips.put(p.name, new ArrayList<>());
        }
        for (int slot = 0; slot < slots; slot++) {
            for (int i = 0; i < pairs.size(); i++) {
                TunnelPair p = pairs.get((i + slot) % pairs.size());
                long[] nanos = load.pingPongSamples(p.entryPort, null, 64, slotMillis);
                trips.get(p.name).add(nanos);
                Suite.progress("tunnel ping slot %d %s: %s", slot + 1, p.name, LoadClient.Latency.of(nanos.clone()));
            }
        }
        Map<String, LoadClient.Latency> pooled = new LinkedHashMap<>();
        trips.forEach((name, list) -> {
            long[] all = list.stream().flatMapToLong(Arrays::stream).toArray();
            LoadClient.Latency l = LoadClient.Latency.of(all);
            Suite.progress("tunnel ping %s, all %d slots: %s", name, slots, l);
            pooled.put(name, l);
        });
        return pooled;
    }

    private void compare(Results results, String figure, String unit, Map<String, Double> values, boolean higher,
                         Map<String, Double> goals) {
        double ours = values.get("tlsd");
        for (Map.Entry<String, Double> e : values.entrySet()) {
            if (e.getKey().equals("tlsd")) {
                continue;
            }
            double goal = goals.getOrDefault(e.getKey(), Double.NaN);
            if (higher) {
                results.higherIsBetter("tunnel pair", figure, unit, ours, e.getKey(), e.getValue(), goal);
            } else {
                results.lowerIsBetter("tunnel pair", figure, unit, ours, e.getKey(), e.getValue(), goal);
            }
        }
    }
}
