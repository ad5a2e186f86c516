package io.tlsd.bench;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Server handshakes: full and resumed TLS 1.3 handshakes per second on tlsd's server role (a
 * server tunnel: TLS terminated, plain backend) against HAProxy terminating the same certificate.
 * Each connection handshakes, echoes one byte (so that the client has its session ticket), and
 * closes; 16 in parallel.
 */
final class HandshakeScenario {
    private final Suite.Options options;
    private final BenchPki pki;
    private final Path dir;
    private final LoadClient load;
    private final EchoBackend backend;

    HandshakeScenario(Suite.Options options, BenchPki pki, Path dir, LoadClient load, EchoBackend backend) {
        this.options = options;
        this.pki = pki;
        this.dir = dir;
        this.load = load;
        this.backend = backend;
    }

    static PeerProcess tlsdServer(Suite.Options options, BenchPki pki, Path dir, int port, int backendPort)
            throws Exception {
        Path config = Files.writeString(dir.resolve("tlsd-hs-server.yaml"), "socket: none\nlog_level: warn\n"
                + options.tlsdYaml()
                + "tunnels:\n  - name: bench\n    listen: 127.0.0.1:" + port + "\n    target: 127.0.0.1:" + backendPort
                + "\n    cert: " + pki.cert + "\n    key: " + pki.key + "\n    idle_timeout: 0s\n");
        return PeerProcess.start("tlsd-hs-server", dir,
                TunnelPair.tlsdCommand(options.daemonJvm, "server", "--config", config.toString()), port);
    }

    void run(Results results) throws Exception {
        int tlsdPort = TunnelPair.freePort();
        int haproxyPort = TunnelPair.freePort();
        boolean withHaproxy = options.peers.contains("haproxy");
        try (PeerProcess tlsd = tlsdServer(options, pki, dir, tlsdPort, backend.port());
             PeerProcess haproxy = withHaproxy ? TunnelPair.haproxyServer(pki, dir, haproxyPort, backend.port(),
                     Runtime.getRuntime().availableProcessors(), "haproxy-hs-server", false) : null) {
            SslContext full = clientContext();
            ((io.netty.handler.ssl.OpenSslSessionContext) full.sessionContext()).setSessionCacheEnabled(false);
            SslContext resuming = clientContext();
            LoadClient.Tls fullTls = new LoadClient.Tls(full, true);
            LoadClient.Tls resumeTls = new LoadClient.Tls(resuming, true);
            List<Double> tf = new ArrayList<>();
            List<Double> hf = new ArrayList<>();
            List<Double> tr = new ArrayList<>();
            List<Double> hr = new ArrayList<>();
            // the same warm-up for both (the JIT of tlsd's handshake path)
            long warm = options.quick ? 300 : Math.min(3000, Math.max(600, options.millis));
            for (int port : withHaproxy ? new int[] {tlsdPort, haproxyPort} : new int[] {tlsdPort}) {
                load.connections(port, fullTls, 16, 1, warm);
                load.connections(port, resumeTls, 16, 1, warm);
                PeerProcess server = port == tlsdPort ? tlsd : haproxy;
                JitWarmup.untilQuiet("handshake " + server.name, List.of(server.pid()), () -> {
                    load.connections(port, fullTls, 16, 1, 1000);
                    load.connections(port, resumeTls, 16, 1, 1000);
                }, options.jitWarmupMillis);
            }
            for (int round = 0; round < options.rounds; round++) {
                for (int k = 0; k < (withHaproxy ? 2 : 1); k++) {
                    boolean ours = (k + round) % 2 == 0 || !withHaproxy;
                    int port = ours ? tlsdPort : haproxyPort;
                    LoadClient.Rate f = load.connections(port, fullTls, 16, 1, options.millis);
                    LoadClient.Rate r = load.connections(port, resumeTls, 16, 1, options.millis);
                    (ours ? tf : hf).add(f.perSecond());
                    (ours ? tr : hr).add(r.perSecond());
                    Suite.progress("handshake round %d %s: full %.0f/s (%.0f%% resumed), resumed %.0f/s (%.0f%% resumed), "
                                    + "errors %d/%d", round + 1, ours ? "tlsd" : "haproxy", f.perSecond(),
                            f.resumedFraction() * 100, r.perSecond(), r.resumedFraction() * 100, f.errors(), r.errors());
                }
            }
            if (withHaproxy) {
                results.higherIsBetter("server handshakes", "full handshakes/s", "hs/s", TunnelScenario.median(tf),
                        "haproxy", TunnelScenario.median(hf), Double.NaN);
                results.higherIsBetter("server handshakes", "resumed handshakes/s", "hs/s", TunnelScenario.median(tr),
                        "haproxy", TunnelScenario.median(hr), Double.NaN);
            } else {
                results.absolute("server handshakes", "full handshakes/s", "hs/s", TunnelScenario.median(tf), Double.NaN, "");
                results.absolute("server handshakes", "resumed handshakes/s", "hs/s", TunnelScenario.median(tr), Double.NaN, "");
            }
        }
    }

    private SslContext clientContext() throws Exception {
        return SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3")
                .trustManager(pki.caCert.toFile()).build();
    }
}
