package io.tlsd.daemon.metrics;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Prometheus's text exposition format (version 0.0.4): a {@code # HELP} and a {@code # TYPE} line
 * per metric, then one line per sample, the samples of one metric together.
 */
final class PrometheusText {
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private PrometheusText() {
    }

    static String format(List<Sample> samples) {
        Map<String, StringBuilder> byName = new LinkedHashMap<>();
        for (Sample sample : samples) {
            StringBuilder out = byName.computeIfAbsent(sample.name(), name -> new StringBuilder()
                    .append("# HELP ").append(name).append(' ').append(escapeHelp(sample.help())).append('\n')
                    .append("# TYPE ").append(name).append(' ').append(sample.type()).append('\n'));
            out.append(sample.name());
            if (!sample.labels().isEmpty()) {
                out.append('{');
                String separator = "";
                for (Map.Entry<String, String> label : sample.labels().entrySet()) {
                    out.append(separator).append(label.getKey()).append("=\"")
                            .append(escapeLabelValue(label.getValue())).append('"');
                    separator = ",";
                }
                out.append('}');
            }
            out.append(' ').append(sample.value()).append('\n');
        }
        StringBuilder text = new StringBuilder();
        byName.values().forEach(text::append);
        return text.toString();
    }

    private static String escapeHelp(String help) {
        return help.replace("\\", "\\\\").replace("\n", "\\n");
    }

    private static String escapeLabelValue(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
