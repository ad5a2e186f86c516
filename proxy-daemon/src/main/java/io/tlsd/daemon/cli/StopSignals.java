package io.tlsd.daemon.cli;

import io.tlsd.daemon.TlsdDaemon;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * SIGTERM and SIGINT stop a foreground daemon gracefully ({@link TlsdDaemon#drain}) and let it exit
 * 0, as service managers expect of a clean stop; a second one stops it at once. A JVM shutdown
 * hook stays as the fallback (exit 143) where the signals cannot be claimed.
 */
final class StopSignals {
    private static final Logger log = LoggerFactory.getLogger(StopSignals.class);

    private StopSignals() {
    }

    static void onStop(TlsdDaemon daemon, Duration drainTimeout) {
        onStop(daemon, drainTimeout, SystemdNotify.NONE);
    }

    /** Also tells systemd ({@code STOPPING=1}) when a stop begins. */
    static void onStop(TlsdDaemon daemon, Duration drainTimeout, SystemdNotify systemd) {
        Runtime.getRuntime().addShutdownHook(new Thread(daemon::close, "tlsd-shutdown"));
        AtomicBoolean stopping = new AtomicBoolean();
        for (String name : new String[] {"TERM", "INT"}) {
            try {
                Signal.handle(new Signal(name), signal -> {
                    if (stopping.compareAndSet(false, true) && !drainTimeout.isZero()) {
                        log.info("SIG{} received, stopping gracefully (another SIGTERM or SIGINT stops at once)", name);
                        systemd.stopping("draining for up to " + drainTimeout.toMillis() + " ms");
                        new Thread(() -> drain(daemon, drainTimeout), "tlsd-drain").start();
                    } else if (!drainTimeout.isZero()) {
                        log.warn("SIG{} received again, stopping at once: connections still open are cut", name);
                        systemd.stopping("stopping");
                        new Thread(daemon::close, "tlsd-stop").start();
                    } else {
                        log.info("SIG{} received, stopping", name);
                        systemd.stopping("stopping");
                        new Thread(daemon::close, "tlsd-stop").start();
                    }
                });
            } catch (IllegalArgumentException e) {
                log.debug("cannot handle SIG{}: {}", name, e.getMessage());
            }
        }
    }

    private static void drain(TlsdDaemon daemon, Duration timeout) {
        try {
            daemon.drain(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            daemon.close();
        }
    }
}
