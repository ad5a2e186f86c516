package io.tlsd.daemon.tls;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import io.tlsd.daemon.engine.Failure;
import io.tlsd.daemon.transport.HostResolver;
import io.tlsd.daemon.transport.TcpKeepalive;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.proto.v1.Open;
import io.tlsd.proto.v1.Status;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client role's connector with its own handshake loops: the handshake happens there, and the
 * channel reaches the session's loop with its pipeline ending in the session's handler, nothing
 * the server sent with its last handshake flight lost.
 */
class TlsConnectorTest {
    @TempDir
    static Path dir;
    static TestPki pki;
    static SslContext serverContext;
    static Transport transport = Transport.select("auto");
    static EventLoopGroup server;
    static EventLoopGroup sessions;
    static EventLoopGroup handshakes;
    static HostResolver resolver;
    static Channel greeter;
    static Channel farewell;
    static Channel slammer;
    static Channel silent;
    static final CompletableFuture<Void> silentClientLeft = new CompletableFuture<>();

    @BeforeAll
    static void start() throws Exception {
        pki = TestPki.create(dir);
        Issued localhost = pki.issueServer("localhost", "localhost", "127.0.0.1");
        serverContext = SslContextBuilder.forServer(localhost.certPem().toFile(), localhost.keyPem().toFile())
                .sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3").build();
        server = transport.newGroup(1, new DefaultThreadFactory("test-server"));
        sessions = transport.newGroup(1, new DefaultThreadFactory("test-session"));
        handshakes = transport.newGroup(1, new DefaultThreadFactory("test-handshake"));
        resolver = new HostResolver("test-resolver");
        // greets every client the moment its own handshake is done: the greeting may arrive with
        // the client's handshake, before the channel moves
        greeter = new ServerBootstrap().group(server).channel(transport.serverSocketChannel())
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(serverContext.newHandler(ch.alloc()), new ChannelInboundHandlerAdapter() {
                            @Override
                            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                if (evt instanceof SslHandshakeCompletionEvent done && done.isSuccess()) {
                                    ctx.writeAndFlush(Unpooled.copiedBuffer("hello\n", US_ASCII));
                                }
                            }
                        });
                    }
                }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        // says goodbye and closes (close_notify, FIN) the moment the handshake is done: all of it
        // can arrive while the client's channel moves to its session's loop
        farewell = new ServerBootstrap().group(server).channel(transport.serverSocketChannel())
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(serverContext.newHandler(ch.alloc()), new ChannelInboundHandlerAdapter() {
                            @Override
                            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                if (evt instanceof SslHandshakeCompletionEvent done && done.isSuccess()) {
                                    ctx.writeAndFlush(Unpooled.copiedBuffer("bye\n", US_ASCII))
                                            .addListener(ChannelFutureListener.CLOSE);
                                }
                            }
                        });
                    }
                }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        // accepts and never answers: the client's handshake stays in progress
        silent = new ServerBootstrap().group(server).channel(transport.serverSocketChannel())
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        silentClientLeft.complete(null);
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ((ByteBuf) msg).release();
                    }
                }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        // accepts and closes at once, in the middle of the client's handshake
        slammer = new ServerBootstrap().group(server).channel(transport.serverSocketChannel())
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.close();
                    }
                }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
    }

    @AfterAll
    static void stop() {
        greeter.close().syncUninterruptibly();
        farewell.close().syncUninterruptibly();
        slammer.close().syncUninterruptibly();
        silent.close().syncUninterruptibly();
        for (EventLoopGroup g : new EventLoopGroup[] {server, sessions, handshakes}) {
            g.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        resolver.close();
    }

    /** Collects what reaches the session's handler, and on which thread. */
    static final class Recorder extends ChannelInboundHandlerAdapter {
        final StringBuilder received = new StringBuilder();
        final CompletableFuture<String> line = new CompletableFuture<>();
        /** What the handler saw, in order, once the channel is gone. */
        final CompletableFuture<String> events = new CompletableFuture<>();
        final StringBuilder seen = new StringBuilder();
        volatile Thread readOn;

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslCloseCompletionEvent close && close.isSuccess()) {
                seen.append("close_notify;");
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            seen.append("inactive;");
            events.complete("data=" + received + ";" + seen);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            readOn = Thread.currentThread();
            received.append(((ByteBuf) msg).toString(US_ASCII));
            ((ByteBuf) msg).release();
            if (received.indexOf("\n") >= 0) {
                line.complete(received.toString());
            } else {
                ctx.read();
            }
        }
    }

    private static TlsConnector connector(EventLoopGroup handshakeLoops) throws Exception {
        return connector(handshakeLoops, 0);
    }

    /** {@code maxInFlight} 0: no limit; {@link TlsConnector#ADAPTIVE}: learned per target. */
    private static TlsConnector connector(EventLoopGroup handshakeLoops, int maxInFlight) throws Exception {
        return new TlsConnector(transport, new ClientTlsContexts(TlsParameters.DEFAULTS, pki.caPem()),
                Duration.ofSeconds(5), Duration.ofSeconds(5), resolver, handshakeLoops, maxInFlight);
    }

    /** A server that accepts, counts in {@code accepted}, and never answers: a handshake with it stays under way. */
    private static Channel stuckServer(AtomicInteger accepted) throws InterruptedException {
        return new ServerBootstrap().group(server).channel(transport.serverSocketChannel())
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        accepted.incrementAndGet();
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ((ByteBuf) msg).release();
                    }
                }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
    }

    private static Open open() {
        return open(greeter);
    }

    private static Open open(Channel server) {
        return Open.newBuilder().setHost("127.0.0.1").setPort(((InetSocketAddress) server.localAddress()).getPort())
                .setServerName("localhost").build();
    }

    @Test
    void aServerThatClosesRightAfterTheHandshakeIsSeenClosingAfterItsLastWords() throws Exception {
        TlsConnector connector = connector(handshakes);
        for (int i = 0; i < 40; i++) { // whether the close comes before, during or after the move
            Recorder recorder = new Recorder();
            EventLoop loop = sessions.next();
            Channel ch = connector.connect(open(farewell), loop, recorder).get(10, TimeUnit.SECONDS);
            assertEquals(loop, ch.eventLoop());
            loop.execute(ch::read);
            assertEquals("data=bye\n;close_notify;inactive;", recorder.events.get(10, TimeUnit.SECONDS), "attempt " + i);
        }
    }

    @Test
    void aSendBufferIsSetOnTheConnectionsAndLeftToTheKernelWithout() throws Exception {
        int requested = 64 << 10; // below any net.core.wmem_max, which caps it (Linux's default: 208 KiB)
        TlsConnector sized = new TlsConnector(transport, new ClientTlsContexts(TlsParameters.DEFAULTS, pki.caPem()),
                Duration.ofSeconds(5), Duration.ofSeconds(5), resolver, handshakes, 0, requested);
        Channel ch = sized.connect(open(), sessions.next(), new Recorder()).get(10, TimeUnit.SECONDS);
        Channel autotuned = connector(handshakes).connect(open(), sessions.next(), new Recorder())
                .get(10, TimeUnit.SECONDS);
        try {
            // Linux keeps twice what is asked
            assertEquals(2 * requested, ch.config().getOption(ChannelOption.SO_SNDBUF));
            assertNotEquals(ch.config().getOption(ChannelOption.SO_SNDBUF),
                    autotuned.config().getOption(ChannelOption.SO_SNDBUF));
        } finally {
            ch.close().sync();
            autotuned.close().sync();
        }
    }

    /** A resolver that knows "two.test" (nothing listens on 127.0.0.2, then the servers' address) and "none.test". */
    private static HostResolver twoAddresses() {
        return new HostResolver("test-two", host -> switch (host) {
            case "two.test" -> new java.net.InetAddress[] {
                java.net.InetAddress.getByAddress(host, new byte[] {127, 0, 0, 2}),
                java.net.InetAddress.getByAddress(host, new byte[] {127, 0, 0, 1})};
            case "none.test" -> new java.net.InetAddress[] {
                java.net.InetAddress.getByAddress(host, new byte[] {127, 0, 0, 2}),
                java.net.InetAddress.getByAddress(host, new byte[] {127, 0, 0, 3})};
            default -> throw new java.net.UnknownHostException(host);
        });
    }

    @Test
    void anAddressThatRefusesIsPassedOverForTheHostsNext() throws Exception {
        try (HostResolver two = twoAddresses()) {
            for (int maxInFlight : new int[] {0, 1, TlsConnector.ADAPTIVE}) {
                TlsConnector connector = new TlsConnector(transport,
                        new ClientTlsContexts(TlsParameters.DEFAULTS, pki.caPem()), Duration.ofSeconds(5),
                        Duration.ofSeconds(5), two, handshakes, maxInFlight);
                int port = ((InetSocketAddress) greeter.localAddress()).getPort();
                Recorder recorder = new Recorder();
                Channel ch = connector.connect(Open.newBuilder().setHost("two.test").setPort(port)
                        .setServerName("localhost").build(), sessions.next(), recorder).get(10, TimeUnit.SECONDS);
                assertEquals("/127.0.0.1:" + port, ch.remoteAddress().toString().replaceAll("^[^/]*", ""));
                ch.eventLoop().execute(ch::read);
                assertEquals("hello\n", recorder.line.get(10, TimeUnit.SECONDS));
                ch.close().sync();

                Future<Channel> none = connector.connect(Open.newBuilder().setHost("none.test").setPort(port)
                        .setServerName("localhost").build(), sessions.next(), new Recorder());
                assertTrue(none.await(10, TimeUnit.SECONDS));
                Failure failure = (Failure) none.cause();
                assertEquals(Status.CONNECT_FAILED, failure.status());
                assertTrue(failure.detail().startsWith("cannot connect to none.test at any of its 2 addresses: 127.0.0.2:"
                        + port + ": "), failure.detail());
                assertTrue(failure.detail().contains("; 127.0.0.3:" + port + ": "), failure.detail());
                assertEquals(0, connector.handshakesWaiting());
            }
        }
    }

    @Test
    void keepaliveIsSetOnTheConnectionsOnceAsked() throws Exception {
        TlsConnector connector = connector(handshakes);
        Channel plain = connector.connect(open(), sessions.next(), new Recorder()).get(10, TimeUnit.SECONDS);
        connector.keepalive(new TcpKeepalive(Duration.ofSeconds(90)));
        Channel probed = connector.connect(open(), sessions.next(), new Recorder()).get(10, TimeUnit.SECONDS);
        try {
            assertFalse(plain.config().getOption(ChannelOption.SO_KEEPALIVE));
            assertTrue(probed.config().getOption(ChannelOption.SO_KEEPALIVE));
            if (probed instanceof io.netty.channel.epoll.EpollSocketChannel) {
                assertEquals(90, probed.config().getOption(io.netty.channel.epoll.EpollChannelOption.TCP_KEEPIDLE));
                assertEquals(15, probed.config().getOption(io.netty.channel.epoll.EpollChannelOption.TCP_KEEPINTVL));
                assertEquals(4, probed.config().getOption(io.netty.channel.epoll.EpollChannelOption.TCP_KEEPCNT));
            }
        } finally {
            plain.close().sync();
            probed.close().sync();
        }
    }

    @Test
    void aServerThatClosesDuringTheHandshakeFailsItAtOnce() throws Exception {
        long start = System.nanoTime();
        Future<Channel> attempt = connector(handshakes).connect(open(slammer), sessions.next(), new Recorder());
        assertTrue(attempt.await(5, TimeUnit.SECONDS), "the handshake should fail at once, not at its timeout");
        assertFalse(attempt.isSuccess());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(3));
    }

    @Test
    void handshakesOnItsOwnLoopThenMovesToTheSessionsLoop() throws Exception {
        EventLoop loop = sessions.next();
        Recorder recorder = new Recorder();
        Future<Channel> attempt = connector(handshakes).connect(open(), loop, recorder);
        Channel ch = attempt.get(10, TimeUnit.SECONDS);
        assertEquals(loop, ch.eventLoop(), "the channel now lives on the session's loop");
        assertNotEquals(handshakes.next(), ch.eventLoop());
        assertEquals(recorder, ch.pipeline().last(), "the session's handler ends the pipeline");
        assertTrue(ch.isActive());
        ch.eventLoop().execute(ch::read);
        assertEquals("hello\n", recorder.line.get(10, TimeUnit.SECONDS));
        assertTrue(recorder.readOn.getName().startsWith("test-session"), recorder.readOn.getName());
        ch.close().sync();
    }

    @Test
    void withoutHandshakeLoopsEverythingHappensOnTheSessionsLoop() throws Exception {
        EventLoop loop = sessions.next();
        Recorder recorder = new Recorder();
        Channel ch = connector(null).connect(open(), loop, recorder).get(10, TimeUnit.SECONDS);
        assertEquals(loop, ch.eventLoop());
        ch.eventLoop().execute(ch::read);
        assertEquals("hello\n", recorder.line.get(10, TimeUnit.SECONDS));
        ch.close().sync();
    }

    @Test
    void beyondTheCapAnAttemptWaitsForOneUnderWayToEnd() throws Exception {
        AtomicInteger silentAccepted = new AtomicInteger();
        Channel stuck = stuckServer(silentAccepted);
        try {
            TlsConnector connector = connector(handshakes, 1);
            EventLoop loop = sessions.next();
            // holds the only slot: its handshake never ends
            Future<Channel> first = connector.connect(open(stuck), loop, new Recorder());
            Recorder recorder = new Recorder();
            Future<Channel> second = connector.connect(open(), loop, recorder);
            Future<Channel> third = connector.connect(open(stuck), loop, new Recorder());
            assertFalse(second.await(500, TimeUnit.MILLISECONDS), "the second attempt waits for the first");
            assertEquals(1, silentAccepted.get());
            assertEquals(2, connector.handshakesWaiting());
            loop.submit(() -> third.cancel(false)).sync(); // gives up while it waits: leaves the queue
            assertEquals(1, connector.handshakesWaiting());
            loop.submit(() -> first.cancel(false)).sync(); // frees the slot
            Channel ch = second.get(10, TimeUnit.SECONDS);
            ch.eventLoop().execute(ch::read);
            assertEquals("hello\n", recorder.line.get(10, TimeUnit.SECONDS));
            // the second's handshake is over: its slot is free, the cancelled third never connects
            Channel fourth = connector.connect(open(), loop, new Recorder()).get(10, TimeUnit.SECONDS);
            assertEquals(1, silentAccepted.get(), "the cancelled attempt never connected");
            ch.close().sync();
            fourth.close().sync();
        } finally {
            stuck.close().sync();
        }
    }

    @Test
    void anAttemptWaitingForASlotCanBeWithdrawnOneUnderWayCannot() throws Exception {
        AtomicInteger silentAccepted = new AtomicInteger();
        Channel stuck = stuckServer(silentAccepted);
        try {
            TlsConnector connector = connector(handshakes, 1);
            EventLoop loop = sessions.next();
            Future<Channel> first = connector.connect(open(stuck), loop, new Recorder()); // holds the only slot
            Future<Channel> second = connector.connect(open(stuck), loop, new Recorder());
            assertFalse(second.await(300, TimeUnit.MILLISECONDS), "the second attempt waits for the first");
            assertEquals(1, connector.handshakesWaiting());

            assertFalse(loop.submit(() -> connector.withdraw(first)).get(), "the first is under way");
            assertFalse(first.isDone());
            assertTrue(loop.submit(() -> connector.withdraw(second)).get(), "the second has not started");
            assertTrue(second.isCancelled());
            assertEquals(0, connector.handshakesWaiting());
            assertFalse(loop.submit(() -> connector.withdraw(second)).get(), "once only");

            loop.submit(() -> first.cancel(false)).sync(); // frees the slot
            Channel third = connector.connect(open(), loop, new Recorder()).get(10, TimeUnit.SECONDS);
            assertEquals(1, silentAccepted.get(), "the withdrawn attempt never connected");
            third.close().sync();
        } finally {
            stuck.close().sync();
        }
    }

    @Test
    void anOpenWaitingForASlotWhenTheContextsAreReplacedStartsWithTheNewOnes() throws Exception {
        Channel stuck = stuckServer(new AtomicInteger());
        try {
            TlsConnector connector = connector(handshakes, 1);
            EventLoop loop = sessions.next();
            Future<Channel> first = connector.connect(open(stuck), loop, new Recorder()); // holds the only slot
            Future<Channel> waiting = connector.connect(open(), loop, new Recorder());
            assertFalse(waiting.await(300, TimeUnit.MILLISECONDS), "it waits for the first");

            TestPki other = TestPki.create(Files.createDirectories(dir.resolve("other-ca")));
            connector.contexts(new ClientTlsContexts(TlsParameters.DEFAULTS, other.caPem()));
            loop.submit(() -> first.cancel(false)).sync(); // frees the slot

            assertTrue(waiting.await(10, TimeUnit.SECONDS));
            assertFalse(waiting.isSuccess(), "verified against the anchors in use when it started");
            assertEquals(Status.CERT_INVALID, ((Failure) waiting.cause()).status(), waiting.cause().toString());
        } finally {
            stuck.close().sync();
        }
    }

    @Test
    void aTargetWhoseAttemptsWaitForTheNetworkGetsMoreAtOnce() throws Exception {
        // every flight from the client reaches this server's TLS 20 ms late, as across a network
        Channel distant = new ServerBootstrap().group(server).channel(transport.serverSocketChannel())
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ctx.executor().schedule(() -> {
                                    ctx.fireChannelRead(msg);
                                    ctx.fireChannelReadComplete(); // where TLS flushes its answer
                                }, 20, TimeUnit.MILLISECONDS);
                            }

                            @Override
                            public void channelReadComplete(ChannelHandlerContext ctx) {
                                // passed on with the delayed read
                            }
                        }, serverContext.newHandler(ch.alloc()));
                    }
                }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        try {
            TlsConnector connector = connector(handshakes, TlsConnector.ADAPTIVE);
            InetSocketAddress target = new InetSocketAddress("127.0.0.1", ((InetSocketAddress) distant.localAddress()).getPort());
            assertEquals(AdaptiveLimit.INITIAL, connector.handshakeLimit(target));
            List<Future<Channel>> attempts = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                attempts.add(connector.connect(open(distant), sessions.next(), new Recorder()));
            }
            for (Future<Channel> attempt : attempts) {
                attempt.get(20, TimeUnit.SECONDS).close().sync();
            }
            assertTrue(connector.handshakeLimit(target) > AdaptiveLimit.INITIAL,
                    "limit " + connector.handshakeLimit(target));
            assertEquals(0, connector.handshakesWaiting());
        } finally {
            distant.close().sync();
        }
    }

    @Test
    void underTheAdaptiveLimitAttemptsToASilentServerDoNotQueueForItsTimeout() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        Channel stuck = new ServerBootstrap().group(server).channel(transport.serverSocketChannel())
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.incrementAndGet();
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ((ByteBuf) msg).release(); // never answers
                            }
                        });
                    }
                }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        try {
            TlsConnector connector = connector(handshakes, TlsConnector.ADAPTIVE); // 5 s handshake timeout
            int n = AdaptiveLimit.INITIAL + 2;
            List<Future<Channel>> attempts = new ArrayList<>();
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                attempts.add(connector.connect(open(stuck), sessions.next(), new Recorder()));
            }
            while (accepted.get() < n && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(4)) {
                Thread.sleep(20);
            }
            assertEquals(n, accepted.get(), "beyond the limit, attempts start once those under way are stale");
            assertEquals(0, connector.handshakesWaiting());
            for (Future<Channel> attempt : attempts) {
                sessions.next().submit(() -> attempt.cancel(false)).sync();
            }
        } finally {
            stuck.close().sync();
        }
    }

    @Test
    void aChainVerifiedForOneNameIsNotTakenForAnother() throws Exception {
        TlsConnector connector = connector(handshakes);
        for (int i = 0; i < 2; i++) { // the second time from the cache of verified chains
            connector.connect(open(), sessions.next(), new Recorder()).get(10, TimeUnit.SECONDS).close().sync();
        }
        Open otherName = open().toBuilder().setServerName("other.example").build();
        Future<Channel> attempt = connector.connect(otherName, sessions.next(), new Recorder());
        assertTrue(attempt.await(10, TimeUnit.SECONDS));
        assertFalse(attempt.isSuccess(), "the greeter's certificate does not name other.example");
        assertTrue(attempt.cause().getMessage().contains("other.example"), attempt.cause().getMessage());
    }

    @Test
    void aFailedAttemptFreesItsSlot() throws Exception {
        TlsConnector connector = connector(handshakes, 1);
        for (int i = 0; i < 3; i++) {
            Future<Channel> refused = connector.connect(open(slammer), sessions.next(), new Recorder());
            assertTrue(refused.await(5, TimeUnit.SECONDS));
            assertFalse(refused.isSuccess());
        }
        Channel ch = connector.connect(open(), sessions.next(), new Recorder()).get(10, TimeUnit.SECONDS);
        ch.close().sync();
    }

    @Test
    void cancellingTheAttemptClosesTheChannel() throws Exception {
        EventLoop loop = sessions.next();
        Recorder recorder = new Recorder();
        Future<Channel> attempt = connector(handshakes).connect(open(silent), loop, recorder);
        Thread.sleep(200); // connected, ClientHello sent, no answer: the handshake is in progress
        loop.submit(() -> attempt.cancel(false)).sync();
        assertTrue(attempt.isCancelled());
        silentClientLeft.get(5, TimeUnit.SECONDS); // the server saw the connection go
        assertFalse(recorder.events.isDone(), "the session's handler never joined the pipeline");
    }
}
