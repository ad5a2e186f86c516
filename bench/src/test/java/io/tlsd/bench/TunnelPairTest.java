package io.tlsd.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every tunnel pair the suite compares verifies certificates on both sides: through the pair
 * (its client side presents the client certificate) the echo comes back, while a TLS client that
 * trusts the server but has no certificate of its own gets no echo from the server side.
 */
class TunnelPairTest {
    @Test
    void everyPairRequiresAndVerifiesAClientCertificate(@TempDir Path dir) throws Exception {
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        List<TunnelPair> pairs = new ArrayList<>();
        try (EchoBackend backend = new EchoBackend(group, NioServerSocketChannel.class, null)) {
            BenchPki pki = BenchPki.create(dir.resolve("pki"));
            pairs.add(TunnelPair.tlsd(pki, dir, backend.port(), new Suite.Options()));
            if (SuiteSmokeTest.onPath("stunnel4")) {
                pairs.add(TunnelPair.stunnel(pki, dir, backend.port()));
            }
            if (SuiteSmokeTest.onPath("haproxy")) {
                pairs.add(TunnelPair.haproxy(pki, dir, backend.port(), 1));
            }
            LoadClient load = new LoadClient(group, NioSocketChannel.class);
            // a client that sends SNI and checks the name "localhost", as the pairs' client sides do
            LoadClient.Tls withoutCertificate = new LoadClient.Tls(SslContextBuilder.forClient()
                    .sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3").trustManager(pki.caCert.toFile()).build(),
                    true);
            for (TunnelPair pair : pairs) {
                LoadClient.Rate through = load.connections(pair.entryPort, null, 1, 100, 500);
                assertTrue(through.perSecond() > 0, pair.name + ": no echo through the pair");
                LoadClient.Rate direct = load.connections(pair.tlsPort, withoutCertificate, 1, 100, 500);
                assertEquals(0.0, direct.perSecond(), pair.name + ": echoed to a client without a certificate");
            }
        } finally {
            pairs.forEach(TunnelPair::close);
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }
}
