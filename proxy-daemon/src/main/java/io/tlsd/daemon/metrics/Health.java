package io.tlsd.daemon.metrics;

/**
 * What the health endpoints answer ({@link MetricsServer}): {@code GET /healthz} (liveness: should
 * the daemon be restarted?) and {@code GET /readyz} (readiness: should new work be sent to it?).
 * Both are called on the metrics server's threads.
 */
public interface Health {
    /**
     * Why the daemon is not alive (e.g. an event loop that no longer runs its tasks), or null when
     * it is. May take up to a couple of seconds to find out.
     */
    String notLive();

    /** Why the daemon takes no new work (it drains or stops), or null when it does. */
    String notReady();
}
