package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.metrics.Sample;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.transport.ProxySources;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A listener's accept_proxy_protocol: the client a PROXY header names (v1 here, written by hand as
 * a balancer would) is the connection's peer for the application; a LOCAL header (the balancer's
 * own health check) leaves the TCP peer; a connection without a header is not served. With
 * proxy_protocol_sources, a listener or a server tunnel (from the command line) takes connections
 * from the listed balancers only (127.0.0.2 here, a loopback address of its own).
 */
class ListenerProxyProtocolTest {
    private static final Duration T = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    void theClientThePROXYHeaderNamesIsThePeer() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        ListenerConfig proxied = webBehind(pki, ProxySources.ANY);
        try (io.tlsd.it.tunnel.LogCapture startLog = io.tlsd.it.tunnel.LogCapture.start();
             ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(proxied));
             TlsdClient app = fixture.app()) {
            int port = fixture.port("web");
            assertTrue(startLog.text().contains("listener web (127.0.0.1:" + port + "): accept_proxy_protocol without"
                    + " proxy_protocol_sources: any peer that reaches it can send a PROXY header"), startLog.text());
            SSLContext tls = pki.clientContext();

            Operation<TlsConnection> first = app.accept("web");
            try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), port)) {
                tcp.getOutputStream().write(("PROXY TCP4 203.0.113.7 127.0.0.1 40000 " + port + "\r\n").getBytes(US_ASCII));
                try (SSLSocket socket = overTls(tls, tcp)) {
                    TlsConnection conn = first.await(T);
                    assertEquals("203.0.113.7:40000", conn.info().peerAddress());
                    conn.write("hi\n".getBytes(US_ASCII)).await(T);
                    assertEquals('h', socket.getInputStream().read());
                    conn.close().await(T);
                }
            }

            Operation<TlsConnection> second = app.accept("web");
            try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), port)) {
                // v2, LOCAL: a health check of the balancer's own, no client to name
                tcp.getOutputStream().write(new byte[] {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 'Q', 'U', 'I', 'T',
                    0x0A, 0x20, 0x00, 0x00, 0x00});
                try (SSLSocket socket = overTls(tls, tcp)) {
                    TlsConnection conn = second.await(T);
                    assertEquals("127.0.0.1:" + tcp.getLocalPort(), conn.info().peerAddress());
                    conn.close().await(T);
                }
            }

            Operation<TlsConnection> split = app.accept("web");
            try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), port)) {
                // a v2 header (TCP over IPv6) that arrives in two reads
                tcp.setTcpNoDelay(true);
                byte[] header = v2Tcp6Header("2001:db8::7", 51000, port);
                tcp.getOutputStream().write(header, 0, 5);
                Thread.sleep(200);
                tcp.getOutputStream().write(header, 5, header.length - 5);
                try (SSLSocket socket = overTls(tls, tcp)) {
                    TlsConnection conn = split.await(T);
                    assertEquals("[2001:db8::7]:51000", conn.info().peerAddress());
                    conn.close().await(T);
                }
            }

            Operation<TlsConnection> together = app.accept("web");
            try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), port)) {
                // the header and the ClientHello in one write: the bytes after the header go on to TLS
                handshakeWithTheHeaderInTheFirstWrite(tls, tcp,
                        ("PROXY TCP4 198.51.100.9 127.0.0.1 42000 " + port + "\r\n").getBytes(US_ASCII));
                TlsConnection conn = together.await(T);
                assertEquals("198.51.100.9:42000", conn.info().peerAddress());
                conn.close().await(T);
            }

            try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), port);
                 io.tlsd.it.tunnel.LogCapture log = io.tlsd.it.tunnel.LogCapture.start()) {
                IOException refused = assertThrows(IOException.class, () -> overTls(tls, tcp),
                        "TLS without the balancer's header");
                assertFalse(refused instanceof java.net.SocketTimeoutException,
                        "closed at once, not left to the handshake timeout: " + refused);
                String line = log.awaitLine("did not begin with a PROXY protocol header", T);
                assertTrue(line != null && line.contains("listener web: connection from 127.0.0.1:" + tcp.getLocalPort()),
                        log.text());
            }
        }
    }

    @Test
    void withProxyProtocolSourcesOnlyTheListedBalancersGetIn() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        ListenerConfig proxied = webBehind(pki, ProxySources.of(List.of("127.0.0.2/32")));
        try (io.tlsd.it.tunnel.LogCapture startLog = io.tlsd.it.tunnel.LogCapture.start();
             ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(proxied));
             TlsdClient app = fixture.app()) {
            int port = fixture.port("web");
            assertFalse(startLog.text().contains("without proxy_protocol_sources"), "the balancers are listed");
            SSLContext tls = pki.clientContext();

            Operation<TlsConnection> accepted = app.accept("web");
            // the capture first: the connection is refused as it is accepted, within the Socket's constructor
            try (io.tlsd.it.tunnel.LogCapture log = io.tlsd.it.tunnel.LogCapture.start();
                 Socket tcp = new Socket(InetAddress.getLoopbackAddress(), port)) {
                // 127.0.0.1 is no balancer: closed before its header is read, whatever it says
                tcp.getOutputStream().write(("PROXY TCP4 203.0.113.7 127.0.0.1 40000 " + port + "\r\n").getBytes(US_ASCII));
                IOException refused = assertThrows(IOException.class, () -> overTls(tls, tcp));
                assertFalse(refused instanceof java.net.SocketTimeoutException, "closed at once: " + refused);
                String line = log.awaitLine("not among proxy_protocol_sources", T);
                assertTrue(line != null && line.contains("listener web: connection from 127.0.0.1:" + tcp.getLocalPort()
                        + " closed: not among proxy_protocol_sources (127.0.0.2/32)"), log.text());
            }
            assertFalse(accepted.isDone(), "nothing for the application");

            try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), port, InetAddress.getByName("127.0.0.2"), 0)) {
                tcp.getOutputStream().write(("PROXY TCP4 203.0.113.7 127.0.0.1 40000 " + port + "\r\n").getBytes(US_ASCII));
                try (SSLSocket socket = overTls(tls, tcp)) {
                    TlsConnection conn = accepted.await(T);
                    assertEquals("203.0.113.7:40000", conn.info().peerAddress(), "the balancer's header is believed");
                    conn.close().await(T);
                }
            }
        }
    }

    /** The command line's server tunnel: {@code --accept-proxy-protocol --proxy-protocol-source}. */
    @Test
    void aServerTunnelStartedWithFlagsTakesTheListedBalancersOnly() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        io.tlsd.testing.Issued server = pki.issueServer("localhost", "localhost");
        int port = io.tlsd.testing.FreePorts.loopback();
        SSLContext tls = pki.clientContext();
        try (GreetingBackend backend = new GreetingBackend("hello");
             DaemonProcess daemon = DaemonProcess.start(dir.resolve("tunnel.log"), "server",
                     "--listen", "127.0.0.1:" + port, "--target", "127.0.0.1:" + backend.port(),
                     "--cert", server.chainPem().toString(), "--key", server.keyPem().toString(),
                     "--accept-proxy-protocol", "--proxy-protocol-source", "127.0.0.2")) {
            daemon.awaitLogLine("PROXY protocol in from 127.0.0.2");
            try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), port)) {
                assertThrows(IOException.class, () -> overTls(tls, tcp));
            }
            daemon.awaitLogLine("closed: not among proxy_protocol_sources (127.0.0.2)");
            try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), port, InetAddress.getByName("127.0.0.2"), 0)) {
                tcp.getOutputStream().write(("PROXY TCP4 203.0.113.7 127.0.0.1 40000 " + port + "\r\n").getBytes(US_ASCII));
                try (SSLSocket socket = overTls(tls, tcp)) {
                    byte[] hello = socket.getInputStream().readNBytes(6);
                    assertEquals("hello\n", new String(hello, US_ASCII));
                }
            }
        }
        ConnectCommandTest.Run run = ConnectCommandTest.tlsd("", "server", "--listen", "127.0.0.1:0",
                "--cert", server.chainPem().toString(), "--key", server.keyPem().toString(),
                "--proxy-protocol-source", "10.0.0.0/8");
        assertEquals(2, run.exitCode(), run.stderr());
        assertTrue(run.stderr().contains("--proxy-protocol-source needs --accept-proxy-protocol"), run.stderr());
        run = ConnectCommandTest.tlsd("", "server", "--listen", "127.0.0.1:0",
                "--cert", server.chainPem().toString(), "--key", server.keyPem().toString(),
                "--accept-proxy-protocol", "--proxy-protocol-source", "lb.internal");
        assertEquals(2, run.exitCode(), run.stderr());
        assertTrue(run.stderr().contains("--proxy-protocol-source: \"lb.internal\" is no IP address"), run.stderr());
    }

    /** A reload changes which balancers a server tunnel takes connections from, for new ones. */
    @Test
    void aReloadChangesTheBalancersOfAServerTunnel() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        io.tlsd.testing.Issued server = pki.issueServer("localhost", "localhost");
        SSLContext tls = pki.clientContext();
        try (GreetingBackend backend = new GreetingBackend("hello")) {
            java.util.function.Function<String, io.tlsd.daemon.DaemonConfig> config = source ->
                    io.tlsd.daemon.DaemonConfig.builder().role(io.tlsd.daemon.DaemonConfig.Role.SERVER).ipcEnabled(false)
                            .tunnels(List.of(new io.tlsd.daemon.tunnel.TunnelConfig("in",
                                    ServerDaemonFixture.anyLoopbackPort(), "127.0.0.1:" + backend.port(), null,
                                    ListenerConfig.CertificateSpec.pem(List.of(), server.chainPem(), server.keyPem(), null),
                                    List.of(), io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy.NONE, null, false,
                                    Duration.ofMinutes(1), io.tlsd.daemon.tunnel.TunnelSettings.DEFAULT_MAX_CONNECTIONS, null,
                                    false, 0, List.of(), null, null, List.of(), null, null,
                                    ProxySources.of(List.of(source)))))
                            .build();
            try (io.tlsd.daemon.TlsdDaemon daemon = io.tlsd.daemon.TlsdDaemon.start(config.apply("127.0.0.2"))) {
                int tunnel = daemon.tunnelAddress("in").getPort();
                assertEquals("hello\n", throughTheBalancer(tls, tunnel, "127.0.0.2"));
                assertThrows(IOException.class, () -> throughTheBalancer(tls, tunnel, "127.0.0.1"));

                io.tlsd.daemon.TlsdDaemon.Reloaded reloaded = daemon.reload(config.apply("127.0.0.1"));
                assertEquals(List.of(), reloaded.notApplied(), "applied, not held for a restart");
                assertEquals("hello\n", throughTheBalancer(tls, tunnel, "127.0.0.1"));
                assertThrows(IOException.class, () -> throughTheBalancer(tls, tunnel, "127.0.0.2"));
                assertEquals(List.of(2L), daemon.metricSamples().stream()
                        .filter(m -> m.name().equals("tlsd_tunnel_proxy_untrusted_total") && m.labels().get("tunnel").equals("in"))
                        .map(Sample::value).toList(), "one closed before the reload, one after");
            }
        }
    }

    /**
     * max_pending_connections_per_client behind a balancer: the clients its PROXY headers name
     * each have their share; the balancer's own address is not what is counted.
     */
    @Test
    void behindABalancerEachClientItNamesHasItsOwnShare() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        ListenerConfig proxied = webBehind(pki, ProxySources.ANY, 1);
        try (ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(proxied));
             TlsdClient app = fixture.app();
             io.tlsd.it.tunnel.LogCapture log = io.tlsd.it.tunnel.LogCapture.start()) {
            int port = fixture.port("web");
            SSLContext tls = pki.clientContext();
            // two clients through the one balancer, each waiting for an ACCEPT: a place each
            try (SSLSocket a = overTls(tls, proxiedSocket(port, "203.0.113.7", 40000));
                 SSLSocket b = overTls(tls, proxiedSocket(port, "198.51.100.9", 41000))) {
                Socket again = proxiedSocket(port, "203.0.113.7", 40001);
                IOException refused = assertThrows(IOException.class, () -> overTls(tls, again),
                        "203.0.113.7 holds its one place");
                assertFalse(refused instanceof java.net.SocketTimeoutException, "closed at once: " + refused);
                again.close();
                String line = log.awaitLine("max_pending_connections_per_client (1) reached", T);
                assertTrue(line != null && line.contains("reached by 203.0.113.7:40001 (by its PROXY header, from 127.0.0.1:"),
                        log.text());

                TlsConnection first = app.accept("web").await(T);
                TlsConnection second = app.accept("web").await(T);
                assertEquals(java.util.Set.of("203.0.113.7:40000", "198.51.100.9:41000"),
                        java.util.Set.of(first.info().peerAddress(), second.info().peerAddress()));
                first.close().await(T);
                second.close().await(T);
            }
        }
    }

    /** A TCP connection to {@code port} from a balancer, its PROXY v1 header naming {@code client}. */
    private static Socket proxiedSocket(int port, String client, int clientPort) throws IOException {
        Socket tcp = new Socket(InetAddress.getLoopbackAddress(), port);
        tcp.getOutputStream().write(("PROXY TCP4 " + client + " 127.0.0.1 " + clientPort + " " + port + "\r\n")
                .getBytes(US_ASCII));
        return tcp;
    }

    /**
     * A server tunnel behind a balancer dials its backend only once the PROXY header has named the
     * client and the client got a place (max_connections_per_client counts the named client).
     */
    @Test
    void aServerTunnelDialsItsBackendOnlyForAnAdmittedClient() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        io.tlsd.testing.Issued server = pki.issueServer("localhost", "localhost");
        SSLContext tls = pki.clientContext();
        try (java.net.ServerSocket backend = new java.net.ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            backend.setSoTimeout(1_000);
            io.tlsd.daemon.DaemonConfig config = io.tlsd.daemon.DaemonConfig.builder()
                    .role(io.tlsd.daemon.DaemonConfig.Role.SERVER).ipcEnabled(false)
                    .tunnels(List.of(new io.tlsd.daemon.tunnel.TunnelConfig("in",
                            ServerDaemonFixture.anyLoopbackPort(), "127.0.0.1:" + backend.getLocalPort(), null,
                            ListenerConfig.CertificateSpec.pem(List.of(), server.chainPem(), server.keyPem(), null),
                            List.of(), io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy.NONE, null, false,
                            Duration.ofMinutes(1), io.tlsd.daemon.tunnel.TunnelSettings.DEFAULT_MAX_CONNECTIONS, null,
                            false, 1, List.of(), null, null, List.of(), null, null, ProxySources.ANY)))
                    .build();
            try (io.tlsd.daemon.TlsdDaemon daemon = io.tlsd.daemon.TlsdDaemon.start(config)) {
                int port = daemon.tunnelAddress("in").getPort();
                try (Socket silent = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    assertThrows(java.net.SocketTimeoutException.class, backend::accept,
                            "no backend connection for a client the header has not named yet");
                }
                try (SSLSocket a = overTls(tls, proxiedSocket(port, "203.0.113.7", 40000));
                     Socket aAtBackend = backend.accept()) {
                    Socket again = proxiedSocket(port, "203.0.113.7", 40001);
                    assertThrows(IOException.class, () -> overTls(tls, again), "203.0.113.7 holds its one place");
                    again.close();
                    assertThrows(java.net.SocketTimeoutException.class, backend::accept,
                            "no backend connection for a refused client");
                    try (SSLSocket b = overTls(tls, proxiedSocket(port, "198.51.100.9", 41000));
                         Socket bAtBackend = backend.accept()) {
                        bAtBackend.getOutputStream().write("b\n".getBytes(US_ASCII));
                        assertEquals('b', b.getInputStream().read(), "another client through the same balancer");
                    }
                }
                assertEquals(List.of(1L), daemon.metricSamples().stream()
                        .filter(m -> m.name().equals("tlsd_tunnel_closed_at_limit_total")
                                && m.labels().get("tunnel").equals("in"))
                        .map(Sample::value).toList(), "the refused client");
            }
        }
    }

    /** From {@code source}: a PROXY header, TLS, and the backend's greeting. */
    private static String throughTheBalancer(SSLContext tls, int port, String source) throws IOException {
        try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), port, InetAddress.getByName(source), 0)) {
            tcp.getOutputStream().write(("PROXY TCP4 203.0.113.7 127.0.0.1 40000 " + port + "\r\n").getBytes(US_ASCII));
            try (SSLSocket socket = overTls(tls, tcp)) {
                return new String(socket.getInputStream().readNBytes(6), US_ASCII);
            }
        }
    }

    /** Listener "web" for localhost, taking PROXY headers from {@code balancers}. */
    private static ListenerConfig webBehind(TestPki pki, ProxySources balancers) {
        return webBehind(pki, balancers, 0);
    }

    /** As above, with a share of {@code perClient} pending places for each client (0: none). */
    private static ListenerConfig webBehind(TestPki pki, ProxySources balancers, int perClient) {
        ListenerConfig plain = ServerDaemonFixture.listener("web",
                ServerDaemonFixture.pem(pki.issueServer("localhost", "localhost"), "localhost"));
        return new ListenerConfig(plain.name(), plain.address(), plain.certificates(), plain.alpn(),
                plain.clientAuth(), plain.clientCaFile(), plain.handshakeTimeout(), plain.backlog(),
                plain.maxPendingConnections(), perClient, plain.clientCrlFile(),
                plain.allowedClients(), null, balancers);
    }

    private static byte[] v2Tcp6Header(String source, int sourcePort, int destinationPort) throws IOException {
        java.nio.ByteBuffer header = java.nio.ByteBuffer.allocate(16 + 36);
        header.put(new byte[] {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 'Q', 'U', 'I', 'T', 0x0A});
        header.put((byte) 0x21).put((byte) 0x21).putShort((short) 36); // v2 PROXY, TCP over IPv6
        header.put(InetAddress.getByName(source).getAddress()).put(InetAddress.getByName("::1").getAddress());
        header.putShort((short) sourcePort).putShort((short) destinationPort);
        return header.array();
    }

    /** A TLS 1.3 handshake by hand ({@link javax.net.ssl.SSLEngine}), its first write led by {@code header}. */
    private static void handshakeWithTheHeaderInTheFirstWrite(SSLContext context, Socket tcp, byte[] header)
            throws Exception {
        tcp.setSoTimeout(10_000);
        javax.net.ssl.SSLEngine engine = context.createSSLEngine("localhost", tcp.getPort());
        engine.setUseClientMode(true);
        int packet = engine.getSession().getPacketBufferSize();
        java.nio.ByteBuffer in = java.nio.ByteBuffer.allocate(4 * packet);
        java.nio.ByteBuffer app = java.nio.ByteBuffer.allocate(engine.getSession().getApplicationBufferSize());
        byte[] lead = header;
        engine.beginHandshake();
        while (true) {
            switch (engine.getHandshakeStatus()) {
                case NEED_WRAP -> {
                    java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(packet);
                    engine.wrap(java.nio.ByteBuffer.allocate(0), out);
                    out.flip();
                    byte[] bytes = new byte[lead.length + out.remaining()];
                    System.arraycopy(lead, 0, bytes, 0, lead.length);
                    out.get(bytes, lead.length, bytes.length - lead.length);
                    tcp.getOutputStream().write(bytes); // the first: header and ClientHello together
                    lead = new byte[0];
                }
                case NEED_UNWRAP -> {
                    in.flip();
                    javax.net.ssl.SSLEngineResult result = engine.unwrap(in, app);
                    in.compact();
                    if (result.getStatus() == javax.net.ssl.SSLEngineResult.Status.BUFFER_UNDERFLOW) {
                        int n = tcp.getInputStream().read(in.array(), in.position(), in.remaining());
                        if (n < 0) {
                            throw new IOException("closed during the handshake");
                        }
                        in.position(in.position() + n);
                    }
                }
                case NEED_TASK -> engine.getDelegatedTask().run();
                default -> {
                    return; // FINISHED, NOT_HANDSHAKING
                }
            }
        }
    }

    private static SSLSocket overTls(SSLContext context, Socket tcp) throws IOException {
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(tcp, "localhost", tcp.getPort(), false);
        socket.setSoTimeout(5_000); // less than the listener's handshake timeout
        socket.startHandshake();
        return socket;
    }
}
