package io.tlsd.daemon.cli;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.config.Addresses;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.AllowedIdentities;
import io.tlsd.daemon.tunnel.TunnelConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tlsd client}: the client-role daemon, in the foreground until SIGTERM or SIGINT. */
@Command(name = "client", mixinStandardHelpOptions = true,
        description = {"Run the client-side daemon: applications open outbound TLS connections through it.",
                "With --listen and --target it is also (or, without --socket, only) a plain→TLS tunnel.",
                "Runs in the foreground, logs to stderr, and exits cleanly on SIGTERM, removing its socket."})
final class ClientCommand implements Callable<Integer> {
    @Mixin
    DaemonOptions daemon;

    @Option(names = "--ca-file", paramLabel = "PEM",
            description = "Trust anchors for verifying servers (default: the JDK trust store)")
    Path caFile;

    @Option(names = "--crl-file", paramLabel = "FILE",
            description = "Certificate revocation lists (PEM or DER) that servers' certificates are checked against;"
                    + " a server whose CA has no current list in it is refused too")
    Path crlFile;

    @Option(names = "--cert", paramLabel = "PEM", description = "Client certificate chain for servers that ask (mTLS)")
    Path cert;

    @Option(names = "--key", paramLabel = "PEM", description = "Its private key (PKCS#1 or PKCS#8)")
    Path key;

    @Option(names = "--key-passphrase-file", paramLabel = "FILE", description = "Passphrase of an encrypted key")
    Path passphraseFile;

    @Option(names = "--listen", paramLabel = "ADDR",
            description = "Tunnel: accept plain TCP here (e.g. 127.0.0.1:8080) and carry it over TLS to --target")
    String listen;

    @Option(names = "--target", paramLabel = "HOST:PORT", description = "Tunnel: the TLS server to connect to")
    String target;

    @Option(names = "--servername", paramLabel = "NAME",
            description = "Tunnel: the name verified and sent as SNI (default: the target host; with --allow-server-*"
                    + " only sent)")
    String serverName;

    @Option(names = "--allow-server-cn", paramLabel = "NAME",
            description = "Tunnel: accept a target whose verified certificate has this subject CN, instead of checking"
                    + " it names the target's host (repeatable; with --allow-server-dns and --allow-server-uri: any"
                    + " of them)")
    List<String> allowServerCn = new ArrayList<>();

    @Option(names = "--allow-server-dns", paramLabel = "NAME",
            description = "Tunnel: accept a target whose verified certificate has this DNS name (repeatable)")
    List<String> allowServerDns = new ArrayList<>();

    @Option(names = "--allow-server-uri", paramLabel = "URI",
            description = "Tunnel: accept a target whose verified certificate has this URI name, e.g. a SPIFFE ID"
                    + " (repeatable)")
    List<String> allowServerUri = new ArrayList<>();

    @Option(names = "--access-log", description = "Tunnel: log a line for each connection when it ends")
    boolean accessLog;

    @Option(names = "--idle-timeout", paramLabel = "DURATION",
            description = "Tunnel: close connections idle this long, e.g. 30s or 1h, or seconds (default: 10m; 0: never)")
    String idleTimeout;

    @Override
    public Integer call() throws Exception {
        return DaemonOptions.runInForeground(config(), daemon.config == null ? null : this::config);
    }

    /** The configuration file, if any, with the flags on top; read again on SIGHUP. */
    private DaemonConfig config() {
        DaemonConfig.Builder builder = daemon.builder().role(DaemonConfig.Role.CLIENT);
        AllowedIdentities allowedServers = DaemonOptions.identities(allowServerCn, allowServerDns, allowServerUri);
        if (idleTimeout != null && listen == null) {
            throw new IllegalArgumentException("--idle-timeout goes with --listen and --target (in a configuration"
                    + " file: idle_timeout of a tunnel)");
        }
        if (allowedServers != null && listen == null) {
            throw new IllegalArgumentException("--allow-server-cn, --allow-server-dns and --allow-server-uri go with"
                    + " --listen and --target (in a configuration file: allowed_servers of a tunnel)");
        }
        if (caFile != null) {
            builder.caFile(caFile);
        }
        if (crlFile != null) {
            builder.crlFile(crlFile);
        }
        if (cert != null || key != null) {
            if (cert == null || key == null) {
                throw new IllegalArgumentException("--cert and --key go together");
            }
            builder.clientCertificate(ListenerConfig.CertificateSpec.pem(List.of(), cert, key, passphraseFile));
        }
        if (listen != null || target != null) {
            if (listen == null || target == null) {
                throw new IllegalArgumentException("--listen and --target go together");
            }
            Addresses.unresolved(target); // fail early on a malformed target
            List<TunnelConfig> tunnels = new ArrayList<>(builder.tunnels());
            tunnels.add(TunnelConfig.client("tunnel-" + (tunnels.size() + 1), Addresses.parse(listen), target, serverName)
                    .withAccessLog(accessLog).withAllowedServers(allowedServers)
                    .withIdleTimeout(idleTimeout == null ? Duration.ofMinutes(10) : DaemonOptions.idleTimeout(idleTimeout)));
            builder.tunnels(tunnels);
            if (daemon.socket == null) {
                builder.ipcEnabled(false); // a tunnel on the command line runs alone unless --socket is given
            }
        }
        DaemonConfig cfg = builder.build();
        if (cfg.caFile() != null && !Files.isReadable(cfg.caFile())) {
            throw new IllegalArgumentException("--ca-file " + cfg.caFile() + " is not a readable file");
        }
        return cfg;
    }
}
