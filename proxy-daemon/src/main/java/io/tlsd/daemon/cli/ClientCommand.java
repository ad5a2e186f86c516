package io.tlsd.daemon.cli;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.config.ConfigFile;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tlsd client}: the client-role daemon, in the foreground until SIGTERM or SIGINT. */
@Command(name = "client", mixinStandardHelpOptions = true,
        description = {"Run the client-side daemon: applications open outbound TLS connections through it.",
                "Runs in the foreground, logs to stderr, and exits cleanly on SIGTERM, removing its socket."})
final class ClientCommand implements Callable<Integer> {
    @Option(names = "--socket", paramLabel = "PATH",
            description = "IPC socket (default: $XDG_RUNTIME_DIR/tlsd/client.sock or /tmp/tlsd-$USER/client.sock)")
    Path socket;

    @Option(names = "--ca-file", paramLabel = "PEM",
            description = "Trust anchors for verifying servers (default: the JDK trust store)")
    Path caFile;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML configuration; flags override it")
    Path config;

    @Option(names = "--transport", paramLabel = "auto|epoll|nio", description = "I/O transport (default: auto)")
    String transport;

    @Option(names = "--workers", paramLabel = "N", description = "Worker event loops (default: number of cores)")
    Integer workers;

    @Option(names = "--tls-provider", paramLabel = "boringssl|jdk", description = "TLS implementation (default: boringssl)")
    String tlsProvider;

    @Override
    public Integer call() throws Exception {
        DaemonConfig.Builder builder = config != null ? ConfigFile.load(config).toBuilder() : DaemonConfig.builder();
        if (socket != null) {
            builder.socket(socket);
        }
        if (caFile != null) {
            builder.caFile(caFile);
        }
        if (transport != null) {
            builder.transport(transport);
        }
        if (workers != null) {
            builder.workerThreads(workers);
        }
        if (tlsProvider != null) {
            builder.tlsProvider(tlsProvider);
        }
        DaemonConfig cfg = builder.build();
        if (cfg.caFile() != null && !java.nio.file.Files.isReadable(cfg.caFile())) {
            throw new IllegalArgumentException("--ca-file " + cfg.caFile() + " is not a readable file");
        }
        TlsdDaemon daemon;
        try {
            daemon = TlsdDaemon.start(cfg);
        } catch (java.io.IOException e) {
            System.err.println("tlsd client: cannot start: " + e.getMessage());
            return TlsdCommand.EXIT_FAILED;
        }
        StopSignals.onStop(daemon::close);
        daemon.awaitTermination();
        return 0;
    }
}
