/**
 * The daemon's counters for Prometheus: {@link io.tlsd.daemon.metrics.MetricsServer} serves them
 * as text on {@code GET /metrics} when {@code metrics: ADDR} (or {@code --metrics ADDR}) is set.
 */
package io.tlsd.daemon.metrics;
