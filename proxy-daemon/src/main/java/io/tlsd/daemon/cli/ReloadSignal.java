package io.tlsd.daemon.cli;

import io.tlsd.daemon.TlsdDaemon;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * SIGHUP makes a foreground daemon read its certificate files again ({@link TlsdDaemon#reload()}),
 * so that renewed certificates and trust anchors are used without a restart. The outcome is
 * logged: what is used now, or why nothing changed.
 */
final class ReloadSignal {
    private static final Logger log = LoggerFactory.getLogger(ReloadSignal.class);

    private ReloadSignal() {
    }

    /**
     * Claims SIGHUP, so that it never stops the daemon (the JVM's default), and says so in the
     * log once it can be sent.
     */
    static void onReload(TlsdDaemon daemon) {
        onReload(daemon, SystemdNotify.NONE);
    }

    /** Also tells systemd ({@code RELOADING=1}, then {@code READY=1}) around each reload. */
    static void onReload(TlsdDaemon daemon, SystemdNotify systemd) {
        try {
            SignalHandler before = Signal.handle(new Signal("HUP"),
                    signal -> new Thread(() -> reload(daemon, systemd), "tlsd-reload").start());
            if (before == SignalHandler.SIG_IGN) {
                // The JVM leaves a signal the process inherited as ignored alone (nohup does that).
                log.warn("SIGHUP is ignored by this process (started with nohup?): it cannot reload the"
                        + " certificate files; start tlsd without nohup (a service manager needs none)");
            } else {
                log.info("SIGHUP reads the certificate files again");
            }
        } catch (IllegalArgumentException e) {
            log.debug("cannot handle SIGHUP: {}", e.getMessage());
        }
    }

    private static void reload(TlsdDaemon daemon, SystemdNotify systemd) {
        log.info("SIGHUP received, reading the certificate files again");
        systemd.reloading();
        String status;
        try {
            for (String what : daemon.reload()) {
                log.info("reload: {}", what);
            }
            status = "serving; certificate files read again";
        } catch (RuntimeException e) {
            log.error("reload failed, still using the previous certificates: {}", e.getMessage());
            status = "serving; the last reload failed, see the log";
        }
        systemd.ready(status);
    }
}
