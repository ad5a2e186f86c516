package io.tlsd.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.DomainDatagramSocketAddress;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.Socket;
import io.tlsd.daemon.metrics.Health;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The notifications on a datagram socket of the test's own, standing in for systemd's. */
class SystemdNotifyTest {
    @TempDir
    Path dir;
    private Socket systemd;
    private Path path;

    @BeforeEach
    void bind() throws IOException {
        assumeTrue(Epoll.isAvailable(), "Unix datagrams need the epoll transport");
        path = dir.resolve("notify");
        systemd = Socket.newSocketDomainDgram();
        systemd.bind(new DomainSocketAddress(path.toFile()));
    }

    @AfterEach
    void close() throws IOException {
        if (systemd != null) {
            systemd.close();
        }
    }

    @Test
    void withoutNotifySocketNothingIsSent() {
        assertSame(SystemdNotify.NONE, SystemdNotify.fromEnvironment(Map.of()));
        assertFalse(SystemdNotify.NONE.enabled());
        SystemdNotify.NONE.ready("serving"); // does nothing, throws nothing
    }

    @Test
    void readyReloadingAndStoppingAreOneDatagramEach() throws Exception {
        try (SystemdNotify notify = SystemdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", path.toString()))) {
            notify.ready("serving");
            notify.reloading();
            notify.stopping("draining for up to 15000 ms");
            List<String> got = receive(3, Duration.ofSeconds(5));
            assertEquals("READY=1\nSTATUS=serving\nMAINPID=" + ProcessHandle.current().pid() + "\n", got.get(0));
            assertTrue(got.get(1).matches("RELOADING=1\nMONOTONIC_USEC=\\d+\nSTATUS=.*\n"), got.get(1));
            long usec = Long.parseLong(got.get(1).split("\n")[1].substring("MONOTONIC_USEC=".length()));
            // CLOCK_MONOTONIC counts from boot, as /proc/uptime does (they part only across a suspend)
            double uptime = Double.parseDouble(Files.readString(Path.of("/proc/uptime")).split(" ")[0]);
            assertTrue(Math.abs(uptime - usec / 1e6) < 5, "CLOCK_MONOTONIC in µs: " + usec + ", uptime " + uptime + " s");
            assertEquals("STOPPING=1\nSTATUS=draining for up to 15000 ms\n", got.get(2));
        }
    }

    @Test
    void theWatchdogIsFedOnlyWhileTheLoopsAreAlive() throws Exception {
        AtomicReference<String> stuck = new AtomicReference<>();
        Health health = new Health() {
            @Override
            public String notLive() {
                return stuck.get();
            }

            @Override
            public String notReady() {
                return null;
            }
        };
        try (SystemdNotify notify = SystemdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", path.toString()))) {
            assertNull(notify.startWatchdog(Map.of("WATCHDOG_USEC", "200000", "WATCHDOG_PID", "1"), health),
                    "a watchdog meant for another process");
            assertEquals(Duration.ofMillis(200), notify.startWatchdog(Map.of("WATCHDOG_USEC", "200000"), health));
            assertEquals(List.of("WATCHDOG=1\n", "WATCHDOG=1\n"), receive(2, Duration.ofSeconds(5)));
            stuck.set("worker loop 1 of 2 ran no task within 2000 ms");
            receive(100, Duration.ofMillis(300)); // those sent or under way before
            assertEquals(List.of(), receive(1, Duration.ofMillis(500)), "no WATCHDOG=1 while a loop is stuck");
            stuck.set(null);
            assertEquals(List.of("WATCHDOG=1\n"), receive(1, Duration.ofSeconds(5)), "again once it is not");
            notify.stopping("stopping");
            receive(100, Duration.ofMillis(300)); // STOPPING=1 and any tick under way
            assertEquals(List.of(), receive(1, Duration.ofMillis(500)), "no watchdog once the stop began");
        }
    }

    /** Up to {@code count} datagrams, waiting at most {@code timeout} for them. */
    private List<String> receive(int count, Duration timeout) throws Exception {
        List<String> got = new ArrayList<>();
        ByteBuffer buffer = ByteBuffer.allocateDirect(4096);
        long end = System.nanoTime() + timeout.toNanos();
        while (got.size() < count && System.nanoTime() < end) {
            DomainDatagramSocketAddress from = systemd.recvFromDomainSocket(buffer, 0, buffer.capacity());
            if (from == null) {
                TimeUnit.MILLISECONDS.sleep(5); // non-blocking socket: nothing yet
                continue;
            }
            byte[] bytes = new byte[from.receivedAmount()];
            buffer.get(0, bytes);
            got.add(new String(bytes, StandardCharsets.UTF_8));
        }
        return got;
    }
}
