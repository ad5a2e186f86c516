package io.tlsd.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A client tunnel and a server tunnel of one product, each its own process: plain TCP into
 * {@link #entryPort}, TLS 1.3 between the two on {@link #tlsPort}, plain TCP out to the backend.
 * Certificates are verified on both sides: the client side verifies the server's chain and name
 * (ECDSA P-256, {@code localhost}), the server side requires a client certificate (the same
 * leaf, which allows clientAuth) and verifies its chain.
 */
final class TunnelPair implements AutoCloseable {
    final String name;
    final int entryPort;
    final int tlsPort;
    final PeerProcess client;
    final PeerProcess server;

    private TunnelPair(String name, int entryPort, int tlsPort, PeerProcess client, PeerProcess server) {
        this.name = name;
        this.entryPort = entryPort;
        this.tlsPort = tlsPort;
        this.client = client;
        this.server = server;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** The java command that runs the tlsd CLI from this JVM's class path. */
    static List<String> tlsdCommand(List<String> jvmOptions, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmOptions);
        command.add("-cp");
        command.add(java.util.Arrays.stream(System.getProperty("java.class.path").split(java.io.File.pathSeparator))
                .map(e -> Path.of(e).toAbsolutePath().toString())
                .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator)));
        command.add("io.tlsd.daemon.cli.TlsdCommand");
        command.addAll(List.of(args));
        return command;
    }

    static TunnelPair tlsd(BenchPki pki, Path dir, int backendPort, Suite.Options options)
            throws IOException, InterruptedException {
        return tlsd("tlsd", options.daemonJvm, pki, dir, backendPort, options);
    }

    /**
     * A tlsd pair named {@code name} whose daemons run with {@code jvmOptions}; with another name
     * than "tlsd", it is compared with tlsd like a peer (a variant being tried).
     */
    static TunnelPair tlsd(String name, List<String> jvmOptions, BenchPki pki, Path dir, int backendPort,
                           Suite.Options options) throws IOException, InterruptedException {
        int tls = freePort();
        int entry = freePort();
        Path serverConfig = Files.writeString(dir.resolve(name + "-server.yaml"), "socket: none\nlog_level: warn\n"
                + options.tlsdYaml() + "tunnels:\n  - name: bench\n    listen: 127.0.0.1:" + tls
                + "\n    target: 127.0.0.1:" + backendPort + "\n    cert: " + pki.cert + "\n    key: " + pki.key
                + "\n    client_auth: required\n    client_ca_file: " + pki.caCert + "\n    idle_timeout: 0s\n");
        Path clientConfig = Files.writeString(dir.resolve(name + "-client.yaml"), "socket: none\nlog_level: warn\n"
                + options.loopsYaml() + "tls:\n  ca_file: " + pki.caCert + "\n" + options.groupsYaml() + "tunnels:\n  - name: bench\n    listen: 127.0.0.1:"
                + entry + "\n    target: 127.0.0.1:" + tls + "\n    servername: localhost\n    cert: " + pki.cert
                + "\n    key: " + pki.key + "\n    idle_timeout: 0s\n");
        PeerProcess server = PeerProcess.start(name + "-server-tunnel", dir,
                tlsdCommand(jvmOptions, "server", "--config", serverConfig.toString()), tls);
        PeerProcess client = PeerProcess.start(name + "-client-tunnel", dir,
                tlsdCommand(jvmOptions, "client", "--config", clientConfig.toString()), entry);
        return new TunnelPair(name, entry, tls, client, server);
    }

    static TunnelPair stunnel(BenchPki pki, Path dir, int backendPort) throws IOException, InterruptedException {
        int tls = freePort();
        int entry = freePort();
        Path serverConfig = Files.writeString(dir.resolve("stunnel-server.conf"), "foreground = yes\npid =\n"
                + "debug = err\n[bench]\naccept = 127.0.0.1:" + tls + "\nconnect = 127.0.0.1:" + backendPort
                + "\ncert = " + pki.cert + "\nkey = " + pki.key + "\nCAfile = " + pki.caCert
                + "\nverifyChain = yes\nrequireCert = yes\nsslVersionMin = TLSv1.3\n");
        Path clientConfig = Files.writeString(dir.resolve("stunnel-client.conf"), "foreground = yes\npid =\n"
                + "debug = err\n[bench]\nclient = yes\naccept = 127.0.0.1:" + entry + "\nconnect = 127.0.0.1:" + tls
                + "\nCAfile = " + pki.caCert + "\nverifyChain = yes\ncheckHost = localhost\nsni = localhost\n"
                + "cert = " + pki.cert + "\nkey = " + pki.key + "\n"
                + "sslVersionMin = TLSv1.3\n");
        PeerProcess server = PeerProcess.start("stunnel-server", dir, List.of("stunnel4", serverConfig.toString()), tls);
        PeerProcess client = PeerProcess.start("stunnel-client", dir, List.of("stunnel4", clientConfig.toString()), entry);
        return new TunnelPair("stunnel", entry, tls, client, server);
    }

    private static final String HAPROXY_HEAD = "global\n  maxconn 9000\n  nbthread %d\n"
            + "defaults\n  mode tcp\n  timeout connect 10s\n  timeout client 10m\n  timeout server 10m\n";

    /**
     * HAProxy terminating TLS in front of {@code backendPort}: the server half of the pair on its
     * own; with {@code verifyClients}, requiring and verifying client certificates.
     */
    static PeerProcess haproxyServer(BenchPki pki, Path dir, int tls, int backendPort, int threads, String name,
                                     boolean verifyClients) throws IOException, InterruptedException {
        Path serverConfig = Files.writeString(dir.resolve(name + ".cfg"), String.format(HAPROXY_HEAD, threads)
                + "frontend tls\n  bind 127.0.0.1:" + tls + " ssl crt " + pki.bundle
                + (verifyClients ? " ca-file " + pki.caCert + " verify required" : "") + " ssl-min-ver TLSv1.3\n"
                + "  default_backend echo\nbackend echo\n  server e 127.0.0.1:" + backendPort + "\n");
        return PeerProcess.start(name, dir, List.of("haproxy", "-db", "-f", serverConfig.toString()), tls);
    }

    static TunnelPair haproxy(BenchPki pki, Path dir, int backendPort, int threads)
            throws IOException, InterruptedException {
        int tls = freePort();
        int entry = freePort();
        Path clientConfig = Files.writeString(dir.resolve("haproxy-client.cfg"), String.format(HAPROXY_HEAD, threads)
                + "frontend plain\n  bind 127.0.0.1:" + entry + "\n  default_backend tls\nbackend tls\n"
                + "  server s 127.0.0.1:" + tls + " ssl verify required ca-file " + pki.caCert
                + " sni str(localhost) verifyhost localhost crt " + pki.bundle + " ssl-min-ver TLSv1.3\n");
        PeerProcess server = haproxyServer(pki, dir, tls, backendPort, threads, "haproxy-server", true);
        PeerProcess client = PeerProcess.start("haproxy-client", dir,
                List.of("haproxy", "-db", "-f", clientConfig.toString()), entry);
        return new TunnelPair("haproxy", entry, tls, client, server);
    }

    /** CPU time the two processes used so far (user + system, every thread). */
    double cpuSeconds() {
        return (client.cpuTicks() + server.cpuTicks()) / PeerProcess.CLOCK_TICKS_PER_SECOND;
    }

    @Override
    public void close() {
        client.close();
        server.close();
    }
}
