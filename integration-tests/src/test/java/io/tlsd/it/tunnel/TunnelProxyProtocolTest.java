package io.tlsd.it.tunnel;

import static io.tlsd.it.tunnel.TunnelFixture.ANY_LOOPBACK_PORT;
import static io.tlsd.it.tunnel.TunnelFixture.SERVER_NAME;
import static io.tlsd.it.tunnel.TunnelFixture.connect;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.tlsd.daemon.tunnel.ClientTunnel;
import io.tlsd.daemon.tunnel.ServerTunnel;
import io.tlsd.daemon.tunnel.TunnelSettings;
import io.tlsd.testing.Issued;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The PROXY protocol v2 header a ServerTunnel sends, read by a backend that parses it here,
 * independently of the encoder, from haproxy's proxy-protocol.txt.
 */
@Timeout(30)
class TunnelProxyProtocolTest {
    private static final byte[] SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 'Q', 'U', 'I', 'T', 0x0A};

    @TempDir
    static Path dir;
    static TunnelFixture fixture;
    static Issued alice;

    @BeforeAll
    static void setUp() throws IOException {
        fixture = new TunnelFixture(dir);
        alice = fixture.pki.issueClient("alice");
    }

    @AfterAll
    static void tearDown() throws Exception {
        fixture.close();
    }

    @Test
    void aClientWithSniAlpnAndCertificate() throws Exception {
        CompletableFuture<Header> received = new CompletableFuture<>();
        try (PlainBackend backend = PlainBackend.start(parseThenEcho(received))) {
            ServerTunnel server = fixture.serverTunnel(serverContextWithAlpnAndClientAuth(), ANY_LOOPBACK_PORT,
                    backend.address(), true, TunnelSettings.DEFAULTS);
            try (SSLSocket socket = jdkClient(server.localAddress(), alice)) {
                roundTrip(socket);
                Header header = received.get(10, TimeUnit.SECONDS);

                assertEquals(0x21, header.versionAndCommand(), "version 2, PROXY");
                assertEquals(0x11, header.family(), "TCP over IPv4");
                assertEquals(new InetSocketAddress("127.0.0.1", socket.getLocalPort()), header.source());
                assertEquals(new InetSocketAddress("127.0.0.1", server.localAddress().getPort()), header.destination());
                assertEquals("h2", header.text(0x01), "PP2_TYPE_ALPN");
                assertEquals(SERVER_NAME, header.text(0x02), "PP2_TYPE_AUTHORITY");
                assertEquals(0x01 | 0x02 | 0x04, header.sslClient(), "PP2_CLIENT_SSL, _CERT_CONN, _CERT_SESS");
                assertEquals(0, header.sslVerify(), "the certificate was verified");
                assertEquals("TLSv1.3", header.sslText(0x21), "PP2_SUBTYPE_SSL_VERSION");
                assertEquals("alice", header.sslText(0x22), "PP2_SUBTYPE_SSL_CN");
                assertEquals(socket.getSession().getCipherSuite(), header.sslText(0x23), "PP2_SUBTYPE_SSL_CIPHER");
            }
        }
    }

    @Test
    void aClientTunnelWithoutCertificateOrAlpn() throws Exception {
        CompletableFuture<Header> received = new CompletableFuture<>();
        try (PlainBackend backend = PlainBackend.start(parseThenEcho(received))) {
            ServerTunnel server = fixture.serverTunnel(backend.address(), true, TunnelSettings.DEFAULTS);
            ClientTunnel client = fixture.clientTunnel("127.0.0.1", server.localAddress().getPort(), SERVER_NAME,
                    TunnelSettings.DEFAULTS);
            try (Socket socket = connect(client.localAddress())) {
                roundTrip(socket);
                Header header = received.get(10, TimeUnit.SECONDS);

                assertEquals(0x11, header.family());
                assertEquals(InetAddress.getLoopbackAddress(), header.source().getAddress());
                assertEquals(server.localAddress().getPort(), header.destination().getPort());
                assertFalse(header.tlvs().containsKey(0x01), "no ALPN was negotiated");
                assertEquals(SERVER_NAME, header.text(0x02), "the SNI of --servername");
                assertEquals(0x01, header.sslClient(), "TLS, no client certificate");
                assertNotEquals(0, header.sslVerify(), "no certificate verified");
                assertFalse(header.sslTlvs().containsKey(0x22), "no CN without a certificate");
                assertEquals("TLSv1.3", header.sslText(0x21));
                assertTrue(header.sslText(0x23).startsWith("TLS_"), header.sslText(0x23));
            }
        }
    }

    @Test
    void anIpv6Client() throws Exception {
        InetAddress ipv6Loopback = InetAddress.getByName("::1");
        assumeTrue(canBind(ipv6Loopback), "no IPv6 loopback here");
        CompletableFuture<Header> received = new CompletableFuture<>();
        try (PlainBackend backend = PlainBackend.start(parseThenEcho(received))) {
            ServerTunnel server = fixture.serverTunnel(fixture.serverContext(SslProvider.OPENSSL),
                    new InetSocketAddress(ipv6Loopback, 0), backend.address(), true, TunnelSettings.DEFAULTS);
            try (SSLSocket socket = jdkClient(server.localAddress(), null)) {
                roundTrip(socket);
                Header header = received.get(10, TimeUnit.SECONDS);

                assertEquals(0x21, header.family(), "TCP over IPv6");
                assertEquals(new InetSocketAddress(ipv6Loopback, socket.getLocalPort()), header.source());
                assertEquals(new InetSocketAddress(ipv6Loopback, server.localAddress().getPort()), header.destination());
                assertTrue(header.source().getAddress() instanceof Inet6Address);
            }
        }
    }

    /**
     * accept_proxy_protocol behind a real HAProxy ({@code send-proxy-v2}, TCP mode): the client
     * HAProxy accepted, not HAProxy, is the one the tunnel names to its backend. (A client without
     * a header is closed: ListenerProxyProtocolTest.)
     */
    @Test
    void behindHaproxyTheClientItNamesIsPassedOn() throws Exception {
        CompletableFuture<Header> received = new CompletableFuture<>();
        int tunnelPort = io.tlsd.testing.FreePorts.loopback();
        // HAProxy first: its readiness probe must not reach the tunnel (its backend takes one header)
        try (Haproxy haproxy = Haproxy.inFrontOf(tunnelPort);
             PlainBackend backend = PlainBackend.start(parseThenEcho(received))) {
            ServerTunnel server = new ServerTunnel(fixture.transport, fixture.boss, fixture.workers,
                    serverContextWithAlpnAndClientAuth(), new InetSocketAddress("127.0.0.1", tunnelPort),
                    backend.address(), true, TunnelSettings.DEFAULTS);
            server.acceptProxyProtocol(io.tlsd.daemon.transport.ProxySources.ANY);
            server.start();
            try (server) {
                try (SSLSocket socket = jdkClient(new InetSocketAddress("127.0.0.1", haproxy.port), alice)) {
                    roundTrip(socket);
                    Header header = received.get(10, TimeUnit.SECONDS);
                    assertEquals(new InetSocketAddress("127.0.0.1", socket.getLocalPort()), header.source(),
                            "the client HAProxy accepted");
                    assertEquals(new InetSocketAddress("127.0.0.1", haproxy.port), header.destination(),
                            "the address it reached");
                    assertEquals("alice", header.sslText(0x22));
                }
            }
        }
    }

    /** HAProxy in TCP mode on a free loopback port, sending a PROXY v2 header to {@code port}. */
    private static final class Haproxy implements AutoCloseable {
        final int port;
        final Process process;

        private Haproxy(int port, Process process) {
            this.port = port;
            this.process = process;
        }

        static Haproxy inFrontOf(int port) throws Exception {
            int front = io.tlsd.testing.FreePorts.loopback();
            Path cfg = java.nio.file.Files.writeString(dir.resolve("haproxy-" + front + ".cfg"), String.join("\n",
                    "global", "  log stderr format raw local0 warning",
                    // no retry of the readiness probe's connection, which would reach the tunnel later
                    "defaults", "  mode tcp", "  retries 0", "  option abortonclose", "  timeout connect 5s", "  timeout client 30s", "  timeout server 30s",
                    "frontend in", "  bind 127.0.0.1:" + front, "  default_backend tlsd",
                    "backend tlsd", "  server t 127.0.0.1:" + port + " send-proxy-v2", ""));
            Process process = new ProcessBuilder("haproxy", "-db", "-f", cfg.toString()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("haproxy-" + front + ".log").toFile()).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) {
                try (Socket probe = new Socket(InetAddress.getLoopbackAddress(), front)) {
                    return new Haproxy(front, process);
                } catch (IOException e) {
                    if (!process.isAlive() || System.nanoTime() > deadline) {
                        process.destroyForcibly();
                        throw new IllegalStateException("haproxy did not start: "
                                + java.nio.file.Files.readString(dir.resolve("haproxy-" + front + ".log")), e);
                    }
                    Thread.sleep(20);
                }
            }
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** The bytes after the header are the client's, unchanged. */
    private static void roundTrip(Socket socket) throws IOException {
        socket.getOutputStream().write("after the header\n".getBytes(StandardCharsets.UTF_8));
        assertEquals("after the header\n", TunnelPairTest.readLine(socket.getInputStream()));
    }

    private static PlainBackend.Handler parseThenEcho(CompletableFuture<Header> received) {
        return socket -> {
            try {
                received.complete(Header.read(new DataInputStream(socket.getInputStream())));
            } catch (Throwable t) {
                received.completeExceptionally(t);
                throw t;
            }
            PlainBackend.echo().handle(socket);
        };
    }

    /** A PROXY v2 header as a backend reads it. */
    record Header(int versionAndCommand, int family, InetSocketAddress source, InetSocketAddress destination,
                  Map<Integer, byte[]> tlvs, int sslClient, long sslVerify, Map<Integer, byte[]> sslTlvs) {

        static Header read(DataInputStream in) throws IOException {
            assertArrayEquals(SIGNATURE, in.readNBytes(12), "signature");
            int versionAndCommand = in.readUnsignedByte();
            int family = in.readUnsignedByte();
            ByteBuffer rest = ByteBuffer.wrap(in.readNBytes(in.readUnsignedShort())); // big-endian
            int addressLength = switch (family) {
                case 0x11 -> 4;
                case 0x21 -> 16;
                default -> throw new AssertionError("family 0x" + Integer.toHexString(family));
            };
            InetAddress sourceAddress = InetAddress.getByAddress(bytes(rest, addressLength));
            InetAddress destinationAddress = InetAddress.getByAddress(bytes(rest, addressLength));
            InetSocketAddress source = new InetSocketAddress(sourceAddress, Short.toUnsignedInt(rest.getShort()));
            InetSocketAddress destination = new InetSocketAddress(destinationAddress, Short.toUnsignedInt(rest.getShort()));
            Map<Integer, byte[]> tlvs = tlvs(rest);
            byte[] ssl = tlvs.get(0x20);
            assertTrue(ssl != null && ssl.length >= 5, "PP2_TYPE_SSL present");
            ByteBuffer sslValue = ByteBuffer.wrap(ssl);
            int client = Byte.toUnsignedInt(sslValue.get());
            long verify = Integer.toUnsignedLong(sslValue.getInt());
            return new Header(versionAndCommand, family, source, destination, tlvs, client, verify, tlvs(sslValue));
        }

        private static Map<Integer, byte[]> tlvs(ByteBuffer buffer) {
            Map<Integer, byte[]> tlvs = new HashMap<>();
            while (buffer.hasRemaining()) {
                int type = Byte.toUnsignedInt(buffer.get());
                int length = Short.toUnsignedInt(buffer.getShort());
                tlvs.put(type, bytes(buffer, length));
            }
            return tlvs;
        }

        private static byte[] bytes(ByteBuffer buffer, int length) {
            byte[] bytes = new byte[length];
            buffer.get(bytes);
            return bytes;
        }

        String text(int type) {
            return new String(tlvs.get(type), StandardCharsets.UTF_8);
        }

        String sslText(int type) {
            return new String(sslTlvs.get(type), StandardCharsets.UTF_8);
        }
    }

    private static SslContext serverContextWithAlpnAndClientAuth() throws IOException {
        return SslContextBuilder.forServer(fixture.server.chainPem().toFile(), fixture.server.keyPem().toFile())
                .sslProvider(SslProvider.OPENSSL)
                .protocols("TLSv1.3")
                .clientAuth(ClientAuth.OPTIONAL)
                .trustManager(fixture.pki.caPem().toFile())
                .applicationProtocolConfig(new ApplicationProtocolConfig(
                        ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        List.of("h2", "http/1.1")))
                .build();
    }

    /** A JDK TLS 1.3 client sending SNI tunnel.test and ALPN h2, with {@code cert} if not null; handshaken. */
    private static SSLSocket jdkClient(InetSocketAddress address, Issued cert) throws Exception {
        TrustManagerFactory trustManagers = fixture.pki.trustManagers();
        KeyManagerFactory keyManagers = null;
        if (cert != null) {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("client", cert.privateKey(), "unused".toCharArray(),
                    cert.chain().toArray(Certificate[]::new));
            keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keyManagers.init(keys, "unused".toCharArray());
        }
        SSLContext context = SSLContext.getInstance("TLSv1.3");
        context.init(keyManagers == null ? null : keyManagers.getKeyManagers(), trustManagers.getTrustManagers(), null);
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(address.getAddress(), address.getPort());
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setServerNames(List.of(new SNIHostName(SERVER_NAME)));
        parameters.setApplicationProtocols(new String[] {"h2"});
        socket.setSSLParameters(parameters);
        socket.setSoTimeout(10_000);
        socket.startHandshake();
        return socket;
    }

    private static boolean canBind(InetAddress address) {
        try (ServerSocket probe = new ServerSocket(0, 1, address)) {
            return probe.isBound();
        } catch (IOException e) {
            return false;
        }
    }
}
