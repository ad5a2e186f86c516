package io.tlsd.daemon.cli;

import io.tlsd.sdk.OpenOptions;
import io.tlsd.sdk.SocketPaths;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tlsd connect}: netcat over the client daemon, built on the SDK only. Standard input goes
 * to the connection (its end sends close_notify), the connection goes to standard output.
 */
@Command(name = "connect", mixinStandardHelpOptions = true,
        description = {"Open a TLS connection through the client daemon and copy stdin to it and it to stdout.",
                "Exits 0 after the peer closes cleanly (input not read by then is not sent, as with nc); 1 with"
                        + " the reason (e.g. the certificate problem) when the connection fails or input could not be"
                        + " sent; 69 when the daemon is not running; 77 when this process may not use it."})
final class ConnectCommand implements Callable<Integer> {
    @Option(names = "--socket", paramLabel = "PATH", description = "The client daemon's IPC socket")
    Path socket;

    @Option(names = "--servername", paramLabel = "NAME",
            description = "Name sent as SNI and verified against the certificate (default: HOST)")
    String serverName;

    @Option(names = "--alpn", paramLabel = "LIST", split = ",", description = "ALPN protocols to offer, e.g. h2,http/1.1")
    List<String> alpn;

    @Option(names = {"-v", "--verbose"}, description = "Print the negotiated connection details to stderr")
    boolean verbose;

    @Option(names = {"-w", "--timeout"}, paramLabel = "DURATION",
            description = "Give up when the connection is not up within this long, e.g. 5s (default: no limit)")
    String timeout;

    @Parameters(paramLabel = "HOST:PORT", description = "The TLS server to connect to")
    String target;

    @Override
    public Integer call() throws Exception {
        int colon = target.lastIndexOf(':');
        if (colon <= 0 || colon == target.length() - 1) {
            throw new IllegalArgumentException("expected HOST:PORT, got '" + target + "'");
        }
        String host = target.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(target.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("port '" + target.substring(colon + 1) + "' is not a number");
        }
        OpenOptions.Builder options = OpenOptions.builder(host, port);
        if (serverName != null) {
            options.serverName(serverName);
        }
        if (alpn != null) {
            options.alpn(alpn);
        }
        if (timeout != null) {
            options.timeout(io.tlsd.daemon.config.ConfigFile.parseDuration(timeout, "--timeout"));
        }

        OpenOptions open = options.build();
        return StdioBridge.run(socket != null ? socket : SocketPaths.client(), "tlsd connect", target, verbose,
                client -> client.open(open));
    }
}
