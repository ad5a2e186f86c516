package io.tlsd.daemon.cli;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * SIGTERM and SIGINT stop a foreground daemon in order and let it exit 0, as service managers
 * expect of a clean stop. A JVM shutdown hook stays as the fallback (exit 143) where the signals
 * cannot be claimed.
 */
final class StopSignals {
    private static final Logger log = LoggerFactory.getLogger(StopSignals.class);

    private StopSignals() {
    }

    static void onStop(Runnable stop) {
        Runtime.getRuntime().addShutdownHook(new Thread(stop, "tlsd-shutdown"));
        for (String name : new String[] {"TERM", "INT"}) {
            try {
                Signal.handle(new Signal(name), signal -> {
                    log.info("SIG{} received, stopping", name);
                    new Thread(stop, "tlsd-stop").start();
                });
            } catch (IllegalArgumentException e) {
                log.debug("cannot handle SIG{}: {}", name, e.getMessage());
            }
        }
    }
}
