package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.sdk.OpenOptions;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.Issued;
import io.tlsd.testing.JsseServer;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client daemon against real TLS servers: openssl s_server, gnutls-serv and the JDK's JSSE,
 * each started by the test on a free loopback port.
 */
class ClientRoleTest {
    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    static Path dir;
    static ClientDaemonFixture fixture;
    static Issued localhost;

    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @BeforeAll
    static void startDaemon() throws Exception {
        fixture = new ClientDaemonFixture(dir);
        localhost = fixture.pki.issueServer("localhost", "localhost", "127.0.0.1");
    }

    @AfterAll
    static void stopDaemon() {
        fixture.close();
    }

    @AfterEach
    void closeResources() throws Exception {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
        fixture.awaitIdle();
    }

    private <T extends AutoCloseable> T closeLater(T resource) {
        cleanup.add(resource);
        return resource;
    }

    private TlsdClient client() throws Exception {
        return closeLater(fixture.client());
    }

    private static byte[] ascii(String s) {
        return s.getBytes(US_ASCII);
    }

    /** Reads until {@code n} bytes arrived. */
    static byte[] readExactly(TlsConnection conn, int n) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (out.size() < n) {
            byte[] chunk = conn.read(n - out.size()).await(T);
            assertTrue(chunk.length > 0, "unexpected EOF after " + out.size() + " bytes");
            out.write(chunk);
        }
        return out.toByteArray();
    }

    @Test
    void roundTripWithOpensslReverser() throws Exception {
        TlsPeer server = closeLater(TlsPeer.opensslServer(localhost, "-rev"));
        TlsConnection conn = client().open("localhost", server.port()).await(T);
        assertEquals("TLSv1.3", conn.info().protocol());
        assertTrue(conn.info().peerSubject().contains("CN=localhost"), conn.info().peerSubject());
        assertEquals(2, conn.info().peerCertificates().size(), "leaf and CA");
        assertEquals(6L, conn.write(ascii("hello\n")).await(T));
        assertEquals("olleh\n", new String(readExactly(conn, 6), US_ASCII));
        conn.close().await(T);
    }

    @Test
    void roundTripWithGnutlsEchoAndAlpn() throws Exception {
        TlsPeer server = closeLater(TlsPeer.gnutlsServer(localhost, "--echo", "--crlf", "--alpn", "h2",
                "--alpn", "http/1.1", "--disable-client-cert"));
        TlsConnection conn = client().open(OpenOptions.builder("127.0.0.1", server.port())
                .serverName("localhost").alpn("foo", "http/1.1").build()).await(T);
        assertEquals("http/1.1", conn.info().alpn());
        assertEquals("TLSv1.3", conn.info().protocol());
        conn.write(ascii("ping\n")).await(T); // gnutls-serv --echo answers whole lines
        assertEquals("ping\n", new String(readExactly(conn, 5), US_ASCII));
        conn.close().await(T);
    }

    @Test
    void secondConnectionToTheSameTargetResumesItsSession() throws Exception {
        TlsPeer server = closeLater(TlsPeer.opensslServer(localhost, "-rev"));
        TlsdClient client = client();
        TlsConnection first = client.open("localhost", server.port()).await(T);
        assertFalse(first.info().resumed());
        first.write(ascii("one\n")).await(T);
        readExactly(first, 4); // by now the server's session ticket has been read too
        first.close().await(T);
        TlsConnection second = client.open("localhost", server.port()).await(T);
        assertTrue(second.info().resumed(), "the daemon cached the ticket for localhost:" + server.port());
        second.close().await(T);
    }

    @Test
    void barrierOrdersAWriteAfterARead() throws Exception {
        TlsPeer server = closeLater(TlsPeer.opensslServer(localhost, "-rev"));
        TlsConnection conn = client().open("localhost", server.port()).await(T);
        List<String> order = new CopyOnWriteArrayList<>();
        Operation<Long> w1 = conn.write(ascii("one\n"));
        Operation<byte[]> r = conn.read(4);
        Operation<Void> b = conn.barrier();
        Operation<Long> w2 = conn.write(ascii("two\n"));
        w1.toCompletableFuture().thenRun(() -> order.add("w1"));
        r.toCompletableFuture().thenRun(() -> order.add("r"));
        b.toCompletableFuture().thenRun(() -> order.add("barrier"));
        w2.toCompletableFuture().thenRun(() -> order.add("w2"));
        assertEquals("eno\n", new String(r.await(T), US_ASCII));
        w2.await(T);
        assertEquals(List.of("r", "barrier", "w2"), order.subList(order.size() - 3, order.size()));
        assertTrue(order.indexOf("w1") < order.indexOf("w2"));
        assertEquals("owt\n", new String(readExactly(conn, 4), US_ASCII));
        conn.close().await(T);
    }

    @Test
    void cancelOfAQueuedReadLosesNoData() throws Exception {
        TlsPeer server = closeLater(TlsPeer.opensslServer(localhost, "-rev"));
        TlsConnection conn = client().open("localhost", server.port()).await(T);
        Operation<byte[]> idle = conn.read(100);
        assertTrue(idle.cancel().await(T), "a read waiting for data is cancellable");
        TlsdException e = assertThrows(TlsdException.class, () -> idle.await(T));
        assertEquals(Status.CANCELLED, e.status());
        conn.write(ascii("abc\n")).await(T);
        assertEquals("cba\n", new String(readExactly(conn, 4), US_ASCII));
        Operation<Long> done = conn.write(ascii("x\n"));
        done.await(T);
        assertFalse(done.cancel().await(T), "a completed write cannot be cancelled");
        conn.close().await(T);
    }

    @Test
    void readDeadlineExpires() throws Exception {
        TlsPeer server = closeLater(TlsPeer.opensslServer(localhost, "-rev"));
        TlsConnection conn = client().open("localhost", server.port()).await(T);
        long start = System.nanoTime();
        TlsdException e = assertThrows(TlsdException.class,
                () -> conn.read(10, Duration.ofMillis(300)).await(T));
        long elapsedMs = (System.nanoTime() - start) / 1_000_000;
        assertEquals(Status.TIMED_OUT, e.status());
        assertTrue(elapsedMs >= 250, "deadline honoured, took " + elapsedMs + " ms");
        conn.write(ascii("still\n")).await(T);
        assertEquals("llits\n", new String(readExactly(conn, 6), US_ASCII), "the connection survives");
        conn.close().await(T);
    }

    @Test
    void aBarrierPastItsDeadlineStopsHoldingLaterOps() throws Exception {
        TlsPeer server = closeLater(TlsPeer.opensslServer(localhost, "-rev"));
        TlsConnection conn = client().open("localhost", server.port()).await(T);
        Operation<byte[]> waiting = conn.read(100); // nothing comes until the write below
        TlsdException e = assertThrows(TlsdException.class, () -> conn.barrier(Duration.ofMillis(300)).await(T));
        assertEquals(Status.TIMED_OUT, e.status());
        conn.write(ascii("after\n")).await(T); // no longer behind the barrier
        String first = new String(waiting.await(T), US_ASCII); // the read from before the barrier gets it
        String rest = first.length() < 6 ? new String(readExactly(conn, 6 - first.length()), US_ASCII) : "";
        assertEquals("retfa\n", first + rest);
        conn.close(Duration.ofSeconds(5)).await(T);
    }

    /**
     * A completion's callback runs on the SDK's reader thread; while it runs, no completion is read.
     * One that sends several MiB while the daemon holds a backlog of completions for it must not
     * wait for the daemon to read them, or the two wait for each other for ever.
     */
    @Test
    void aCallbackOnTheReaderThreadMaySendWhileItsCompletionsBackUp() throws Exception {
        int served = 16 << 20;
        JsseServer server = closeLater(JsseServer.start(localhost, c -> {
            c.in().readNBytes(1); // the client is ready: its callback waits for the first read
            byte[] chunk = new byte[64 << 10];
            for (int sent = 0; sent < served; sent += chunk.length) {
                c.out().write(chunk);
            }
            c.out().flush();
            c.in().transferTo(java.io.OutputStream.nullOutputStream()); // until the client closes
        }));
        TlsdClient client = closeLater(fixture.client(0)); // writes in frames, through the socket
        TlsConnection conn = client.open("localhost", server.port()).await(T);
        java.util.concurrent.CountDownLatch sent = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
        List<Operation<byte[]>> reads = new ArrayList<>();
        for (int i = 0; i < 900; i++) { // more than the daemon sends before it holds read data back
            reads.add(conn.read(64 << 10));
        }
        Thread test = Thread.currentThread();
        reads.get(0).toCompletableFuture().thenRun(() -> {
            try {
                assertFalse(Thread.currentThread() == test, "runs on the SDK's reader thread");
                Thread.sleep(1500); // meanwhile the daemon's completions for this session back up
                for (int i = 0; i < 16; i++) {
                    conn.write(new byte[256 << 10]); // 4 MiB: more than the sockets between us hold
                }
                sent.countDown();
            } catch (Throwable t) {
                failed.set(t);
            }
        });
        conn.write(new byte[] {'g'}).await(T);
        assertTrue(sent.await(30, TimeUnit.SECONDS), "the callback's writes went out: " + failed.get());
        long received = 0;
        for (int i = 0; i < reads.size() && received < served; i++) {
            received += reads.get(i).await(T).length;
        }
        while (received < served) {
            received += conn.read(64 << 10).await(T).length;
        }
        assertEquals(served, received);
        conn.close().await(T);
    }

    @Test
    void closeNotifyIsEofButResetIsNot() throws Exception {
        JsseServer clean = closeLater(JsseServer.start(localhost, c -> {
            c.out().write(ascii("bye"));
            c.out().flush();
            c.closeWithCloseNotify();
        }));
        TlsConnection a = client().open("localhost", clean.port()).await(T);
        assertEquals("bye", new String(readExactly(a, 3), US_ASCII));
        assertEquals(0, a.read(10).await(T).length, "close_notify reads as a clean EOF");

        // An RST makes the kernel discard unread bytes, so the server resets only once the client
        // has shown it read everything.
        JsseServer rude = closeLater(JsseServer.start(localhost, c -> {
            c.out().write(ascii("bye"));
            c.out().flush();
            c.in().readNBytes(3);
            c.reset();
        }));
        TlsConnection b = client().open("localhost", rude.port()).await(T);
        assertEquals("bye", new String(readExactly(b, 3), US_ASCII));
        b.write(ascii("ack")).await(T);
        TlsdException e = assertThrows(TlsdException.class, () -> b.read(10).await(T));
        assertEquals(Status.CONNECTION_RESET, e.status());

        JsseServer truncating = closeLater(JsseServer.start(localhost, c -> {
            c.out().write(ascii("bye"));
            c.out().flush();
            c.closeWithoutCloseNotify();
        }));
        TlsConnection t = client().open("localhost", truncating.port()).await(T);
        readExactly(t, 3);
        TlsdException e2 = assertThrows(TlsdException.class, () -> t.read(10).await(T));
        assertEquals(Status.CONNECTION_RESET, e2.status());
        assertTrue(e2.detail().contains("without close_notify"), e2.detail());
        a.close().await(T);
        b.close().await(T);
        t.close().await(T);
    }

    @Test
    void untrustedCertificateIsRefused() throws Exception {
        TestPki stranger = TestPki.create(dir.resolve("stranger"));
        TlsPeer server = closeLater(TlsPeer.opensslServer(stranger.issueServer("localhost", "localhost")));
        TlsdException e = assertThrows(TlsdException.class,
                () -> client().open("localhost", server.port()).await(T));
        assertEquals(Status.CERT_INVALID, e.status());
        assertTrue(e.detail().toLowerCase().contains("certification path")
                || e.detail().toLowerCase().contains("trust"), e.detail());
    }

    @Test
    void wrongHostnameIsRefused() throws Exception {
        TlsPeer server = closeLater(TlsPeer.opensslServer(localhost));
        TlsdException e = assertThrows(TlsdException.class, () -> client().open(
                OpenOptions.builder("127.0.0.1", server.port()).serverName("wrong.example").build()).await(T));
        assertEquals(Status.CERT_INVALID, e.status());
        assertTrue(e.detail().contains("wrong.example"), e.detail());
    }

    @Test
    void connectionRefusedIsConnectFailed() throws Exception {
        int port = FreePorts.loopback();
        TlsdException e = assertThrows(TlsdException.class, () -> client().open("127.0.0.1", port).await(T));
        assertEquals(Status.CONNECT_FAILED, e.status());
        assertTrue(e.detail().contains("127.0.0.1:" + port), e.detail());
    }

    @Test
    void aFailedOpenIsLoggedAtDebugLevel() throws Exception {
        int port = FreePorts.loopback();
        String before = io.tlsd.daemon.logging.DaemonLog.levelName();
        io.tlsd.daemon.logging.DaemonLog.level("debug");
        try (io.tlsd.it.tunnel.LogCapture log = io.tlsd.it.tunnel.LogCapture.start()) {
            TlsdClient client = closeLater(fixture.client());
            assertThrows(TlsdException.class, () -> client.open("127.0.0.1", port).await(T));
            String line = log.awaitLine(": open 127.0.0.1:" + port + " (op 1) failed: CONNECT_FAILED", T);
            assertTrue(line != null && line.contains("(app=it)"), log.text());
        } finally {
            io.tlsd.daemon.logging.DaemonLog.level(before);
        }
    }

    @Test
    void unknownHostIsConnectFailed() throws Exception {
        TlsdException e = assertThrows(TlsdException.class,
                () -> client().open("no-such-host.invalid", 443).await(T));
        assertEquals(Status.CONNECT_FAILED, e.status());
    }
}
