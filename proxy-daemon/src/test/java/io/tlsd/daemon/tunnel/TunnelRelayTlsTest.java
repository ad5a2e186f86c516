package io.tlsd.daemon.tunnel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.tlsd.daemon.transport.ConnectionLimit;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Relay} between a TLS end (a server {@link SslHandler}, as in {@link ServerTunnel}) and a
 * plain backend, with a TLS client on a third embedded channel: how close_notify and FIN cross
 * the tunnel. The client is JDK TLS because it keeps TLS 1.3 half-open connections working in
 * both directions; netty's OpenSSL engine does not (see the last tests).
 */
class TunnelRelayTlsTest {
    @TempDir
    static Path dir;
    static Issued cert;

    private EmbeddedChannel tlsSide;
    private SslHandler tunnelTls;
    private EmbeddedDuplexChannel backend;
    private EmbeddedChannel peer;
    private SslHandler peerTls;
    private Relay relay;
    private final Listener listener = new Listener(new ConnectionLimit(ch -> "tunnel test", "max_connections", 0));

    @BeforeAll
    static void issue() {
        cert = TestPki.create(dir).issueServer("localhost");
    }

    /** A handshaken tunnel whose TLS end runs on {@code provider}. */
    private void connect(SslProvider provider) throws Exception {
        SslContext server = SslContextBuilder.forServer(cert.privateKey(), cert.chain())
                .sslProvider(provider).protocols("TLSv1.3").build();
        SslContext client = SslContextBuilder.forClient()
                .sslProvider(SslProvider.JDK).protocols("TLSv1.3").trustManager(cert.caCertificate()).build();

        tlsSide = new EmbeddedChannel();
        tlsSide.config().setAutoRead(false);
        tunnelTls = server.newHandler(tlsSide.alloc());
        relay = new Relay("tunnel test", End.tls(tlsSide, tunnelTls, "client"), listener);
        tlsSide.pipeline().addLast("tls", tunnelTls).addLast("relay", new RelayHandler(relay, relay.accepted()));

        backend = new EmbeddedDuplexChannel();
        End backendEnd = End.plain(backend, "backend");
        backend.pipeline().addLast("relay", new RelayHandler(relay, backendEnd));
        relay.attach(backendEnd);

        peer = new EmbeddedChannel();
        peerTls = client.newHandler(peer.alloc(), "localhost", 443);
        peer.pipeline().addLast("tls", peerTls);
        pump();
        assertTrue(tunnelTls.handshakeFuture().isSuccess(), "handshake");
        relay.start(null);
        backend.log.clear();
    }

    @AfterEach
    void releaseEverything() {
        for (EmbeddedChannel channel : new EmbeddedChannel[] {tlsSide, backend, peer}) {
            if (channel != null) {
                channel.finishAndReleaseAll();
            }
        }
    }

    @Test
    void closeNotifyFromTheClientBecomesAFinAndTheReplyStillArrives() throws Exception {
        connect(SslProvider.JDK);

        peer.writeAndFlush(text("request"));
        peerTls.closeOutbound();
        pump();
        assertEquals("write:request,shutdownOutput", String.join(",", backend.log));
        assertEquals("request", receivedByBackend());
        assertTrue(tlsSide.isOpen());

        backend.writeInbound(text("reply"));
        pump();
        assertEquals("reply", receivedByPeer());

        backend.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        pump();
        assertTrue(peerTls.sslCloseFuture().isSuccess(), "the backend's FIN reached the client as close_notify");
        assertFalse(tlsSide.isOpen(), "both directions done");
        assertFalse(backend.isOpen());
    }

    @Test
    void aFinFromTheBackendBecomesCloseNotifyAndTheClientIsStillRead() throws Exception {
        connect(SslProvider.OPENSSL);

        backend.writeInbound(text("response"));
        backend.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        pump();
        assertEquals("response", receivedByPeer());
        assertTrue(peerTls.sslCloseFuture().isSuccess(), "close_notify after the response");
        assertTrue(tlsSide.isOpen());
        backend.log.clear();

        peer.writeAndFlush(text("more"));
        pump();
        assertEquals("write:more", String.join(",", backend.log), "the tunnel keeps reading after its close_notify");
        assertEquals("more", receivedByBackend());

        peerTls.closeOutbound();
        pump();
        assertTrue(backend.isOutputShutdown());
        assertFalse(tlsSide.isOpen(), "both directions done");
        assertFalse(backend.isOpen());
    }

    @Test
    void aTcpFinWithoutCloseNotifyResetsTheBackend() throws Exception {
        connect(SslProvider.OPENSSL);
        peer.writeAndFlush(text("partial"));
        pump();

        tlsSide.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);

        assertFalse(backend.isOpen());
        assertFalse(backend.isOutputShutdown(), "a reset: the backend must not take this for a complete request");
        assertFalse(tlsSide.isOpen());
        assertNull(tlsSide.readOutbound(), "no close_notify either");
        assertEquals("partial", receivedByBackend());
    }

    /**
     * Netty's OpenSSL engine answers a close_notify with its own and cannot send after it
     * (ReferenceCountedOpenSslEngine.closeAll), so a client's half-close through a BoringSSL
     * tunnel ends both directions. Pinned here so that a netty that lifts it gets noticed.
     */
    @Test
    void withOpenSslACloseNotifyFromTheClientEndsBothDirections() throws Exception {
        connect(SslProvider.OPENSSL);

        peer.writeAndFlush(text("request"));
        peerTls.closeOutbound();
        pump();

        assertEquals("write:request,shutdownOutput", String.join(",", backend.log));
        assertEquals("request", receivedByBackend());
        assertTrue(peerTls.sslCloseFuture().isSuccess(), "the engine's own close_notify");
        assertFalse(tlsSide.isOpen());
        assertFalse(backend.isOpen());
    }

    /** Moves TLS records between the client and the tunnel until neither has anything to send. */
    private void pump() {
        for (int round = 0; round < 100; round++) {
            peer.runPendingTasks();
            tlsSide.runPendingTasks();
            boolean moved = false;
            ByteBuf record;
            while ((record = peer.readOutbound()) != null) {
                tlsSide.writeInbound(record);
                moved = true;
            }
            while ((record = tlsSide.readOutbound()) != null) {
                peer.writeInbound(record);
                moved = true;
            }
            if (!moved) {
                return;
            }
        }
        throw new AssertionError("TLS records kept flowing");
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    /** Everything the backend was sent so far. */
    private String receivedByBackend() {
        StringBuilder text = new StringBuilder();
        ByteBuf buf;
        while ((buf = backend.readOutbound()) != null) {
            text.append(buf.toString(StandardCharsets.UTF_8));
            buf.release();
        }
        return text.toString();
    }

    /** Everything the TLS client decrypted so far. */
    private String receivedByPeer() {
        StringBuilder text = new StringBuilder();
        ByteBuf buf;
        while ((buf = peer.readInbound()) != null) {
            text.append(buf.toString(StandardCharsets.UTF_8));
            buf.release();
        }
        return text.toString();
    }
}
