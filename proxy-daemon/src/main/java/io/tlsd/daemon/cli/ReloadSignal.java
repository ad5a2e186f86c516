package io.tlsd.daemon.cli;

import io.tlsd.daemon.TlsdDaemon;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * SIGHUP makes a foreground daemon read its certificate files again ({@link TlsdDaemon#reload()}),
 * so that renewed certificates are served without a restart. The outcome is logged: what is
 * served now, or why nothing changed.
 */
final class ReloadSignal {
    private static final Logger log = LoggerFactory.getLogger(ReloadSignal.class);

    private ReloadSignal() {
    }

    /**
     * Claims SIGHUP in either role, so that a stray one never stops the daemon (the JVM's default);
     * the server role says so in its log, once it can be sent.
     */
    static void onReload(TlsdDaemon daemon, boolean serverRole) {
        try {
            Signal.handle(new Signal("HUP"), signal -> new Thread(() -> reload(daemon), "tlsd-reload").start());
            if (serverRole) {
                log.info("SIGHUP reads the certificate files again");
            }
        } catch (IllegalArgumentException e) {
            log.debug("cannot handle SIGHUP: {}", e.getMessage());
        }
    }

    private static void reload(TlsdDaemon daemon) {
        log.info("SIGHUP received, reading the certificate files again");
        try {
            List<String> served = daemon.reload();
            if (served.isEmpty()) {
                log.info("reload: nothing to read again (the client role's trust anchors and client certificate"
                        + " take a restart)");
            }
            for (String what : served) {
                log.info("reload: {}", what);
            }
        } catch (RuntimeException e) {
            log.error("reload failed, still serving the previous certificates: {}", e.getMessage());
        }
    }
}
