package io.tlsd.daemon.cli;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.config.Addresses;
import io.tlsd.daemon.config.ConfigFile;
import io.tlsd.daemon.engine.AllowedTargets;
import io.tlsd.daemon.logging.DaemonLog;
import io.tlsd.daemon.tls.AllowedIdentities;
import io.tlsd.daemon.tls.signing.SigningPolicy;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/** The flags every daemon role shares, and running a daemon in the foreground. */
final class DaemonOptions {
    private static final Logger log = LoggerFactory.getLogger(DaemonOptions.class);

    @Option(names = "--socket", paramLabel = "PATH",
            description = "IPC socket (default: $XDG_RUNTIME_DIR/tlsd/ROLE.sock or /tmp/tlsd-$USER/ROLE.sock)")
    Path socket;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML configuration; flags override it. SIGHUP reads it again (docs/configuration.md)")
    Path config;

    @Option(names = "--transport", paramLabel = "auto|epoll|nio", description = "I/O transport (default: auto)")
    String transport;

    @Option(names = "--workers", paramLabel = "N", description = "Worker event loops (default: number of cores)")
    Integer workers;

    @Option(names = "--handshake-threads", paramLabel = "N",
            description = "Event loops for new connections' handshakes, apart from established traffic"
                    + " (default: half the cores, at least 1; 0: on the worker loops)")
    Integer handshakeThreads;

    @Option(names = "--max-handshakes-in-flight", paramLabel = "adaptive|N",
            description = "Client role: outbound connects and handshakes under way at once, the others wait:"
                    + " adaptive (the default) learns a limit per target, N is a limit over all, 0 none")
    String maxHandshakesInFlight;

    @Option(names = "--worker-busy-poll", paramLabel = "DURATION",
            description = "Longest a worker loop polls for I/O before it sleeps, adaptive, e.g. 50us"
                    + " (default: 0, always sleep)")
    String workerBusyPoll;

    @Option(names = "--drain-timeout", paramLabel = "DURATION",
            description = "On SIGTERM, how long to wait for connections under way to end before closing them,"
                    + " e.g. 60s (default: 15s; 0: stop at once)")
    String drainTimeout;

    @Option(names = "--tls-provider", paramLabel = "boringssl|jdk", description = "TLS implementation (default: boringssl)")
    String tlsProvider;

    @Option(names = "--tls-groups", paramLabel = "LIST", split = ",",
            description = "Key-exchange groups in order of preference, e.g. X25519,P-256 (default: BoringSSL's,"
                    + " X25519MLKEM768 first)")
    java.util.List<String> tlsGroups;

    @Option(names = "--signing", paramLabel = "auto|on-loop|off-loop",
            description = "Server role: where private-key operations run (default: auto, see docs/key-operations.md)")
    String signing;

    @Option(names = "--log-level", paramLabel = "error|warn|info|debug", description = "Log level (default: info)")
    String logLevel;

    @Option(names = "--log-format", paramLabel = "text|json",
            description = "Log lines on stderr as text (default) or as one JSON object each")
    String logFormat;

    @Option(names = "--send-buffer", paramLabel = "SIZE",
            description = "Client role: SO_SNDBUF of the TLS connections OPENs make, e.g. 1MiB (default: 0, the kernel's autotuning)")
    String sendBuffer;

    @Option(names = "--max-sessions", paramLabel = "N",
            description = "IPC sessions open at once; one more is refused with LIMIT_EXCEEDED (default: 256)")
    Integer maxSessions;

    @Option(names = "--max-sessions-per-uid", paramLabel = "N",
            description = "IPC sessions the processes of one user may hold at once; one more is refused with"
                    + " LIMIT_EXCEEDED (default: 0, no limit per user)")
    Integer maxSessionsPerUid;

    @Option(names = "--allow-target", paramLabel = "HOST:PORT",
            description = "Client role: applications may OPEN only these targets (repeatable): api.example.com:443,"
                    + " *.internal:443 (names under a domain), 10.0.0.5:5432, [2001:db8::1]:443, or * for any host or port;"
                    + " others fail UNAUTHORIZED (default: any)")
    List<String> allowTargets = new ArrayList<>();

    @Option(names = "--tcp-keepalive", paramLabel = "DURATION",
            description = "Idle time before TCP keepalive probes on the TLS connections of OPENs and listeners,"
                    + " e.g. 5m (default: 1m; 0: off)")
    String tcpKeepalive;

    @Option(names = "--metrics", paramLabel = "ADDR",
            description = "Serve Prometheus metrics on http://ADDR/metrics, e.g. 127.0.0.1:9464 (default: off)")
    String metrics;

    @Option(names = "--debug-socket", paramLabel = "PATH",
            description = "Also serve a text debug socket at PATH (mode 0600, off by default): nc -U PATH, then help")
    Path debugSocket;

    /** A tunnel's {@code --idle-timeout}: a duration such as {@code 30s}, or whole seconds; 0 for never. */
    static Duration idleTimeout(String value) {
        if (value.matches("[0-9]{1,9}")) {
            return Duration.ofSeconds(Long.parseLong(value));
        }
        return ConfigFile.parseDurationOrZero(value, "--idle-timeout");
    }

    /** The configuration file (if any) with these flags applied on top. */
    DaemonConfig.Builder builder() {
        DaemonConfig.Builder builder = config != null ? ConfigFile.load(config).toBuilder() : DaemonConfig.builder();
        if (socket != null) {
            builder.socket(socket);
        }
        if (transport != null) {
            builder.transport(transport);
        }
        if (workers != null) {
            builder.workerThreads(workers);
        }
        if (handshakeThreads != null) {
            builder.handshakeThreads(handshakeThreads);
        }
        if (maxHandshakesInFlight != null) {
            builder.maxHandshakesInFlight(ConfigFile.parseHandshakesInFlight(maxHandshakesInFlight,
                    "--max-handshakes-in-flight"));
        }
        if (workerBusyPoll != null) {
            builder.workerBusyPoll(ConfigFile.parseDurationOrZero(workerBusyPoll, "--worker-busy-poll"));
        }
        if (drainTimeout != null) {
            builder.drainTimeout(ConfigFile.parseDurationOrZero(drainTimeout, "--drain-timeout"));
        }
        if (tlsProvider != null) {
            builder.tlsProvider(tlsProvider);
        }
        if (tlsGroups != null) {
            builder.tlsGroups(tlsGroups);
        }
        if (debugSocket != null) {
            builder.debugSocket(debugSocket);
        }
        if (sendBuffer != null) {
            builder.sendBufferBytes(ConfigFile.parseSizeOrZero(sendBuffer, "--send-buffer"));
        }
        if (maxSessions != null) {
            builder.maxSessions(maxSessions);
        }
        if (maxSessionsPerUid != null) {
            builder.maxSessionsPerUid(maxSessionsPerUid);
        }
        if (!allowTargets.isEmpty()) {
            try {
                builder.allowedTargets(AllowedTargets.of(allowTargets));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--allow-target: " + e.getMessage(), e);
            }
        }
        if (tcpKeepalive != null) {
            builder.tcpKeepalive(ConfigFile.parseDurationOrZero(tcpKeepalive, "--tcp-keepalive"));
        }
        if (metrics != null) {
            try {
                builder.metrics(Addresses.parse(metrics));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--metrics: " + e.getMessage(), e);
            }
        }
        if (logLevel != null) {
            builder.logLevel(logLevel);
        }
        if (logFormat != null) {
            try {
                builder.logFormat(DaemonLog.Format.parse(logFormat));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--log-format: " + e.getMessage(), e);
            }
        }
        if (signing != null) {
            builder.signing(SigningPolicy.parse(signing));
        }
        return builder;
    }

    /**
     * The identities of {@code --allow-cn/--allow-dns/--allow-uri} (or their {@code --allow-server-}
     * forms); null when none is given.
     */
    static AllowedIdentities identities(List<String> commonNames, List<String> dnsNames, List<String> uris) {
        if (commonNames.isEmpty() && dnsNames.isEmpty() && uris.isEmpty()) {
            return null;
        }
        if (Stream.of(commonNames, dnsNames, uris).flatMap(List::stream).anyMatch(String::isBlank)) {
            throw new IllegalArgumentException("--allow-*: an empty name (an unset shell variable?) would match no one");
        }
        return new AllowedIdentities(commonNames, dnsNames, uris);
    }

    /**
     * Starts the daemon and blocks until SIGTERM or SIGINT stopped it.
     *
     * @param configAgain makes the configuration again, from the file read again, for SIGHUP; null
     *     when there is no file ({@link #config}), and SIGHUP reads the certificate files only
     */
    static int runInForeground(DaemonConfig config, Supplier<DaemonConfig> configAgain) throws InterruptedException {
        DaemonLog.configure(config.logLevel(), config.logFormat());
        TlsdDaemon daemon;
        try {
            daemon = TlsdDaemon.start(config);
        } catch (IOException e) {
            System.err.println("tlsd " + config.role().wireName() + ": cannot start: " + e.getMessage());
            return TlsdCommand.EXIT_FAILED;
        } catch (InterruptedException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (Exception e) {
            System.err.println("tlsd " + config.role().wireName() + ": cannot start: " + e);
            return TlsdCommand.EXIT_FAILED;
        }
        try (SystemdNotify systemd = SystemdNotify.fromEnvironment(System.getenv())) {
            StopSignals.onStop(daemon, config.drainTimeout(), systemd);
            ReloadSignal.onReload(daemon, systemd, config, configAgain);
            if (systemd.enabled()) {
                systemd.ready("serving");
                Duration watchdog = systemd.startWatchdog(System.getenv(), daemon.health());
                log.info("systemd notifications to {}{}", systemd.socketName(),
                        watchdog == null ? "" : ", watchdog every " + watchdog.dividedBy(2).toMillis() + " ms");
            }
            daemon.awaitTermination();
        }
        return 0;
    }
}
