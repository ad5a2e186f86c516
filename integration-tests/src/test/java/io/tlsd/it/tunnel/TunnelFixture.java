package io.tlsd.it.tunnel;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.tlsd.daemon.tls.ClientTlsContexts;
import io.tlsd.daemon.tls.TlsParameters;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.daemon.tunnel.ClientTunnel;
import io.tlsd.daemon.tunnel.ServerTunnel;
import io.tlsd.daemon.tunnel.TunnelSettings;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * What the tunnel tests share: a test CA and a server certificate for {@code localhost},
 * {@code tunnel.test}, {@code 127.0.0.1} and {@code ::1}; event loops (one boss, two workers) on
 * the native transport; the client context the CLI would build; and tunnels on 127.0.0.1 port 0,
 * all closed by {@link #close()}.
 */
final class TunnelFixture implements AutoCloseable {
    /** A server name with a dot: JDK and netty send SNI only for such names, not for "localhost". */
    static final String SERVER_NAME = "tunnel.test";
    static final InetSocketAddress ANY_LOOPBACK_PORT = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

    final Path dir;
    final TestPki pki;
    final Issued server;
    final Transport transport = Transport.select("auto");
    final EventLoopGroup boss = transport.newGroup(1, new DefaultThreadFactory("tunnel-boss"));
    final EventLoopGroup workers = transport.newGroup(2, new DefaultThreadFactory("tunnel-worker"));
    final ClientTlsContexts clientContexts;
    private final List<Runnable> closers = new ArrayList<>();

    TunnelFixture(Path dir) throws IOException {
        this.dir = dir;
        this.pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        this.server = pki.issueServer("localhost", "localhost", SERVER_NAME, "127.0.0.1", "::1");
        this.clientContexts = new ClientTlsContexts(TlsParameters.DEFAULTS, pki.caPem());
    }

    /** The client context {@code tlsd client} would use: BoringSSL, TLS 1.3, the test CA, no ALPN. */
    SslContext clientContext() throws IOException {
        return clientContexts.forAlpn(List.of());
    }

    /** A TLS 1.3 server context presenting {@link #server}'s chain. */
    SslContext serverContext(SslProvider provider) throws IOException {
        return SslContextBuilder.forServer(server.chainPem().toFile(), server.keyPem().toFile())
                .sslProvider(provider).protocols("TLSv1.3").build();
    }

    /** A started ServerTunnel on 127.0.0.1, port 0, with a BoringSSL context. */
    ServerTunnel serverTunnel(InetSocketAddress backend, boolean proxyProtocol, TunnelSettings settings)
            throws IOException {
        return serverTunnel(serverContext(SslProvider.OPENSSL), ANY_LOOPBACK_PORT, backend, proxyProtocol, settings);
    }

    ServerTunnel serverTunnel(SslContext context, InetSocketAddress listen, InetSocketAddress backend,
                              boolean proxyProtocol, TunnelSettings settings) throws IOException {
        ServerTunnel tunnel = new ServerTunnel(transport, boss, workers, context, listen, backend, proxyProtocol,
                settings);
        closers.add(tunnel::close);
        tunnel.start();
        return tunnel;
    }

    /** A started ClientTunnel on 127.0.0.1, port 0, with {@link #clientContext()}. */
    ClientTunnel clientTunnel(String host, int port, String serverName, TunnelSettings settings) throws IOException {
        return clientTunnel(clientContext(), host, port, serverName, settings);
    }

    ClientTunnel clientTunnel(SslContext context, String host, int port, String serverName, TunnelSettings settings)
            throws IOException {
        ClientTunnel tunnel = new ClientTunnel(transport, boss, workers, context, ANY_LOOPBACK_PORT, host, port,
                serverName, settings);
        closers.add(tunnel::close);
        tunnel.start();
        return tunnel;
    }

    /** A plain TCP connection to {@code address} whose reads give up after 10 s. */
    static Socket connect(InetSocketAddress address) throws IOException {
        Socket socket = new Socket(address.getAddress(), address.getPort());
        socket.setSoTimeout(10_000);
        return socket;
    }

    /** Reads until the tunnel ends the connection: EOF, a reset, or a TLS handshake that cannot finish. */
    static void assertClosed(Socket socket) throws IOException {
        try {
            int b = socket.getInputStream().read();
            if (b != -1) {
                fail("expected the connection to end, read a byte: " + b);
            }
        } catch (SocketException | SSLException e) {
            // reset, or the TLS handshake was cut off: also an end
        }
    }

    static void assertElapsedBelow(long startNanos, Duration limit) {
        long millis = (System.nanoTime() - startNanos) / 1_000_000;
        assertTrue(millis < limit.toMillis(), "took " + millis + " ms, expected < " + limit.toMillis());
    }

    @Override
    public void close() {
        closers.forEach(Runnable::run);
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
