package io.tlsd.daemon.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoopGroup;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class EventLoopProbeTest {
    private final EventLoopGroup control = new DefaultEventLoopGroup(1);
    private final EventLoopGroup workers = new DefaultEventLoopGroup(2);
    private final EventLoopProbe probe = new EventLoopProbe(groups(), Duration.ofMillis(200));

    private Map<String, EventLoopGroup> groups() {
        Map<String, EventLoopGroup> groups = new LinkedHashMap<>();
        groups.put("control", control);
        groups.put("worker", workers);
        return groups;
    }

    @AfterEach
    void stop() {
        control.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void loopsThatRunTheirTasksAreAlive() {
        assertNull(probe.stuck());
    }

    @Test
    void aBlockedLoopIsNamedAndRecovers() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch blocked = new CountDownLatch(1);
        var iterator = workers.iterator();
        iterator.next();
        iterator.next().execute(() -> {
            blocked.countDown();
            try {
                release.await(); // a blocking call on an event loop
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertTrue(blocked.await(5, TimeUnit.SECONDS));
        long start = System.nanoTime();
        assertEquals("worker loop 2 of 2 ran no task within 200 ms", probe.stuck());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(3), "the probe waits its timeout, not more");
        release.countDown();
        assertNull(probe.stuck());
    }

    @Test
    void aShutDownGroupIsNotAlive() {
        control.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
        assertEquals("control loop 1 of 1 is shut down", probe.stuck());
    }
}
