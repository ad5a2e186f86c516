package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A listener's accept_proxy_protocol: the client a PROXY header names (v1 here, written by hand as
 * a balancer would) is the connection's peer for the application; a LOCAL header (the balancer's
 * own health check) leaves the TCP peer; a connection without a header is not served.
 */
class ListenerProxyProtocolTest {
    private static final Duration T = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    void theClientThePROXYHeaderNamesIsThePeer() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        ListenerConfig plain = ServerDaemonFixture.listener("web",
                ServerDaemonFixture.pem(pki.issueServer("localhost", "localhost"), "localhost"));
        ListenerConfig proxied = new ListenerConfig(plain.name(), plain.address(), plain.certificates(), plain.alpn(),
                plain.clientAuth(), plain.clientCaFile(), plain.handshakeTimeout(), plain.backlog(),
                plain.maxPendingConnections(), plain.maxPendingConnectionsPerClient(), plain.clientCrlFile(),
                plain.allowedClients(), null, true);
        try (ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(proxied));
             TlsdClient app = fixture.app()) {
            int port = fixture.port("web");
            SSLContext tls = clientContext(pki);

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

            try (Socket tcp = new Socket(InetAddress.getLoopbackAddress(), port)) {
                assertThrows(IOException.class, () -> overTls(tls, tcp), "TLS without the balancer's header");
            }
        }
    }

    private static SSLSocket overTls(SSLContext context, Socket tcp) throws IOException {
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(tcp, "localhost", tcp.getPort(), false);
        socket.setSoTimeout(10_000);
        socket.startHandshake();
        return socket;
    }

    private static SSLContext clientContext(TestPki pki) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("ca", pki.caCertificate());
        TrustManagerFactory trustManagers = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trustManagers.init(trust);
        SSLContext context = SSLContext.getInstance("TLSv1.3");
        context.init(null, trustManagers.getTrustManagers(), null);
        return context;
    }
}
