package io.tlsd.daemon.metrics;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One value of one metric, e.g. {@code tlsd_connections 12} or
 * {@code tlsd_tunnel_connections{tunnel="db"} 3}.
 *
 * @param name the metric's name, {@code tlsd_…}; a counter's ends in {@code _total}
 * @param type {@link #COUNTER} (only grows while the daemon runs) or {@link #GAUGE}
 * @param help what it counts, one line
 * @param labels label names to values, in the order to print them; empty for none
 * @param value the value now
 */
public record Sample(String name, String type, String help, Map<String, String> labels, long value) {
    public static final String COUNTER = "counter";
    public static final String GAUGE = "gauge";

    public Sample {
        Objects.requireNonNull(name, "name");
        if (!name.matches("[a-zA-Z_:][a-zA-Z0-9_:]*")) {
            throw new IllegalArgumentException("not a metric name: " + name);
        }
        if (!type.equals(COUNTER) && !type.equals(GAUGE)) {
            throw new IllegalArgumentException("type " + type + " is neither counter nor gauge");
        }
        labels = Collections.unmodifiableMap(new LinkedHashMap<>(labels));
    }

    public static Sample counter(String name, String help, long value) {
        return new Sample(name, COUNTER, help, Map.of(), value);
    }

    public static Sample gauge(String name, String help, long value) {
        return new Sample(name, GAUGE, help, Map.of(), value);
    }
}
