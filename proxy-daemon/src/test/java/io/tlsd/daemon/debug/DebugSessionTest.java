package io.tlsd.daemon.debug;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.engine.Failure;
import io.tlsd.daemon.logging.DaemonLog;
import io.tlsd.daemon.testing.StderrCapture;
import io.tlsd.proto.v1.Status;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The debug protocol end to end on an embedded pipeline, with the real op engine behind it. */
class DebugSessionTest {
    private static final String OPEN_OK =
            "ok conn 1 TLSv1.3 TLS_AES_128_GCM_SHA256 alpn=- peer=127.0.0.1:4433 subject=\"CN=localhost\"";

    private DebugHarness h = DebugHarness.client();

    @AfterEach
    void tearDown() {
        h.close();
    }

    @Test
    void helpListsEveryCommandWithADescriptionAndEndsWithOk() {
        List<String> lines = h.ask("help");
        DebugCommand.Verb[] verbs = DebugCommand.Verb.values();
        assertEquals(verbs.length + 1, lines.size(), lines.toString());
        for (int i = 0; i < verbs.length; i++) {
            assertTrue(lines.get(i).startsWith(verbs[i].usage + " "), lines.get(i));
            assertTrue(lines.get(i).endsWith(verbs[i].description), lines.get(i));
        }
        assertTrue(lines.get(verbs.length).startsWith("ok " + verbs.length + " commands"), lines.toString());
    }

    @Test
    void verbsAreCaseInsensitiveAndBlankLinesAreIgnored() {
        assertEquals("ok 0 connections", h.ask("CONNS").get(0));
        assertEquals(List.of(), h.ask("   "));
        assertEquals(List.of(), h.ask(""));
        assertTrue(h.ask("Stats").get(0).startsWith("ok sessions=1 "));
    }

    @Test
    void anUnknownCommandGetsOneErrorLineAndTheSessionGoesOn() {
        assertEquals(List.of("error unknown command 'foo'; try help"), h.ask("foo bar"));
        assertEquals(List.of("ok 0 connections"), h.ask("conns"));
    }

    @Test
    void wrongArgumentsGetTheUsageLine() {
        assertEquals(List.of("error usage: write ID TEXT"), h.ask("write"));
        assertEquals(List.of("error usage: write ID TEXT"), h.ask("write x hello"));
        assertEquals(List.of("error usage: write ID TEXT"), h.ask("write 0 hello"));
        assertEquals(List.of("error usage: open HOST PORT [SERVERNAME]"), h.ask("open localhost"));
        assertEquals(List.of("error usage: open HOST PORT [SERVERNAME]"), h.ask("open localhost https"));
        assertEquals(List.of("error usage: open HOST PORT [SERVERNAME]"), h.ask("open a 1 b c"));
        assertEquals(List.of("error usage: read ID [MAX [TIMEOUT_MS]]"), h.ask("read 1 lots"));
        assertEquals(List.of("error usage: read ID [MAX [TIMEOUT_MS]]"), h.ask("read 1 10 -1"));
        assertEquals(List.of("error usage: close ID"), h.ask("close"));
        assertEquals(List.of("error usage: conns"), h.ask("conns all"));
        assertEquals(List.of("error usage: writeraw ID TEXT"), h.ask("writeraw 1"));
        assertEquals(List.of("error usage: writeraw ID TEXT (unknown escape \\q)"), h.ask("writeraw 1 a\\qb"));
        assertEquals(0, h.counters.snapshot().opsCompleted(), "nothing reached the engine");
    }

    @Test
    void rangeChecksAreTheEnginesSoItsDetailIsShown() {
        assertEquals(List.of("error BAD_REQUEST: open: port 70000 is not in 1..65535"), h.ask("open localhost 70000"));
        h.established();
        assertEquals(List.of("error BAD_REQUEST: read: max_bytes 2000000 is not in 1..1048576"),
                h.ask("read 1 2000000"));
    }

    @Test
    void openPrintsTheConnectionOnceTheHandshakeIsDone() {
        assertEquals(List.of(), h.ask("open localhost 4433 www.example"));
        assertEquals("localhost", h.connector.last().open.getHost());
        assertEquals(4433, h.connector.last().open.getPort());
        assertEquals("www.example", h.connector.last().open.getServerName());
        h.connector.last().succeed();
        assertEquals(List.of(OPEN_OK), h.replies());
    }

    @Test
    void commandsQueuedBehindAnOpenRunOnceTheEngineHasOpenedTheConnection() {
        // found by the integration test: the open's completion reaches us before the engine
        // marks the connection open, so the next command must not run from inside it
        h.sendRaw("open localhost 4433\nwrite 1 hi\nconns\n");
        assertEquals(List.of(), h.replies());
        h.connector.last().succeed();
        assertEquals(List.of(OPEN_OK, "ok wrote 3 bytes",
                "conn 1 OPEN peer=127.0.0.1:4433 TLSv1.3 TLS_AES_128_GCM_SHA256 buffered=0", "ok 1 connections"),
                h.replies());
    }

    @Test
    void aFailedOpenPrintsTheStatusAndDetail() {
        h.type("open localhost 4433 wrong.example");
        h.connector.last().fail(new Failure(Status.CERT_INVALID,
                "certificate of wrong.example rejected: No subject alternative DNS name matching wrong.example found."));
        assertEquals(List.of("error CERT_INVALID: certificate of wrong.example rejected: "
                + "No subject alternative DNS name matching wrong.example found."), h.replies());
        assertEquals(List.of("ok 0 connections"), h.ask("conns"));
    }

    @Test
    void writeSendsTheTextAndANewline() {
        h.established();
        assertEquals(List.of("ok wrote 14 bytes"), h.ask("write 1  hello, world"));
        assertEquals(" hello, world\n", h.connector.last().gate.bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void writerawSendsExactlyTheEscapedBytes() {
        h.established();
        assertEquals(List.of("ok wrote 5 bytes"), h.ask("writeraw 1 a\\r\\n\\x00\\\\"));
        assertArrayEquals(new byte[] {'a', '\r', '\n', 0, '\\'}, h.connector.last().gate.bytes.toByteArray());
    }

    @Test
    void readPrintsTheCountThenTheDataEscapedOnOneLine() {
        h.established();
        h.peerSends(new byte[] {'o', 'l', 'l', 'e', 'h', '\r', '\n', '\t', 0, (byte) 0xc3, (byte) 0xa9, '\\'});
        assertEquals(List.of("ok read 12 bytes", "olleh\\r\\n\\t\\x00\\xc3\\xa9\\\\"), h.ask("read 1"));
    }

    @Test
    void readTakesAtMostMax() {
        h.established();
        h.peerSends("abcdef");
        assertEquals(List.of("ok read 4 bytes", "abcd"), h.ask("read 1 4"));
        assertEquals(List.of("ok read 2 bytes", "ef"), h.ask("read 1"));
    }

    @Test
    void readWaitsForDataAndHoldsBackLaterCommandsSoRepliesStayInOrder() {
        h.established();
        h.type("read 1");
        h.type("stats");
        h.type("conns");
        assertEquals(List.of(), h.replies(), "stats must wait for the read");
        assertFalse(h.debug.config().isAutoRead(), "no more input is read while a command runs");
        h.peerSends("late");
        List<String> lines = h.replies();
        assertEquals(5, lines.size(), lines.toString());
        assertEquals(List.of("ok read 4 bytes", "late"), lines.subList(0, 2));
        assertTrue(lines.get(2).startsWith("ok sessions=1 "), lines.get(2));
        assertEquals("ok 1 connections", lines.get(4));
        assertTrue(h.debug.config().isAutoRead());
    }

    @Test
    void readTimesOutAfterTheDefaultFiveSeconds() {
        h.established();
        h.type("read 1");
        h.debug.advanceTimeBy(4999, TimeUnit.MILLISECONDS);
        assertEquals(List.of(), h.replies());
        h.debug.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        assertEquals(List.of("error TIMED_OUT: no data on connection 1 within 5000 ms"), h.replies());
        h.peerSends("x");
        assertEquals(List.of("ok read 1 bytes", "x"), h.ask("read 1 10 100"), "the timed-out read took nothing");
    }

    @Test
    void readWithTimeoutZeroWaitsForever() {
        h.established();
        h.type("read 1 100 0");
        h.debug.advanceTimeBy(1, TimeUnit.HOURS);
        assertEquals(List.of(), h.replies());
        h.peerSends("x");
        assertEquals(List.of("ok read 1 bytes", "x"), h.replies());
    }

    @Test
    void readAfterClosenotifyPrintsEof() {
        h.established();
        h.peerSends("bye");
        h.connector.last().channel.pipeline().fireUserEventTriggered(SslCloseCompletionEvent.SUCCESS);
        assertEquals(List.of("ok read 3 bytes", "bye"), h.ask("read 1"));
        assertEquals(List.of("eof"), h.ask("read 1"));
    }

    @Test
    void unknownAndClosedConnectionsGetTheEnginesDetail() {
        assertEquals(List.of("error NOT_FOUND: no connection 9 in this session"), h.ask("write 9 x"));
        h.established();
        assertEquals(List.of("ok closed"), h.ask("close 1"));
        assertFalse(h.connector.last().channel.isOpen());
        assertEquals(List.of("error CLOSED: connection 1 is closed"), h.ask("read 1"));
        assertEquals(List.of("ok 0 connections"), h.ask("conns"));
    }

    @Test
    void connsShowsTheEnginesStateAndBufferedBytes() {
        h.established();
        h.peerSends("abc");
        assertEquals(List.of("conn 1 OPEN peer=127.0.0.1:4433 TLSv1.3 TLS_AES_128_GCM_SHA256 buffered=3",
                "ok 1 connections"), h.ask("conns"));
        h.connector.last().channel.pipeline().fireUserEventTriggered(SslCloseCompletionEvent.SUCCESS);
        assertEquals("conn 1 READ_CLOSED peer=127.0.0.1:4433 TLSv1.3 TLS_AES_128_GCM_SHA256 buffered=3",
                h.ask("conns").get(0));
    }

    @Test
    void loglevelPrintsOrChangesTheDaemonsLogLevel() {
        try {
            DaemonLog.level("warn");
            assertEquals(List.of("ok loglevel warn"), h.ask("loglevel"));
            assertEquals(List.of("ok loglevel debug (was warn)"), h.ask("LogLevel Debug"));
            assertTrue(LoggerFactory.getLogger("io.tlsd.daemon.TlsdDaemon").isDebugEnabled());
            assertEquals(List.of("error usage: loglevel [error|warn|info|debug]"), h.ask("loglevel info now"));
            assertEquals(List.of("ok loglevel debug"), h.ask("loglevel"), "a refused change changes nothing");
            String logged = StderrCapture.of(() -> {
                assertEquals(List.of("ok loglevel error (was debug)"), h.ask("loglevel error"));
                assertEquals(List.of("ok loglevel warn (was error)"), h.ask("loglevel warn"));
            });
            assertTrue(logged.contains("WARN DebugSessionHandler - debug session ") && logged.contains(
                    " changes the log level from debug to error\n"), "logged before error hides it: " + logged);
            assertTrue(logged.contains(" changed the log level from error to warn\n"), "logged after: " + logged);
        } finally {
            DaemonLog.level("info");
        }
    }

    @Test
    void statsPrintsEveryDaemonCounterAsKeyValuePairs() {
        h.established();
        h.ask("write 1 hello");
        String line = h.ask("stats").get(0);
        assertEquals("ok sessions=1 connections=1 ops_in_flight=0 buffered_bytes=0 ops_completed=2 handshakes=1"
                + " handshake_failures=0 bytes_read=0 bytes_written=6 ring_bytes=0 handshakes_waiting=0 sessions_refused=0"
                + " sessions_over_limit=0 opens_refused=0", line);
        assertEquals(DaemonCounters.Snapshot.class.getRecordComponents().length, line.split(" ").length - 1);
    }

    @Test
    void aTooLongLineIsDiscardedWithAnErrorAndTheSessionGoesOn() {
        h.close();
        h = DebugHarness.client(100);
        h.sendRaw("x".repeat(60));
        h.sendRaw("y".repeat(60)); // the line goes on over the limit
        h.sendRaw("z".repeat(60) + "\nconns\n");
        assertEquals(List.of("error line too long (limit 100 bytes); it was discarded", "ok 0 connections"),
                h.replies());
        assertEquals(List.of("error line too long (limit 100 bytes); it was discarded", "ok 0 connections"),
                h.ask("w".repeat(500) + "\nconns"));
    }

    @Test
    void aTooLongLineKeepsItsPlaceBehindARunningCommand() {
        h.close();
        h = DebugHarness.client(100);
        h.established();
        h.sendRaw("read 1\n" + "x".repeat(200) + "\nconns\n");
        assertEquals(List.of(), h.replies());
        h.peerSends("d");
        assertEquals(List.of("ok read 1 bytes", "d", "error line too long (limit 100 bytes); it was discarded",
                "conn 1 OPEN peer=127.0.0.1:4433 TLSv1.3 TLS_AES_128_GCM_SHA256 buffered=0", "ok 1 connections"),
                h.replies());
    }

    @Test
    void quitSaysByeAndEndsTheSessionClosingItsConnections() {
        h.established();
        h.sendRaw("quit\nstats\n");
        assertEquals(List.of("ok bye"), h.replies(), "nothing runs after quit");
        assertFalse(h.debug.isOpen());
        assertFalse(h.connector.last().channel.isOpen());
        DaemonCounters.Snapshot s = h.counters.snapshot();
        assertEquals(0, s.sessions());
        assertEquals(0, s.connections());
        assertEquals(0, s.opsInFlight());
    }

    @Test
    void droppingTheDebugConnectionEndsTheSessionAndDropsItsOps() {
        h.established();
        h.type("read 1");
        assertEquals(1, h.counters.snapshot().opsInFlight());
        h.debug.close();
        DaemonCounters.Snapshot s = h.counters.snapshot();
        assertEquals(0, s.sessions());
        assertEquals(0, s.connections());
        assertEquals(0, s.opsInFlight());
    }

    @Test
    void whenTheClientStopsSendingItsCommandsStillRunThenTheSessionCloses() {
        h.established();
        h.type("read 1");
        h.type("conns");
        h.debug.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        h.debug.runPendingTasks();
        assertTrue(h.debug.isOpen(), "the read is still waiting");
        h.peerSends("z");
        List<String> lines = h.replies();
        assertEquals(List.of("ok read 1 bytes", "z"), lines.subList(0, 2));
        assertEquals("ok 1 connections", lines.get(lines.size() - 1));
        assertFalse(h.debug.isOpen());
        assertEquals(0, h.counters.snapshot().connections());
    }

    @Test
    void opIdsIncreaseSoTheEngineAcceptsEveryCommand() {
        h.established();
        for (int i = 0; i < 5; i++) {
            assertEquals(List.of("ok wrote 2 bytes"), h.ask("write 1 " + i));
        }
        assertEquals("0\n1\n2\n3\n4\n", h.connector.last().gate.bytes.toString(StandardCharsets.UTF_8));
    }

    @Test
    void detailsWithLineBreaksStayOnOneLine() {
        h.type("open localhost 4433");
        h.connector.last().fail(new Failure(Status.HANDSHAKE_FAILED, "first\nsecond"));
        assertEquals(List.of("error HANDSHAKE_FAILED: first\\nsecond"), h.replies());
    }

    @Test
    void acceptNeedsTheServerRole() {
        assertEquals(List.of("error BAD_REQUEST: ACCEPT needs the server role (tlsd server); "
                + "this daemon is the client role"), h.ask("accept"));
    }

    @Test
    void theServerRoleAcceptsAndCannotOpen() {
        h.close();
        h = DebugHarness.server();
        assertEquals(List.of("error BAD_REQUEST: OPEN needs the client role (tlsd client); "
                + "this daemon is the server role"), h.ask("open localhost 443"));
        h.type("accept");
        assertEquals("default", h.acceptor.waits.get(0).listener(), "the engine names the default");
        assertEquals(List.of(), h.replies());
        var client = h.acceptor.clientArrives();
        assertEquals(List.of("ok conn 1 TLSv1.3 TLS_AES_256_GCM_SHA384 alpn=- peer=127.0.0.1:50000 subject=-"),
                h.replies());
        client.writeInbound(io.netty.buffer.Unpooled.copiedBuffer("hi", StandardCharsets.UTF_8));
        assertEquals(List.of("conn 1 OPEN peer=127.0.0.1:50000 TLSv1.3 TLS_AES_256_GCM_SHA384 buffered=2",
                "ok 1 connections"), h.ask("conns"));
        assertEquals(List.of("ok read 2 bytes", "hi"), h.ask("read 1"));
    }

    @Test
    void acceptGivesUpAfterItsTimeout() {
        h.close();
        h = DebugHarness.server();
        h.type("accept public 1000");
        assertEquals("public", h.acceptor.waits.get(0).listener());
        h.debug.advanceTimeBy(1, TimeUnit.SECONDS);
        List<String> lines = h.replies();
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("error TIMED_OUT: "), lines.get(0));
    }
}
