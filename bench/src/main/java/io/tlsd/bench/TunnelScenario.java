package io.tlsd.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tunnel pair: load → client tunnel → TLS 1.3 → server tunnel → echo backend, for tlsd, stunnel4
 * and HAProxy, measured in alternation (each round visits every pair, starting with a different
 * one) so that the machine's noise hits all of them alike; medians of the rounds are compared.
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
        Map<String, Double> bulk1 = alternate("bulk1", p -> load.bulk(p.entryPort, null, backend, 1, 64 << 10, ms));
        compare(results, "bulk, 1 stream", "MiB/s", bulk1, true, Map.of("stunnel", 1.3, "haproxy", 1.0));
        Map<String, Double> bulk8 = alternate("bulk8", p -> load.bulk(p.entryPort, null, backend, 8, 64 << 10, ms));
        compare(results, "bulk, 8 streams", "MiB/s", bulk8, true, Map.of("stunnel", 1.3, "haproxy", 1.0));
        Map<String, LoadClient.Latency> last = new LinkedHashMap<>();
        Map<String, Double> p50 = alternate("ping p50", p -> {
            LoadClient.Latency l = load.pingPong(p.entryPort, null, 64, ms);
            Suite.progress("tunnel ping %s: %s", p.name, l);
            last.put(p.name + "#" + System.nanoTime(), l);
            return l.p50();
        });
        // p99 from the same runs as p50: median of each round's p99
        Map<String, List<Double>> p99s = new LinkedHashMap<>();
        last.forEach((k, l) -> p99s.computeIfAbsent(k.substring(0, k.indexOf('#')), x -> new ArrayList<>()).add(l.p99()));
        Map<String, Double> p99 = new LinkedHashMap<>();
        p99s.forEach((k, v) -> p99.put(k, median(v)));
        compare(results, "64 B round trip p50", "µs", p50, false, Map.of());
        compare(results, "64 B round trip p99", "µs", p99, false, Map.of("stunnel", 1.0, "haproxy", 1.0));
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
