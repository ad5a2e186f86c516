package io.tlsd.daemon.cli;

import io.tlsd.sdk.SocketPaths;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tlsd accept}: {@code nc -l} over the server daemon, built on the SDK only. Takes one
 * client of a listener, copies it to stdout and stdin to it.
 */
@Command(name = "accept", mixinStandardHelpOptions = true,
        description = {"Accept one TLS client from a listener of the server daemon; copy it to stdout and stdin to it.",
                "Exits 0 after the client closes cleanly; 1 when the connection fails; 69 when the daemon is not"
                        + " running; 77 when this process may not use it."})
final class AcceptCommand implements Callable<Integer> {
    @Option(names = "--socket", paramLabel = "PATH", description = "The server daemon's IPC socket")
    Path socket;

    @Option(names = {"-v", "--verbose"}, description = "Print the client's connection details to stderr")
    boolean verbose;

    @Option(names = {"-w", "--timeout"}, paramLabel = "DURATION",
            description = "Give up when no client comes within this long, e.g. 30s (default: wait for one)")
    String timeout;

    @Parameters(paramLabel = "LISTENER", arity = "0..1", defaultValue = "default",
            description = "The listener to accept from (default: ${DEFAULT-VALUE})")
    String listener;

    @Override
    public Integer call() throws Exception {
        java.time.Duration within = timeout == null ? java.time.Duration.ZERO
                : io.tlsd.daemon.config.ConfigFile.parseDuration(timeout, "--timeout");
        return StdioBridge.run(socket != null ? socket : SocketPaths.server(), "tlsd accept", listener, verbose,
                client -> client.accept(listener, within));
    }
}
