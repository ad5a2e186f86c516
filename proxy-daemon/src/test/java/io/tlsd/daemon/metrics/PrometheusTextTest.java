package io.tlsd.daemon.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PrometheusTextTest {
    @Test
    void helpAndTypeOncePerMetricThenItsSamplesTogether() {
        String text = PrometheusText.format(List.of(
                Sample.gauge("tlsd_sessions", "IPC sessions open", 2),
                DaemonMetrics.labelled("tlsd_tunnel_connections", Sample.GAUGE, "carried", "tunnel", "db", 3),
                Sample.counter("tlsd_ops_completed_total", "operations completed", 41),
                DaemonMetrics.labelled("tlsd_tunnel_connections", Sample.GAUGE, "carried", "tunnel", "web", 0)));
        assertEquals("""
                # HELP tlsd_sessions IPC sessions open
                # TYPE tlsd_sessions gauge
                tlsd_sessions 2
                # HELP tlsd_tunnel_connections carried
                # TYPE tlsd_tunnel_connections gauge
                tlsd_tunnel_connections{tunnel="db"} 3
                tlsd_tunnel_connections{tunnel="web"} 0
                # HELP tlsd_ops_completed_total operations completed
                # TYPE tlsd_ops_completed_total counter
                tlsd_ops_completed_total 41
                """, text);
    }

    @Test
    void labelValuesAndHelpAreEscaped() {
        // help: a newline and a backslash; label value: quotes, a backslash and a newline
        String text = PrometheusText.format(List.of(new Sample("tlsd_x", Sample.GAUGE, "one\ntwo \\ three",
                Map.of("name", "say \"hi\" \\ bye\n"), 1)));
        assertEquals("# HELP tlsd_x one\\ntwo \\\\ three\n"
                + "# TYPE tlsd_x gauge\n"
                + "tlsd_x{name=\"say \\\"hi\\\" \\\\ bye\\n\"} 1\n", text);
    }

    @Test
    void badNamesAndTypesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> Sample.gauge("tlsd-sessions", "x", 1));
        assertThrows(IllegalArgumentException.class, () -> new Sample("tlsd_x", "histogram", "x", Map.of(), 1));
    }
}
