package io.tlsd.daemon.cli;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.Socket;
import io.tlsd.daemon.metrics.Health;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * systemd's service notifications (sd_notify(3)) for a unit of {@code Type=notify} (or {@code
 * notify-reload}): {@code READY=1} once the daemon serves, {@code RELOADING=1} and {@code READY=1}
 * around a SIGHUP reload, {@code STOPPING=1} when a stop begins, each with a {@code STATUS=} line
 * for {@code systemctl status}; and with {@code WatchdogSec=}, {@code WATCHDOG=1} every half
 * period while every event loop still runs its tasks ({@link Health#notLive}), so that systemd
 * restarts a daemon whose loop is stuck.
 *
 * <p>Nothing happens unless systemd set {@code NOTIFY_SOCKET}. A notification is one datagram on
 * that Unix socket ({@code @NAME} is in the abstract namespace), sent with Netty's native
 * transport: where epoll does not load there are none, and a warning says so. A notification
 * that cannot be sent is logged (once) and changes nothing else.
 */
final class SystemdNotify implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SystemdNotify.class);

    /** Shorter than this, the watchdog may fire while the liveness check still waits for a busy loop. */
    static final Duration MIN_WATCHDOG = Duration.ofSeconds(10);

    /** How long a notification waits while systemd's socket is full. */
    static final Duration SEND_PATIENCE = Duration.ofSeconds(1);

    /** Does nothing: no NOTIFY_SOCKET. */
    static final SystemdNotify NONE = new SystemdNotify(null, null, null);

    private final String socketName;
    private final byte[] address;
    private final Socket socket;
    private final AtomicBoolean failedBefore = new AtomicBoolean();
    /** Guarded by this: the socket's descriptor must not be used once closed (its number is reused). */
    private boolean closed;
    private volatile ScheduledExecutorService watchdog;

    private SystemdNotify(String socketName, byte[] address, Socket socket) {
        this.socketName = socketName;
        this.address = address;
        this.socket = socket;
    }

    /** From {@code NOTIFY_SOCKET} in {@code env}; {@link #NONE} when it is unset or unusable. */
    static SystemdNotify fromEnvironment(Map<String, String> env) {
        String name = env.get("NOTIFY_SOCKET");
        if (name == null || name.isEmpty()) {
            return NONE;
        }
        if (!Epoll.isAvailable()) {
            log.warn("NOTIFY_SOCKET is set, but systemd notifications need the epoll transport, which does not load"
                    + " here: {}", String.valueOf(Epoll.unavailabilityCause()));
            return NONE;
        }
        // "@name": the abstract namespace, whose names start with a NUL byte
        byte[] address = (name.startsWith("@") ? "\0" + name.substring(1) : name).getBytes(StandardCharsets.UTF_8);
        try {
            return new SystemdNotify(name, address, Socket.newSocketDomainDgram());
        } catch (RuntimeException e) {
            log.warn("NOTIFY_SOCKET {}: cannot make a datagram socket: {}", name, e.toString());
            return NONE;
        }
    }

    /** The daemon serves: {@code READY=1}, its pid and {@code status}. */
    void ready(String status) {
        send("READY=1\nSTATUS=" + status + "\nMAINPID=" + ProcessHandle.current().pid() + "\n");
    }

    /** A reload begins: {@code RELOADING=1} with the monotonic clock, as notify-reload units need. */
    void reloading() {
        // HotSpot's nanoTime is CLOCK_MONOTONIC on Linux, the clock systemd means
        send("RELOADING=1\nMONOTONIC_USEC=" + System.nanoTime() / 1000 + "\nSTATUS=reloading\n");
    }

    /**
     * A stop begins: {@code STOPPING=1} and {@code status}. The watchdog stops too: systemd
     * times a stop with {@code TimeoutStopSec}, and the event loops shut down at its end.
     */
    void stopping(String status) {
        stopWatchdog();
        send("STOPPING=1\nSTATUS=" + status + "\n");
    }

    /**
     * With {@code WATCHDOG_USEC} in {@code env} (and {@code WATCHDOG_PID}, if set, this process),
     * sends {@code WATCHDOG=1} every half period while {@code health} says the daemon is alive.
     *
     * @return the period, or null when there is no watchdog
     */
    Duration startWatchdog(Map<String, String> env, Health health) {
        if (socket == null || env.get("WATCHDOG_USEC") == null) {
            return null;
        }
        String pid = env.get("WATCHDOG_PID");
        if (pid != null && !pid.equals(Long.toString(ProcessHandle.current().pid()))) {
            return null; // meant for another process (one that started this one)
        }
        long usec;
        try {
            usec = Long.parseLong(env.get("WATCHDOG_USEC"));
        } catch (NumberFormatException e) {
            log.warn("WATCHDOG_USEC {} is not a number: no watchdog notifications", env.get("WATCHDOG_USEC"));
            return null;
        }
        if (usec <= 0) {
            return null;
        }
        Duration period = Duration.ofNanos(usec * 1000);
        if (period.compareTo(MIN_WATCHDOG) < 0) {
            log.warn("WatchdogSec={} ms is short: tlsd's liveness check may take up to 2 s on a busy machine;"
                    + " give it {} s or more", period.toMillis(), MIN_WATCHDOG.toSeconds());
        }
        watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tlsd-watchdog");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(1, usec / 2);
        watchdog.scheduleAtFixedRate(() -> {
            String stuck = health.notLive();
            if (stuck == null) {
                send("WATCHDOG=1\n");
            } else {
                log.error("not telling systemd's watchdog that tlsd is alive: {}", stuck);
            }
        }, 0, every, TimeUnit.MICROSECONDS);
        return period;
    }

    boolean enabled() {
        return socket != null;
    }

    /** Where notifications go, e.g. "/run/systemd/notify"; null when nowhere. */
    String socketName() {
        return socketName;
    }

    /**
     * One datagram. The socket does not block: while systemd's queue is full (0 bytes sent) it
     * tries again for up to {@link #SEND_PATIENCE}, as sd_notify's blocking send would wait.
     */
    private void send(String state) {
        if (socket == null) {
            return;
        }
        byte[] bytes = state.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
        long deadline = System.nanoTime() + SEND_PATIENCE.toNanos();
        try {
            synchronized (this) {
                while (!closed && socket.sendToDomainSocket(buffer, 0, bytes.length, address) == 0) {
                    if (System.nanoTime() > deadline) {
                        throw new IOException("systemd's socket stayed full for " + SEND_PATIENCE.toMillis() + " ms");
                    }
                    wait(5);
                }
            }
        } catch (IOException | RuntimeException e) {
            if (failedBefore.compareAndSet(false, true)) {
                log.warn("cannot notify systemd at NOTIFY_SOCKET {}: {} (said once)", socketName, e.toString());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void stopWatchdog() {
        ScheduledExecutorService w = watchdog;
        if (w != null) {
            w.shutdownNow();
            try {
                w.awaitTermination(5, TimeUnit.SECONDS); // a tick under way, its probe included
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        stopWatchdog();
        if (socket != null) {
            synchronized (this) {
                closed = true;
                try {
                    socket.close();
                } catch (IOException e) {
                    // nothing left to tell
                }
            }
        }
    }
}
