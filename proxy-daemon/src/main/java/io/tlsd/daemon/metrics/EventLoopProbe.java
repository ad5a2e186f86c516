package io.tlsd.daemon.metrics;

import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Liveness of event loops: each loop runs a task that does nothing, and a loop that has not run
 * it within the timeout is stuck (a blocking call or an endless loop on it), which no connection
 * it carries survives. For {@code GET /healthz}.
 *
 * <pre>{@code
 * EventLoopProbe probe = new EventLoopProbe(Map.of("worker", workers), Duration.ofSeconds(2));
 * String stuck = probe.stuck(); // null, or "worker loop 2 of 4 ran no task within 2000 ms"
 * }</pre>
 */
public final class EventLoopProbe {
    private final Map<String, EventLoopGroup> groups;
    private final Duration timeout;

    /** @param groups the loops to probe, by the name a reply gives them ("worker", "handshake") */
    public EventLoopProbe(Map<String, EventLoopGroup> groups, Duration timeout) {
        this.groups = new LinkedHashMap<>(groups);
        this.timeout = timeout;
    }

    /** Null when every loop ran its task within the timeout; else which ones did not. */
    public String stuck() {
        record Probe(String name, Future<?> ran) { }
        List<Probe> probes = new ArrayList<>();
        List<String> stuck = new ArrayList<>();
        for (Map.Entry<String, EventLoopGroup> group : groups.entrySet()) {
            List<EventExecutor> loops = new ArrayList<>();
            group.getValue().forEach(loops::add);
            for (int i = 0; i < loops.size(); i++) {
                String name = group.getKey() + " loop " + (i + 1) + " of " + loops.size();
                try {
                    probes.add(new Probe(name, loops.get(i).submit(() -> { })));
                } catch (RejectedExecutionException e) {
                    stuck.add(name + " is shut down");
                }
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Probe probe : probes) {
            long left = Math.max(0, deadline - System.nanoTime());
            if (!probe.ran().awaitUninterruptibly(left, TimeUnit.NANOSECONDS)) {
                stuck.add(probe.name() + " ran no task within " + timeout.toMillis() + " ms");
            }
        }
        return stuck.isEmpty() ? null : String.join("; ", stuck);
    }
}
