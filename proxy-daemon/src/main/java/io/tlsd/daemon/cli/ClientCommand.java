package io.tlsd.daemon.cli;

import io.tlsd.daemon.DaemonConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tlsd client}: the client-role daemon, in the foreground until SIGTERM or SIGINT. */
@Command(name = "client", mixinStandardHelpOptions = true,
        description = {"Run the client-side daemon: applications open outbound TLS connections through it.",
                "Runs in the foreground, logs to stderr, and exits cleanly on SIGTERM, removing its socket."})
final class ClientCommand implements Callable<Integer> {
    @Mixin
    DaemonOptions daemon;

    @Option(names = "--ca-file", paramLabel = "PEM",
            description = "Trust anchors for verifying servers (default: the JDK trust store)")
    Path caFile;

    @Override
    public Integer call() throws Exception {
        DaemonConfig.Builder builder = daemon.builder().role(DaemonConfig.Role.CLIENT);
        if (caFile != null) {
            builder.caFile(caFile);
        }
        DaemonConfig cfg = builder.build();
        if (cfg.caFile() != null && !Files.isReadable(cfg.caFile())) {
            throw new IllegalArgumentException("--ca-file " + cfg.caFile() + " is not a readable file");
        }
        return DaemonOptions.runInForeground(cfg);
    }
}
