package io.tlsd.daemon.tls;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy;
import io.tlsd.daemon.tls.signing.JdkKeySigner;
import io.tlsd.daemon.tls.signing.KeyKind;
import io.tlsd.daemon.tls.signing.KeySigner;
import io.tlsd.daemon.tls.signing.SignerPool;
import io.tlsd.daemon.tls.signing.SigningPolicy;
import io.tlsd.daemon.tls.signing.SigningPolicy.Mode;
import io.tlsd.daemon.tls.signing.SigningPolicy.Placement;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.testing.Issued;
import io.tlsd.testing.KeyType;
import io.tlsd.testing.TestPki;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.SignatureException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Handshakes of a server listener (SniHandler over {@link ServerTlsContexts}, as the daemon wires
 * it) whose signatures are made off the event loop, against the JDK's TLS client.
 */
class OffLoopHandshakeTest {
    @TempDir
    static Path dir;
    static TestPki pki;
    static Issued ec;
    static Issued rsa;
    static EventLoopGroup group;
    static SignerPool pool;

    @BeforeAll
    static void setUp() {
        pki = TestPki.create(dir);
        ec = pki.issueServer(KeyType.EC_P256, "localhost", "localhost", "127.0.0.1");
        rsa = pki.issueServer(KeyType.RSA_2048, "localhost", "localhost", "127.0.0.1");
        group = Transport.NIO.newGroup(2, new DefaultThreadFactory("test-loop"));
        pool = new SignerPool(2, 64);
    }

    @AfterAll
    static void tearDown() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        pool.close();
    }

    /** A JDK signer on the test pool that records what it was asked for and which threads signed. */
    static final class RecordingSigner implements KeySigner {
        final KeySigner delegate;
        final Queue<Integer> schemes = new ConcurrentLinkedQueue<>();
        final Queue<String> signingThreads = new ConcurrentLinkedQueue<>();

        RecordingSigner(PrivateKey key, X509Certificate leaf) {
            this.delegate = JdkKeySigner.forKey(key, leaf, task -> pool.execute(() -> {
                signingThreads.add(Thread.currentThread().getName());
                task.run();
            }));
        }

        @Override
        public KeyKind keyKind() {
            return delegate.keyKind();
        }

        @Override
        public CompletableFuture<byte[]> sign(int signatureScheme, byte[] input) {
            schemes.add(signatureScheme);
            return delegate.sign(signatureScheme, input);
        }
    }

    /** A listener on 127.0.0.1:0 that echoes a line; remembers where each handshake completed. */
    static final class EchoServer implements AutoCloseable {
        final ServerTlsContexts contexts;
        final Channel channel;
        final LinkedBlockingQueue<String> handshakes = new LinkedBlockingQueue<>();

        EchoServer(Issued issued, List<String> protocols, SigningPolicy policy) throws Exception {
            KeyMaterial material = KeyMaterial.fromPem(issued.chainPem(), issued.keyPem(), null);
            contexts = new ServerTlsContexts(List.of(new ServerTlsContexts.Identity(List.of(), material)),
                    List.of(), ClientAuthPolicy.NONE, null, TlsParameters.DEFAULTS.withProtocols(protocols), null, policy);
            channel = new ServerBootstrap()
                    .group(group)
                    .channel(Transport.NIO.serverSocketChannel())
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline()
                                    .addLast(new SniHandler(contexts.mapping(), 10_000))
                                    .addLast(new ChannelInboundHandlerAdapter() {
                                        @Override
                                        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                            if (evt instanceof SslHandshakeCompletionEvent done) {
                                                handshakes.add((done.isSuccess() ? "ok on " : "failed on ")
                                                        + (ctx.channel().eventLoop().inEventLoop() ? "its loop"
                                                        : Thread.currentThread().getName()));
                                            }
                                            ctx.fireUserEventTriggered(evt);
                                        }

                                        @Override
                                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                            ctx.writeAndFlush(msg);
                                        }

                                        @Override
                                        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                            ctx.close();
                                        }
                                    });
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0))
                    .sync()
                    .channel();
        }

        int port() {
            return ((InetSocketAddress) channel.localAddress()).getPort();
        }

        @Override
        public void close() {
            channel.close().syncUninterruptibly();
        }
    }

    private static SSLSocket client(int port, String protocol) throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, pki.trustManagers().getTrustManagers(), null);
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", port);
        socket.setSoTimeout(10_000);
        socket.setEnabledProtocols(new String[] {protocol});
        return socket;
    }

    /** Handshakes, then checks that application data flows both ways. */
    private static String handshakeAndEcho(int port, String protocol) throws Exception {
        try (SSLSocket socket = client(port, protocol)) {
            socket.startHandshake();
            OutputStream out = socket.getOutputStream();
            out.write("ping\n".getBytes(US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            assertEquals("ping\n", new String(in.readNBytes(5), US_ASCII));
            return socket.getSession().getProtocol();
        }
    }

    private static SigningPolicy offLoop(RecordingSigner[] made) {
        return SigningPolicy.of(Mode.OFF_LOOP).withSigners((key, leaf) -> {
            made[0] = new RecordingSigner(key, leaf);
            return made[0];
        });
    }

    @Test
    void ecdsaKeySignsOnTheSignerThreadsAndTheHandshakeResumesOnItsLoop() throws Exception {
        RecordingSigner[] signer = new RecordingSigner[1];
        try (EchoServer server = new EchoServer(ec, List.of("TLSv1.3"), offLoop(signer))) {
            assertEquals(Placement.OFF_LOOP, server.contexts.placements().get(0).placement());
            for (int i = 0; i < 3; i++) {
                assertEquals("TLSv1.3", handshakeAndEcho(server.port(), "TLSv1.3"));
                assertEquals("ok on its loop", server.handshakes.poll(10, TimeUnit.SECONDS));
            }
            assertEquals(List.of(0x0403, 0x0403, 0x0403), List.copyOf(signer[0].schemes));
            assertTrue(signer[0].signingThreads.stream().allMatch(t -> t.startsWith("tlsd-signer-")),
                    signer[0].signingThreads.toString());
        }
    }

    @Test
    void rsaKeySignsWithPssInTls13() throws Exception {
        RecordingSigner[] signer = new RecordingSigner[1];
        try (EchoServer server = new EchoServer(rsa, List.of("TLSv1.3"), offLoop(signer))) {
            assertEquals("TLSv1.3", handshakeAndEcho(server.port(), "TLSv1.3"));
            assertEquals("ok on its loop", server.handshakes.poll(10, TimeUnit.SECONDS));
            int scheme = signer[0].schemes.remove();
            assertTrue(scheme >= 0x0804 && scheme <= 0x0806, Integer.toHexString(scheme));
            assertTrue(signer[0].signingThreads.remove().startsWith("tlsd-signer-"));
        }
    }

    @Test
    void rsaKeySignsTheTls12KeyExchange() throws Exception {
        RecordingSigner[] signer = new RecordingSigner[1];
        try (EchoServer server = new EchoServer(rsa, List.of("TLSv1.2", "TLSv1.3"), offLoop(signer))) {
            assertEquals("TLSv1.2", handshakeAndEcho(server.port(), "TLSv1.2"));
            assertEquals("ok on its loop", server.handshakes.poll(10, TimeUnit.SECONDS));
            assertFalse(signer[0].schemes.isEmpty(), "ECDHE_RSA signs the ServerKeyExchange");
        }
    }

    @Test
    void aFailingSignerFailsOnlyThatHandshake() throws Exception {
        SigningPolicy failing = SigningPolicy.of(Mode.OFF_LOOP).withSigners((key, leaf) -> new KeySigner() {
            @Override
            public KeyKind keyKind() {
                return KeyKind.of(leaf.getPublicKey());
            }

            @Override
            public CompletableFuture<byte[]> sign(int signatureScheme, byte[] input) {
                return CompletableFuture.supplyAsync(() -> {
                    throw new IllegalStateException(new SignatureException("the HSM is unplugged"));
                }, pool);
            }
        });
        try (EchoServer server = new EchoServer(ec, List.of("TLSv1.3"), failing)) {
            assertThrows(SSLException.class, () -> handshakeAndEcho(server.port(), "TLSv1.3"));
            assertTrue(server.handshakes.poll(10, TimeUnit.SECONDS).startsWith("failed on "));
            // The listener lives on: the next client gets the same (failing) treatment, not a hang.
            assertThrows(SSLException.class, () -> handshakeAndEcho(server.port(), "TLSv1.3"));
        }
    }

    @Test
    void aClientThatLeavesWhileItsSignatureIsMadeHurtsNoOne() throws Exception {
        CountDownLatch signing = new CountDownLatch(1);
        CountDownLatch clientGone = new CountDownLatch(1);
        SigningPolicy slow = SigningPolicy.of(Mode.OFF_LOOP).withSigners((key, leaf) -> {
            KeySigner jdk = JdkKeySigner.forKey(key, leaf, pool);
            return new KeySigner() {
                @Override
                public KeyKind keyKind() {
                    return jdk.keyKind();
                }

                @Override
                public CompletableFuture<byte[]> sign(int signatureScheme, byte[] input) {
                    signing.countDown();
                    // Answers only after the client has gone and the server has freed its engine.
                    return CompletableFuture.supplyAsync(() -> {
                        try {
                            clientGone.await(10, TimeUnit.SECONDS);
                            Thread.sleep(200);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        return null;
                    }, pool).thenCompose(ignored -> jdk.sign(signatureScheme, input));
                }
            };
        });
        try (EchoServer server = new EchoServer(ec, List.of("TLSv1.3"), slow)) {
            SSLSocket leaving = client(server.port(), "TLSv1.3");
            Thread handshake = new Thread(() -> {
                try {
                    leaving.startHandshake();
                } catch (IOException expected) {
                    // the socket is closed under it
                }
            });
            handshake.start();
            assertTrue(signing.await(10, TimeUnit.SECONDS));
            leaving.close();
            handshake.join(10_000);
            clientGone.countDown();
            assertTrue(server.handshakes.poll(10, TimeUnit.SECONDS).startsWith("failed on "));
            // The late signature finds nothing to resume, and the listener still serves.
            assertEquals("TLSv1.3", handshakeAndEcho(server.port(), "TLSv1.3"));
            assertEquals("ok on its loop", server.handshakes.poll(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void onLoopKeysNeverReachASigner() throws Exception {
        SigningPolicy onLoop = SigningPolicy.of(Mode.ON_LOOP).withSigners((key, leaf) -> {
            throw new AssertionError("an on-loop key got a signer");
        });
        try (EchoServer server = new EchoServer(rsa, List.of("TLSv1.3"), onLoop)) {
            assertEquals(Placement.ON_LOOP, server.contexts.placements().get(0).placement());
            assertEquals("TLSv1.3", handshakeAndEcho(server.port(), "TLSv1.3"));
            assertEquals("ok on its loop", server.handshakes.poll(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void autoPlacesEachCertificateByItsKey() throws Exception {
        KeyMaterial ecKey = KeyMaterial.fromPem(ec.chainPem(), ec.keyPem(), null);
        KeyMaterial rsaKey = KeyMaterial.fromPem(rsa.chainPem(), rsa.keyPem(), null);
        ServerTlsContexts contexts = new ServerTlsContexts(
                List.of(new ServerTlsContexts.Identity(List.of(), ecKey),
                        new ServerTlsContexts.Identity(List.of("rsa.test"), rsaKey)),
                List.of(), ClientAuthPolicy.NONE, null, TlsParameters.DEFAULTS, null, SigningPolicy.auto());
        assertEquals(List.of(KeyKind.ec(256), KeyKind.rsa(2048)),
                contexts.placements().stream().map(ServerTlsContexts.KeyPlacement::kind).toList());
        assertEquals(List.of(SigningPolicy.autoPlacement(KeyKind.ec(256)), SigningPolicy.autoPlacement(KeyKind.rsa(2048))),
                contexts.placements().stream().map(ServerTlsContexts.KeyPlacement::placement).toList());
    }

    @Test
    void eachCertificateServedIsListedOnceWhenEveryOneHasNames() throws Exception {
        KeyMaterial ecKey = KeyMaterial.fromPem(ec.chainPem(), ec.keyPem(), null);
        KeyMaterial rsaKey = KeyMaterial.fromPem(rsa.chainPem(), rsa.keyPem(), null);
        // the first is also the default, built a second time for the mapping
        ServerTlsContexts contexts = new ServerTlsContexts(
                List.of(new ServerTlsContexts.Identity(List.of("ec.test"), ecKey),
                        new ServerTlsContexts.Identity(List.of("rsa.test"), rsaKey)),
                List.of(), ClientAuthPolicy.NONE, null, TlsParameters.DEFAULTS, null, SigningPolicy.auto());
        assertEquals(List.of(ecKey.leaf(), rsaKey.leaf()), contexts.leaves());
    }
}
