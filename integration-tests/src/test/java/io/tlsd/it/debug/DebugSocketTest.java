package io.tlsd.it.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.tlsd.daemon.debug.DebugServer;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.daemon.logging.DaemonLog;
import io.tlsd.daemon.tls.ClientTlsContexts;
import io.tlsd.daemon.tls.TlsParameters;
import io.tlsd.daemon.tls.TlsConnector;
import io.tlsd.daemon.transport.HostResolver;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The debug socket of a client-role daemon (its real pieces: loops, TLS contexts trusting a test
 * CA, the TLS connector) against {@code openssl s_server -rev}, driven over the Unix socket first
 * by the test and then by {@code nc -U}, as a human would.
 */
class DebugSocketTest {
    private static final Duration T = Duration.ofSeconds(15);

    @TempDir
    static Path dir;
    static TestPki pki;
    static Issued localhost;
    static EventLoopGroup control;
    static EventLoopGroup workers;
    static HostResolver resolver;
    static DaemonCounters counters;
    static DebugServer debug;
    static TlsPeer peer;

    @BeforeAll
    static void startDaemonPieces() throws Exception {
        pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        localhost = pki.issueServer("localhost", "localhost", "127.0.0.1");
        // as TlsdDaemon builds them for the client role
        Transport transport = Transport.select("auto");
        control = transport.newGroup(1, new DefaultThreadFactory("it-control"));
        workers = transport.newGroup(2, new DefaultThreadFactory("it-worker"));
        resolver = new HostResolver("it-resolver");
        ClientTlsContexts contexts = new ClientTlsContexts(TlsParameters.DEFAULTS, pki.caPem());
        TlsConnector connector = new TlsConnector(transport, contexts, Duration.ofSeconds(10),
                Duration.ofSeconds(10), resolver);
        counters = new DaemonCounters();
        debug = DebugServer.bind(dir.resolve("run/debug.sock"), transport, control, workers,
                new DebugServer.Settings("client", SessionLimits.DEFAULTS), connector, null, counters);
        peer = TlsPeer.opensslServer(localhost, "-rev");
    }

    @AfterAll
    static void stop() {
        if (debug != null) {
            debug.close();
        }
        if (workers != null) {
            workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            control.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
            resolver.close();
        }
        if (peer != null) {
            peer.close();
        }
    }

    @AfterEach
    void nothingLeftBehind() throws InterruptedException {
        long deadline = System.nanoTime() + T.toNanos();
        Predicate<DaemonCounters.Snapshot> idle = s -> s.sessions() == 0 && s.connections() == 0
                && s.opsInFlight() == 0 && s.bufferedBytes() == 0;
        while (!idle.test(counters.snapshot())) {
            if (System.nanoTime() > deadline) {
                fail("the debug session left state behind: " + counters.snapshot());
            }
            Thread.sleep(20);
        }
    }

    @Test
    void theSocketIsForItsOwnerOnly() throws IOException {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(debug.path())));
    }

    @Test
    void aWholeSessionOverTheUnixSocket() throws Exception {
        String peerAddress = "127.0.0.1:" + peer.port();
        DaemonCounters.Snapshot before = counters.snapshot(); // other tests' connections count too
        try (LineClient c = new LineClient(debug.path())) {
            List<String> help = c.askUntil("help", line -> line.startsWith("ok "));
            for (String verb : List.of("help", "open", "accept", "write", "writeraw", "read", "close", "conns",
                    "stats", "loglevel", "quit")) {
                assertTrue(help.stream().anyMatch(l -> l.startsWith(verb + " ")), verb + " missing from " + help);
            }

            assertEquals("ok conn 1 TLSv1.3 TLS_AES_128_GCM_SHA256 alpn=- peer=" + peerAddress
                    + " subject=\"CN=localhost,O=tlsd tests\"", c.ask("open localhost " + peer.port()));
            assertEquals("ok wrote 6 bytes", c.ask("write 1 hello"));
            assertEquals("olleh\\n", readUntil(c, 1, "olleh\\n"), "s_server -rev answers the line reversed");

            assertEquals(List.of("conn 1 OPEN peer=" + peerAddress + " TLSv1.3 TLS_AES_128_GCM_SHA256 buffered=0",
                    "ok 1 connections"), c.askUntil("conns", line -> line.startsWith("ok ")));

            Map<String, Long> stats = keyValues(c.ask("stats"));
            assertEquals(1, stats.get("sessions"), stats.toString());
            assertEquals(1, stats.get("connections"), stats.toString());
            assertEquals(0, stats.get("ops_in_flight"), stats.toString());
            assertEquals(0, stats.get("buffered_bytes"), stats.toString());
            assertEquals(before.handshakes() + 1, stats.get("handshakes"), stats.toString());
            assertEquals(before.bytesRead() + 6, stats.get("bytes_read"), stats.toString());
            assertEquals(before.bytesWritten() + 6, stats.get("bytes_written"), stats.toString());

            assertEquals("error unknown command 'frobnicate'; try help", c.ask("frobnicate"));
            assertEquals("error usage: write ID TEXT", c.ask("write one two"));
            assertEquals("error NOT_FOUND: no connection 7 in this session", c.ask("read 7"));
            assertEquals("error TIMED_OUT: no data on connection 1 within 200 ms", c.ask("read 1 100 200"));

            assertEquals("ok closed", c.ask("close 1"));
            assertEquals("error CLOSED: connection 1 is closed", c.ask("write 1 again"));
            assertEquals("ok 0 connections", c.ask("conns"));

            String refused = c.ask("open localhost " + peer.port() + " wrong.example");
            assertTrue(refused.startsWith("error CERT_INVALID: certificate of wrong.example rejected: "), refused);

            assertEquals("ok bye", c.ask("quit"));
            c.assertClosed();
        }
    }

    @Test
    void aHumanWithNetcat() throws Exception {
        Process nc = new ProcessBuilder("nc", "-U", debug.path().toString()).redirectErrorStream(true).start();
        try (OutputStream typing = nc.getOutputStream()) {
            typing.write(("open localhost " + peer.port() + "\n"
                    + "write 1 hello from nc\n"
                    + "read 1\n"
                    + "conns\n"
                    + "close 1\n"
                    + "quit\n").getBytes(StandardCharsets.UTF_8));
        } // stdin at EOF: plain nc keeps reading until the daemon closes after quit
        assertTrue(nc.waitFor(T.toSeconds(), TimeUnit.SECONDS), "nc did not exit after quit");
        List<String> screen = new String(nc.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        assertEquals(List.of(
                "ok conn 1 TLSv1.3 TLS_AES_128_GCM_SHA256 alpn=- peer=127.0.0.1:" + peer.port() + " subject=\"CN=localhost,O=tlsd tests\"",
                "ok wrote 14 bytes",
                "ok read 14 bytes",
                "cn morf olleh\\n",
                "conn 1 OPEN peer=127.0.0.1:" + peer.port() + " TLSv1.3 TLS_AES_128_GCM_SHA256 buffered=0",
                "ok 1 connections",
                "ok closed",
                "ok bye"), screen);
        assertEquals(0, nc.exitValue());
    }

    @Test
    void anOperatorTurnsOnDebugLogsWithoutARestart() throws Exception {
        Logger daemonLogger = LoggerFactory.getLogger("io.tlsd.daemon.engine.Connection");
        assertFalse(daemonLogger.isDebugEnabled(), "info by default");
        try {
            Process nc = new ProcessBuilder("nc", "-U", debug.path().toString()).redirectErrorStream(true).start();
            try (OutputStream typing = nc.getOutputStream()) {
                typing.write("loglevel\nloglevel DEBUG\nloglevel\nloglevel verbose\nquit\n"
                        .getBytes(StandardCharsets.UTF_8));
            }
            assertTrue(nc.waitFor(T.toSeconds(), TimeUnit.SECONDS), "nc did not exit after quit");
            List<String> screen = new String(nc.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
            assertEquals(List.of(
                    "ok loglevel info",
                    "ok loglevel debug (was info)",
                    "ok loglevel debug",
                    "error usage: loglevel [error|warn|info|debug] (unknown log level 'verbose' (error, warn, info, debug))",
                    "ok bye"), screen);
            assertTrue(daemonLogger.isDebugEnabled(), "every logger of the daemon, at once");
        } finally {
            DaemonLog.level("info");
        }
    }

    @Test
    void socatThatStopsSendingStillGetsItsAnswers() throws Exception {
        Process socat = new ProcessBuilder("socat", "-t", "5", "-", "UNIX-CONNECT:" + debug.path())
                .redirectErrorStream(true).start();
        try (OutputStream typing = socat.getOutputStream()) {
            typing.write("conns\nstats\n".getBytes(StandardCharsets.UTF_8));
        } // socat half-closes; the daemon answers both, then closes
        assertTrue(socat.waitFor(T.toSeconds(), TimeUnit.SECONDS), "socat did not exit");
        List<String> screen = new String(socat.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        assertEquals(2, screen.size(), screen.toString());
        assertEquals("ok 0 connections", screen.get(0));
        assertTrue(screen.get(1).startsWith("ok sessions=1 connections=0 "), screen.get(1));
    }

    /** {@code "ok a=1 b=2"} → {a=1, b=2}, in order. */
    private static Map<String, Long> keyValues(String line) {
        assertTrue(line.startsWith("ok "), line);
        Map<String, Long> values = new LinkedHashMap<>();
        for (String pair : line.substring(3).split(" ")) {
            String[] kv = pair.split("=", 2);
            values.put(kv[0], Long.parseLong(kv[1]));
        }
        return values;
    }

    /** Reads until the escaped data seen so far equals {@code expected} (TLS may split it). */
    private static String readUntil(LineClient c, long conn, String expected) throws Exception {
        StringBuilder seen = new StringBuilder();
        while (!seen.toString().equals(expected)) {
            String status = c.ask("read " + conn);
            assertTrue(status.startsWith("ok read "), status + " after " + seen);
            seen.append(c.next());
            assertTrue(expected.startsWith(seen.toString()), seen + " is not a prefix of " + expected);
        }
        return seen.toString();
    }

    /** A test's side of a debug session: lines out, lines in, every wait bounded. */
    private static final class LineClient implements AutoCloseable {
        private static final String CLOSED = new String("<closed>");

        private final SocketChannel channel;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        private final Thread reader;

        LineClient(Path socket) throws IOException {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
            BufferedReader in = new BufferedReader(
                    new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
            reader = new Thread(() -> {
                try {
                    for (String line; (line = in.readLine()) != null; ) {
                        lines.add(line);
                    }
                } catch (IOException e) {
                    // closed by close()
                }
                lines.add(CLOSED);
            }, "debug-socket-reader");
            reader.setDaemon(true);
            reader.start();
        }

        void send(String line) throws IOException {
            ByteBuffer bytes = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        }

        String next() throws InterruptedException {
            String line = lines.poll(T.toMillis(), TimeUnit.MILLISECONDS);
            assertNotNull(line, "no reply within " + T);
            if (line == CLOSED) {
                fail("the daemon closed the debug connection");
            }
            return line;
        }

        /** Sends a command whose reply is one line. */
        String ask(String command) throws Exception {
            send(command);
            return next();
        }

        /** Sends a command and collects reply lines up to the one {@code last} accepts. */
        List<String> askUntil(String command, Predicate<String> last) throws Exception {
            send(command);
            List<String> reply = new ArrayList<>();
            String line;
            do {
                line = next();
                reply.add(line);
            } while (!last.test(line));
            return reply;
        }

        void assertClosed() throws InterruptedException {
            String line = lines.poll(T.toMillis(), TimeUnit.MILLISECONDS);
            assertTrue(line == CLOSED, "expected the daemon to close, got " + line);
        }

        @Override
        public void close() throws Exception {
            channel.close();
            reader.join(T.toMillis());
        }
    }
}
