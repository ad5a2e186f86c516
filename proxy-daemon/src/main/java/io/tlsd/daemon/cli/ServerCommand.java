package io.tlsd.daemon.cli;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.config.Addresses;
import io.tlsd.daemon.localca.LocalCertificateAuthority;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.AllowedIdentities;
import io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy;
import io.tlsd.daemon.transport.ProxySources;
import io.tlsd.daemon.tunnel.TunnelConfig;
import io.tlsd.daemon.tunnel.TunnelSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code tlsd server}: the server-role daemon. It holds the private keys; applications ACCEPT
 * connections from its listeners over the IPC socket.
 */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = {"Run the server-side daemon: it terminates TLS on its listeners and hands the "
                + "connections to applications that ACCEPT them. Private keys never leave it.",
                "--listen/--cert/--key make one listener named 'default'; --config FILE can define several.",
                "With --target it is a TLS→plain tunnel to that backend instead (stunnel style).",
                "With no certificate, it serves localhost on " + ServerCommand.EMBEDDED_LISTEN
                        + " with a certificate from a local CA kept in --state-dir.",
                "Runs in the foreground, logs to stderr, and exits cleanly on SIGTERM, removing its socket."})
final class ServerCommand implements Callable<Integer> {
    static final String EMBEDDED_LISTEN = "127.0.0.1:8443";

    @Mixin
    DaemonOptions daemon;

    @Option(names = "--listen", paramLabel = "ADDR", description = "Listener address, e.g. 127.0.0.1:8443 or :8443")
    String listen;

    @Option(names = "--cert", paramLabel = "PEM", description = "Certificate chain, leaf first")
    Path cert;

    @Option(names = "--key", paramLabel = "PEM", description = "Private key (PKCS#1 or PKCS#8, maybe encrypted)")
    Path key;

    @Option(names = "--key-passphrase-file", paramLabel = "FILE", description = "Passphrase of an encrypted key")
    Path passphraseFile;

    @Option(names = "--ocsp-file", paramLabel = "FILE",
            description = "The certificate's OCSP response (DER), stapled to handshakes; read again on SIGHUP")
    Path ocspFile;

    @Option(names = "--ocsp-fetch", description = "Fetch the certificate's OCSP response from the responder it names,"
            + " keep it fresh, and staple it to handshakes (instead of --ocsp-file)")
    boolean ocspFetch;

    @Option(names = "--alpn", paramLabel = "LIST", split = ",", description = "ALPN protocols, e.g. h2,http/1.1")
    List<String> alpn = new ArrayList<>();

    @Option(names = "--client-auth", paramLabel = "none|optional|required",
            description = "Client certificates (default: none)")
    String clientAuth = "none";

    @Option(names = "--client-ca", paramLabel = "PEM", description = "Trust anchors for client certificates")
    Path clientCa;

    @Option(names = "--client-crl", paramLabel = "FILE",
            description = "Certificate revocation lists (PEM or DER) that client certificates are checked against;"
                    + " a client whose CA has no current list in it is refused too (needs --client-ca)")
    Path clientCrl;

    @Option(names = "--allow-cn", paramLabel = "NAME",
            description = "Let in only clients whose certificate has this subject CN (repeatable; with --allow-dns"
                    + " and --allow-uri: any of them); needs --client-auth required")
    List<String> allowCn = new ArrayList<>();

    @Option(names = "--allow-dns", paramLabel = "NAME",
            description = "Let in only clients whose certificate has this DNS name (repeatable); needs --client-auth"
                    + " required")
    List<String> allowDns = new ArrayList<>();

    @Option(names = "--allow-uri", paramLabel = "URI",
            description = "Let in only clients whose certificate has this URI name, e.g. a SPIFFE ID (repeatable);"
                    + " needs --client-auth required")
    List<String> allowUri = new ArrayList<>();

    @Option(names = "--target", paramLabel = "ADDR",
            description = "Tunnel: instead of handing clients to applications, connect each to this plain backend")
    String target;

    @Option(names = "--proxy-protocol", description = "Tunnel: send a PROXY protocol v2 header to the backend first")
    boolean proxyProtocol;

    @Option(names = "--accept-proxy-protocol",
            description = "Each connection begins with a load balancer's PROXY protocol header (v1 or v2), whose client"
                    + " is taken for the connection's; others are closed. Without --proxy-protocol-source, only where"
                    + " nothing but the balancer reaches the port")
    boolean acceptProxyProtocol;

    @Option(names = "--proxy-protocol-source", paramLabel = "CIDR",
            description = "With --accept-proxy-protocol: take connections (and their headers) only from this address or"
                    + " range of the load balancers, e.g. 10.0.0.0/8 (repeatable); others are closed")
    List<String> proxyProtocolSources = new ArrayList<>();

    @Option(names = "--idle-timeout", paramLabel = "DURATION",
            description = "Tunnel: close connections idle this long, e.g. 30s or 1h, or seconds (default: 10m; 0: never)")
    String idleTimeout = "10m";

    @Option(names = "--access-log", description = "Tunnel: log a line for each connection when it ends")
    boolean accessLog;

    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "Where the embedded default keeps its local CA (default: $XDG_STATE_HOME/tlsd or ~/.local/state/tlsd)")
    Path stateDir;

    @Override
    public Integer call() throws Exception {
        checkFlags();
        DaemonConfig.Builder fromFile = daemonBuilder();
        if (target == null && cert == null && key == null && fromFile.listeners().isEmpty() && fromFile.ipcEnabled()) {
            // The embedded default: a certificate for localhost from a local CA in the state directory.
            LocalCertificateAuthority ca = LocalCertificateAuthority.open(
                    stateDir != null ? stateDir : LocalCertificateAuthority.defaultStateDir());
            cert = ca.serverChain();
            key = ca.serverKey();
            listen = listen != null ? listen : EMBEDDED_LISTEN;
            System.err.println("tlsd server: no certificate given, serving the embedded default for localhost on "
                    + listen + "; clients trust the local CA " + ca.caCertificate());
        }
        return DaemonOptions.runInForeground(config(fromFile, true),
                daemon.config == null ? null : () -> config(daemonBuilder(), false));
    }

    private DaemonConfig.Builder daemonBuilder() {
        return daemon.builder().role(DaemonConfig.Role.SERVER);
    }

    /** The checks of the flags alone, before anything is read or made. */
    private void checkFlags() {
        if (clientCrl != null && clientCa == null) {
            throw new IllegalArgumentException("--client-crl needs --client-ca");
        }
        ClientAuthPolicy policy = clientAuthPolicy(); // refuses an unknown value
        if (allowedClients() != null && policy != ClientAuthPolicy.REQUIRED) {
            throw new IllegalArgumentException("--allow-cn, --allow-dns and --allow-uri need --client-auth required");
        }
        if (!proxyProtocolSources.isEmpty() && !acceptProxyProtocol) {
            throw new IllegalArgumentException("--proxy-protocol-source needs --accept-proxy-protocol");
        }
        if (acceptProxyProtocol && listen == null) {
            throw new IllegalArgumentException("--accept-proxy-protocol goes with --listen (in a configuration file:"
                    + " accept_proxy_protocol of a listener or tunnel)");
        }
        proxySources(); // refuses an entry that is no address or range
    }

    /** {@code --accept-proxy-protocol} and {@code --proxy-protocol-source}; null without a header. */
    private ProxySources proxySources() {
        if (!acceptProxyProtocol) {
            return null;
        }
        try {
            return proxyProtocolSources.isEmpty() ? ProxySources.ANY : ProxySources.of(proxyProtocolSources);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--proxy-protocol-source: " + e.getMessage(), e);
        }
    }

    private AllowedIdentities allowedClients() {
        return DaemonOptions.identities(allowCn, allowDns, allowUri);
    }

    /**
     * The configuration file, if any, with the flags on top; read again on SIGHUP.
     *
     * @param builder the configuration file, read (see {@link #daemonBuilder})
     * @param atStart whether to hint at how to start a daemon when the configuration is incomplete
     */
    private DaemonConfig config(DaemonConfig.Builder builder, boolean atStart) {
        if (target != null) {
            return tunnelConfig(builder);
        }
        if ((clientCa != null || clientCrl != null) && listen == null) {
            throw new IllegalArgumentException("--client-ca and --client-crl go with --listen (in a configuration file:"
                    + " client_ca_file and client_crl_file of a listener or tunnel)");
        }
        if (allowedClients() != null && listen == null) {
            throw new IllegalArgumentException("--allow-cn, --allow-dns and --allow-uri go with --listen (in a"
                    + " configuration file: allowed_clients of a listener or tunnel)");
        }
        if (listen != null || cert != null || key != null) {
            if (listen == null || cert == null || key == null) {
                throw new IllegalArgumentException("--listen, --cert and --key go together");
            }
            ClientAuthPolicy policy = clientAuthPolicy();
            ListenerConfig listener = new ListenerConfig("default", Addresses.parse(listen), List.of(certificate()),
                    alpn, policy, clientCa, Duration.ofSeconds(10), 64, ListenerConfig.DEFAULT_MAX_PENDING_CONNECTIONS,
                    0, clientCrl, allowedClients(), null, proxySources());
            List<ListenerConfig> all = new ArrayList<>(builder.listeners());
            all.removeIf(l -> l.name().equals("default"));
            all.add(0, listener);
            builder.listeners(all);
        }
        try {
            return builder.build();
        } catch (IllegalArgumentException e) {
            throw atStart ? new IllegalArgumentException(e.getMessage()
                    + " (give --listen ADDR --cert PEM --key PEM, or --config FILE)", e) : e;
        }
    }

    /** {@code --cert}, {@code --key} and what goes with them. */
    private ListenerConfig.CertificateSpec certificate() {
        if (ocspFile != null && ocspFetch) {
            throw new IllegalArgumentException("give either --ocsp-file or --ocsp-fetch");
        }
        return ListenerConfig.CertificateSpec.pem(List.of(), cert, key, passphraseFile).withOcspFile(ocspFile)
                .withOcspFetch(ocspFetch);
    }

    private ClientAuthPolicy clientAuthPolicy() {
        try {
            return ClientAuthPolicy.valueOf(clientAuth.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--client-auth must be none, optional or required, not '" + clientAuth + "'");
        }
    }

    /** {@code --listen ADDR --target ADDR --cert PEM --key PEM}: TLS in, plain TCP out. */
    private DaemonConfig tunnelConfig(DaemonConfig.Builder builder) {
        if (listen == null || cert == null || key == null) {
            throw new IllegalArgumentException("a tunnel needs --listen, --target, --cert and --key");
        }
        Addresses.unresolved(target);
        List<TunnelConfig> tunnels = new ArrayList<>(builder.tunnels());
        tunnels.add(new TunnelConfig("tunnel-" + (tunnels.size() + 1), Addresses.parse(listen), target, null,
                certificate(), alpn,
                clientAuthPolicy(),
                clientCa, proxyProtocol, DaemonOptions.idleTimeout(idleTimeout), TunnelSettings.DEFAULT_MAX_CONNECTIONS, null,
                accessLog, 0, List.of(), null, clientCrl, List.of(), allowedClients(), null, proxySources()));
        builder.tunnels(tunnels);
        if (daemon.socket == null) {
            builder.ipcEnabled(false);
        }
        return builder.build();
    }
}
