package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tlsd client} as a systemd unit of {@code Type=notify} with {@code WatchdogSec=} runs it:
 * NOTIFY_SOCKET and WATCHDOG_USEC in its environment, and its notifications received by socat on
 * that datagram socket, standing in for systemd.
 */
@Timeout(90)
class SystemdServiceTest {
    private static final Duration T = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    void aNotifyUnitIsToldReadyWatchdogReloadingAndStopping() throws Exception {
        Path notify = dir.resolve("notify");
        Path received = dir.resolve("notifications");
        Process socat = receiver("UNIX-RECV:" + notify, received);
        try {
            awaitFile(notify, socat);
            try (DaemonProcess daemon = DaemonProcess.start(dir.resolve("daemon.log"),
                    // SIGHUP at its default whatever this JVM inherited, as systemd starts services
                    List.of("env", "--default-signal=HUP", "NOTIFY_SOCKET=" + notify, "WATCHDOG_USEC=1000000"),
                    "client", "--socket", dir.resolve("run/client.sock").toString())) {
                // READY=1 once it serves and its signals are claimed
                awaitText(received, "READY=1\nSTATUS=serving\nMAINPID=" + daemon.process.pid() + "\n", 1, daemon);
                awaitText(received, "WATCHDOG=1\n", 2, daemon); // every half WatchdogSec
                assertTrue(Files.readString(received).startsWith("READY=1\n"), "ready before the watchdog");
                daemon.awaitLogLine("systemd notifications to " + notify + ", watchdog every 500 ms");

                daemon.signal("HUP");
                awaitText(received, "RELOADING=1\nMONOTONIC_USEC=", 1, daemon);
                awaitText(received, "READY=1\nSTATUS=serving; certificate files read again\nMAINPID=", 1, daemon);

                daemon.signal("TERM");
                awaitText(received, "STOPPING=1\nSTATUS=draining for up to 15000 ms\n", 1, daemon);
                assertTrue(daemon.process.waitFor(T.toSeconds(), TimeUnit.SECONDS), "stopped");
                assertEquals(0, daemon.process.exitValue());
                assertFalse(daemon.logText().contains(" ERROR "), "a clean stop, watchdog included:\n" + daemon.logText());
            }
        } finally {
            socat.destroy();
        }
    }

    @Test
    void anAbstractNotifySocketWorksToo() throws Exception {
        String name = "tlsd-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        Path received = dir.resolve("notifications");
        Process socat = receiver("ABSTRACT-RECV:" + name, received);
        try {
            awaitAbstractSocket(name, socat);
            Path config = Files.writeString(dir.resolve("client.yaml"), "socket: " + dir.resolve("run/c.sock") + "\n");
            try (DaemonProcess daemon = DaemonProcess.start(dir.resolve("daemon.log"),
                    List.of("env", "--default-signal=HUP", "NOTIFY_SOCKET=@" + name), "client", "--config",
                    config.toString())) {
                awaitText(received, "READY=1\nSTATUS=serving\nMAINPID=" + daemon.process.pid() + "\n", 1, daemon);

                // a change that only a restart applies is in the status too
                Files.writeString(config, "worker_threads: 13\n", StandardOpenOption.APPEND);
                daemon.signal("HUP");
                awaitText(received, "READY=1\nSTATUS=serving; configuration and certificate files read again; 1 change"
                        + " waits for a restart, see the log\nMAINPID=", 1, daemon);
            }
        } finally {
            socat.destroy();
        }
    }

    /** socat receiving datagrams on {@code address} (as systemd would) and appending them to {@code file}. */
    private static Process receiver(String address, Path file) throws Exception {
        return new ProcessBuilder("socat", "-u", address, "OPEN:" + file + ",creat,append")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static void awaitFile(Path file, Process owner) throws InterruptedException {
        long end = System.nanoTime() + T.toNanos();
        while (!Files.exists(file)) {
            if (!owner.isAlive() || System.nanoTime() > end) {
                fail("no " + file + " from socat");
            }
            Thread.sleep(20);
        }
    }

    /** Until socat listens on the abstract socket {@code name} (it leaves no file to wait for). */
    private static void awaitAbstractSocket(String name, Process owner) throws Exception {
        long end = System.nanoTime() + T.toNanos();
        while (!Files.readString(Path.of("/proc/net/unix")).contains(" @" + name + "\n")) {
            if (!owner.isAlive() || System.nanoTime() > end) {
                fail("socat does not listen on @" + name);
            }
            Thread.sleep(20);
        }
    }

    /** Until {@code file} holds {@code text} at least {@code times} times. */
    private static void awaitText(Path file, String text, int times, DaemonProcess daemon) throws Exception {
        long end = System.nanoTime() + T.toNanos();
        String got = "";
        while (System.nanoTime() < end) {
            got = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
            if (got.split(java.util.regex.Pattern.quote(text), -1).length - 1 >= times) {
                return;
            }
            Thread.sleep(20);
        }
        fail(times + "× `" + text + "` not among the notifications:\n" + got + "\nthe daemon's log:\n" + daemon.logText());
    }
}
