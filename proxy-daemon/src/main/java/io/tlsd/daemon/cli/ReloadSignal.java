package io.tlsd.daemon.cli;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.logging.DaemonLog;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * SIGHUP makes a foreground daemon read its configuration file (when it has one) and its
 * certificate files again ({@link TlsdDaemon#reload(DaemonConfig)}), so that renewed certificates,
 * trust anchors and changed TLS settings are used without a restart. The outcome is logged: what
 * is used now and what changed but needs a restart, or why nothing changed.
 */
final class ReloadSignal {
    private static final Logger log = LoggerFactory.getLogger(ReloadSignal.class);

    private final TlsdDaemon daemon;
    private final SystemdNotify systemd;
    /** The configuration read again (file and flags); null when there is no file to read. */
    private final Supplier<DaemonConfig> configAgain;
    /** The log level and format of the last configuration read, to tell a change in the file. */
    private String logLevel;
    private DaemonLog.Format logFormat;

    private ReloadSignal(TlsdDaemon daemon, SystemdNotify systemd, DaemonConfig config,
                         Supplier<DaemonConfig> configAgain) {
        this.daemon = daemon;
        this.systemd = systemd;
        this.configAgain = configAgain;
        this.logLevel = config.logLevel();
        this.logFormat = config.logFormat();
    }

    /**
     * Claims SIGHUP, so that it never stops the daemon (the JVM's default), and says so in the
     * log once it can be sent.
     *
     * @param config what the daemon started with
     * @param configAgain reads the configuration again, as the daemon's was made; null when it was
     *     made from the command line alone, and SIGHUP reads the certificate files only
     */
    static void onReload(TlsdDaemon daemon, SystemdNotify systemd, DaemonConfig config,
                         Supplier<DaemonConfig> configAgain) {
        ReloadSignal reload = new ReloadSignal(daemon, systemd, config, configAgain);
        String what = reload.what();
        try {
            SignalHandler before = Signal.handle(new Signal("HUP"),
                    signal -> new Thread(reload::reload, "tlsd-reload").start());
            if (before == SignalHandler.SIG_IGN) {
                // The JVM leaves a signal the process inherited as ignored alone (nohup does that).
                log.warn("SIGHUP is ignored by this process (started with nohup?): it cannot reload " + what
                        + "; start tlsd without nohup (a service manager needs none)");
            } else {
                log.info("SIGHUP reads {} again", what);
            }
        } catch (IllegalArgumentException e) {
            log.debug("cannot handle SIGHUP: {}", e.getMessage());
        }
    }

    private String what() {
        return configAgain == null ? "the certificate files" : "the configuration and certificate files";
    }

    /**
     * Takes the file's log level and format when they changed since the last time it was read,
     * saying so first, in the level and format before.
     */
    private void applyLogSettings(DaemonConfig next) {
        List<String> changed = new ArrayList<>();
        if (!next.logLevel().equals(logLevel)) {
            changed.add("log level " + next.logLevel());
        }
        if (next.logFormat() != logFormat) {
            changed.add("log format " + next.logFormat().name().toLowerCase(Locale.ROOT));
        }
        if (!changed.isEmpty()) {
            log.info("reload: {}", String.join(", ", changed));
            DaemonLog.configure(next.logLevel(), next.logFormat());
            logLevel = next.logLevel();
            logFormat = next.logFormat();
        }
    }

    private synchronized void reload() {
        log.info("SIGHUP received, reading {} again", what());
        systemd.reloading();
        String status;
        try {
            TlsdDaemon.Reloaded done;
            if (configAgain == null) {
                done = new TlsdDaemon.Reloaded(daemon.reload(), List.of());
            } else {
                AtomicReference<DaemonConfig> made = new AtomicReference<>();
                done = daemon.reload(() -> {
                    made.set(configAgain.get());
                    return made.get();
                });
                DaemonConfig next = made.get();
                applyLogSettings(next);
            }
            for (String what : done.used()) {
                log.info("reload: {}", what);
            }
            if (!done.notApplied().isEmpty()) {
                log.warn("reload: changed, but not applied until a restart: {}", String.join("; ", done.notApplied()));
            }
            int waiting = done.notApplied().size();
            status = "serving; " + what().substring("the ".length()) + " read again"
                    + (waiting == 0 ? "" : "; " + waiting + (waiting == 1 ? " change waits" : " changes wait")
                    + " for a restart, see the log");
        } catch (RuntimeException e) {
            log.error("reload failed, still using the previous settings and certificates: {}", e.getMessage());
            status = "serving; the last reload failed, see the log";
        }
        systemd.ready(status);
    }
}
