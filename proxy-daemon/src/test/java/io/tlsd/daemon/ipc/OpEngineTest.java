package io.tlsd.daemon.ipc;

import io.tlsd.daemon.testing.FakeConnector;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.tlsd.daemon.engine.Failure;
import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Status;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The op engine's semantics, exactly as docs/protocol.md states them, on embedded channels. */
class OpEngineTest {
    private IpcHarness h;

    @BeforeEach
    void setUp() {
        h = new IpcHarness();
        assertTrue(h.hello().hasWelcome());
    }

    @AfterEach
    void tearDown() {
        h.close();
    }

    @Test
    void openCompletesWithConnectionInfoOnceTheHandshakeSucceeds() {
        long op = h.open();
        h.assertNothingSent();
        h.connector.last().succeed();
        Completion c = h.completion();
        assertEquals(op, c.getOpId());
        assertEquals(Status.OK, c.getStatus());
        assertEquals(1, c.getConnection().getConnId());
        assertEquals("TLSv1.3", c.getConnection().getProtocol());
    }

    @Test
    void openFailureCarriesTheConnectorsStatusAndLeavesNoConnection() {
        long op = h.open();
        h.connector.last().fail(new Failure(Status.CERT_INVALID, "No subject alternative DNS name matching x"));
        Completion c = h.completion();
        assertEquals(op, c.getOpId());
        assertEquals(Status.CERT_INVALID, c.getStatus());
        assertEquals("No subject alternative DNS name matching x", c.getDetail());
        assertEquals(0, h.counters.snapshot().connections());
        assertEquals(0, h.counters.snapshot().opsInFlight());
    }

    @Test
    void readsAreFifoAndTakeAtMostMaxBytes() {
        long conn = h.established();
        long r1 = h.read(conn, 3);
        long r2 = h.read(conn, 100);
        h.assertNothingSent();
        h.peerSends("abcdef");
        Completion c1 = h.completion();
        Completion c2 = h.completion();
        assertEquals(r1, c1.getOpId());
        assertEquals("abc", c1.getData().toStringUtf8());
        assertEquals(r2, c2.getOpId());
        assertEquals("def", c2.getData().toStringUtf8());
    }

    @Test
    void aWaitingReadDoesNotHoldUpAWrite() {
        long conn = h.established();
        long r = h.read(conn, 10);
        long w = h.write(conn, "ping");
        Completion c = h.completion();
        assertEquals(w, c.getOpId());
        assertEquals(4, c.getBytesWritten());
        assertEquals(List.of("ping"), h.connector.last().gate.written);
        h.peerSends("pong");
        assertEquals(r, h.completion().getOpId());
    }

    @Test
    void writesAreFifoAndOneAtATime() {
        long conn = h.established();
        FakeConnector.WriteGate gate = h.connector.last().gate;
        gate.open = false;
        long w1 = h.write(conn, "one");
        long w2 = h.write(conn, "two");
        h.assertNothingSent();
        assertEquals(List.of("one"), gate.written, "the second write waits for the first");
        gate.release();
        h.ipc.runPendingTasks();
        assertEquals(w1, h.completion().getOpId());
        assertEquals(w2, h.completion().getOpId());
        assertEquals(List.of("one", "two"), gate.written);
    }

    @Test
    void barrierHoldsLaterOpsUntilEarlierOnesComplete() {
        long conn = h.established();
        long r = h.read(conn, 10);
        long b = h.barrier(conn);
        long w = h.write(conn, "after");
        h.assertNothingSent();
        assertTrue(h.connector.last().gate.written.isEmpty(), "the write must not start before the read completed");
        h.peerSends("x");
        assertEquals(r, h.completion().getOpId());
        assertEquals(b, h.completion().getOpId());
        assertEquals(w, h.completion().getOpId());
        assertEquals(List.of("after"), h.connector.last().gate.written);
    }

    @Test
    void barrierOnAnIdleConnectionCompletesAtOnce() {
        long conn = h.established();
        long b = h.barrier(conn);
        Completion c = h.completion();
        assertEquals(b, c.getOpId());
        assertEquals(Status.OK, c.getStatus());
    }

    @Test
    void cancelOfAQueuedReadCancelsItThenReportsOk() {
        long conn = h.established();
        long r = h.read(conn, 10);
        long cancel = h.cancel(r);
        Completion target = h.completion();
        Completion outcome = h.completion();
        assertEquals(r, target.getOpId());
        assertEquals(Status.CANCELLED, target.getStatus());
        assertEquals(cancel, outcome.getOpId());
        assertEquals(Status.OK, outcome.getStatus());
        h.peerSends("later");
        h.assertNothingSent();
        long r2 = h.read(conn, 10);
        Completion c = h.completion();
        assertEquals(r2, c.getOpId());
        assertEquals("later", c.getData().toStringUtf8(), "a cancelled read consumed nothing");
    }

    @Test
    void cancelOfAWriteInProgressIsTooLateAndTheWriteCompletesNormally() {
        long conn = h.established();
        FakeConnector.WriteGate gate = h.connector.last().gate;
        gate.open = false;
        long w = h.write(conn, "busy");
        long cancel = h.cancel(w);
        Completion outcome = h.completion();
        assertEquals(cancel, outcome.getOpId());
        assertEquals(Status.TOO_LATE, outcome.getStatus());
        gate.release();
        Completion c = h.completion();
        assertEquals(w, c.getOpId());
        assertEquals(Status.OK, c.getStatus());
    }

    @Test
    void cancelOfAQueuedWriteBehindARunningOneSucceeds() {
        long conn = h.established();
        FakeConnector.WriteGate gate = h.connector.last().gate;
        gate.open = false;
        long w1 = h.write(conn, "first");
        long w2 = h.write(conn, "second");
        h.cancel(w2);
        assertEquals(Status.CANCELLED, h.completion().getStatus());
        assertEquals(Status.OK, h.completion().getStatus());
        gate.release();
        assertEquals(w1, h.completion().getOpId());
        h.assertNothingSent();
        assertEquals(List.of("first"), gate.written);
    }

    @Test
    void cancelOfACompletedOpIsTooLateAndOfAnUnknownOneNotFound() {
        long conn = h.established();
        long w = h.write(conn, "done");
        h.completion();
        h.cancel(w);
        assertEquals(Status.TOO_LATE, h.completion().getStatus());
        h.request(Request.newBuilder().setCancel(io.tlsd.proto.v1.Cancel.newBuilder().setTargetOpId(999)));
        assertEquals(Status.NOT_FOUND, h.completion().getStatus());
    }

    @Test
    void cancelledBarrierLetsTheOpsBehindItRun() {
        long conn = h.established();
        h.read(conn, 10);
        long b = h.barrier(conn);
        long w = h.write(conn, "w");
        h.cancel(b);
        assertEquals(b, h.completion().getOpId());      // CANCELLED
        Completion next = h.completion();               // the write now runs
        assertEquals(w, next.getOpId());
        assertEquals(Status.OK, h.completion().getStatus()); // the cancel itself
    }

    @Test
    void readDeadlinePassesWithTimedOut() {
        long conn = h.established();
        long r = h.read(conn, 10, 250);
        h.ipc.advanceTimeBy(200, TimeUnit.MILLISECONDS);
        h.ipc.runScheduledPendingTasks();
        h.assertNothingSent();
        h.ipc.advanceTimeBy(100, TimeUnit.MILLISECONDS);
        h.ipc.runScheduledPendingTasks();
        Completion c = h.completion();
        assertEquals(r, c.getOpId());
        assertEquals(Status.TIMED_OUT, c.getStatus());
        assertEquals(0, h.counters.snapshot().opsInFlight() - 0, "only the timed-out op was in flight");
    }

    @Test
    void writeDeadlineWhileInProgressTimesOutAndClosesTheConnection() {
        long conn = h.established();
        h.connector.last().gate.open = false;
        long w = h.request(Request.newBuilder().setTimeoutMs(100)
                .setWrite(io.tlsd.proto.v1.Write.newBuilder().setConnId(conn)
                        .setData(com.google.protobuf.ByteString.copyFromUtf8("stuck"))));
        h.ipc.advanceTimeBy(150, TimeUnit.MILLISECONDS);
        h.ipc.runScheduledPendingTasks();
        Completion c = h.completion();
        assertEquals(w, c.getOpId());
        assertEquals(Status.TIMED_OUT, c.getStatus());
        assertFalse(h.connector.last().channel.isOpen(), "the stream state is unknown, so the connection closes");
    }

    @Test
    void closeNotifyEndsReadsWithEofAfterBufferedData() {
        long conn = h.established();
        h.peerSends("tail");
        h.connector.last().channel.pipeline().fireUserEventTriggered(SslCloseCompletionEvent.SUCCESS);
        long r1 = h.read(conn, 100);
        long r2 = h.read(conn, 100);
        Completion c1 = h.completion();
        Completion c2 = h.completion();
        assertEquals(r1, c1.getOpId());
        assertEquals("tail", c1.getData().toStringUtf8());
        assertEquals(r2, c2.getOpId());
        assertEquals(Status.EOF, c2.getStatus());
    }

    @Test
    void closeWithoutCloseNotifyIsAResetNotAnEof() {
        long conn = h.established();
        long r = h.read(conn, 100);
        h.connector.last().channel.close();
        h.ipc.runPendingTasks();
        Completion c = h.completion();
        assertEquals(r, c.getOpId());
        assertEquals(Status.CONNECTION_RESET, c.getStatus());
        assertTrue(c.getDetail().contains("without close_notify"), c.getDetail());
    }

    @Test
    void closeFailsPendingReadsAndLaterOpsSeeClosed() {
        long conn = h.established();
        long r = h.read(conn, 10);
        long close = h.close(conn);
        Completion first = h.completion();
        Completion second = h.completion();
        assertEquals(close, first.getOpId());
        assertEquals(Status.OK, first.getStatus());
        assertEquals(r, second.getOpId());
        assertEquals(Status.CLOSED, second.getStatus());
        h.write(conn, "too late");
        Completion c = h.completion();
        assertEquals(Status.CLOSED, c.getStatus());
        assertEquals("connection 1 is closed", c.getDetail());
        assertEquals(0, h.counters.snapshot().connections());
    }

    @Test
    void opsOnAForeignOrUnknownConnectionAreNotFound() {
        h.write(42, "x");
        Completion c = h.completion();
        assertEquals(Status.NOT_FOUND, c.getStatus());
        assertEquals("no connection 42 in this session", c.getDetail());
    }

    @Test
    void opIdsMustIncrease() {
        h.established();
        h.send(io.tlsd.proto.v1.ClientMessage.newBuilder().setRequest(Request.newBuilder().setOpId(1)
                .setBarrier(io.tlsd.proto.v1.Barrier.newBuilder().setConnId(1))).build());
        Completion c = h.completion();
        assertEquals(Status.BAD_REQUEST, c.getStatus());
        assertTrue(c.getDetail().contains("not greater than the previous op_id"), c.getDetail());
        assertTrue(h.ipc.isOpen(), "a bad request does not end the session");
    }

    @Test
    void requestWithoutAnOperationIsABadRequest() {
        long op = h.request(Request.newBuilder());
        Completion c = h.completion();
        assertEquals(op, c.getOpId());
        assertEquals(Status.BAD_REQUEST, c.getStatus());
    }

    @Test
    void readSizeOutOfRangeIsABadRequest() {
        long conn = h.established();
        h.read(conn, 0);
        assertEquals(Status.BAD_REQUEST, h.completion().getStatus());
    }

    @Test
    void sessionEndClosesConnectionsAndDropsOps() {
        long conn = h.established();
        h.read(conn, 10);
        h.connector.last().gate.open = false;
        h.write(conn, "pending");
        h.open(); // still handshaking
        assertEquals(2, h.counters.snapshot().connections());
        h.ipc.close();
        h.ipc.runPendingTasks();
        assertFalse(h.connector.attempts.get(0).channel.isOpen());
        assertEquals(0, h.counters.snapshot().connections());
        assertEquals(0, h.counters.snapshot().opsInFlight());
        assertEquals(0, h.counters.snapshot().sessions());
        assertTrue(h.connector.attempts.get(1).promise.isCancelled(), "the handshake in progress is abandoned");
    }

    @Test
    void readingPausesWhileTheBufferIsFullAndResumesWhenDrained() {
        h.close();
        h = new IpcHarness(new SessionLimits(1 << 20, 1 << 20, 64, 1 << 20, 8, 8));
        h.hello();
        long conn = h.established();
        FakeConnector.Attempt a = h.connector.last();
        int before = a.reads.reads;
        h.peerSends("0123456789");
        a.channel.pipeline().fireChannelReadComplete();
        assertEquals(before, a.reads.reads, "a full buffer stops reading");
        h.read(conn, 100);
        assertEquals("0123456789", h.completion().getData().toStringUtf8());
        assertEquals(before + 1, a.reads.reads, "draining resumes reading");
    }

    @Test
    void opsBeyondTheInFlightLimitAreRefusedUntilEarlierOnesComplete() {
        h.close();
        h = new IpcHarness(new SessionLimits(1 << 20, 1 << 20, 3, 1 << 20, 8, 1 << 10));
        h.hello();
        long conn = h.established();
        h.read(conn, 10);
        h.read(conn, 10);
        h.read(conn, 10);
        long refused = h.read(conn, 10);
        Completion c = h.completion();
        assertEquals(refused, c.getOpId());
        assertEquals(Status.LIMIT_EXCEEDED, c.getStatus());
        assertTrue(c.getDetail().contains("limit 3"), c.getDetail());
        h.peerSends("a");
        h.completion();
        long accepted = h.read(conn, 10);
        h.peerSends("b");
        h.completion();
        h.peerSends("c");
        h.completion();
        h.peerSends("d");
        assertEquals(accepted, h.completion().getOpId(), "room again once earlier ops completed");
    }

    @Test
    void writeBytesBeyondTheSessionLimitAreRefused() {
        h.close();
        h = new IpcHarness(new SessionLimits(1 << 20, 1 << 20, 64, 10, 8, 1 << 10));
        h.hello();
        long conn = h.established();
        h.connector.last().gate.open = false;
        long w1 = h.write(conn, "12345678");
        long w2 = h.write(conn, "abc");
        Completion c = h.completion();
        assertEquals(w2, c.getOpId());
        assertEquals(Status.LIMIT_EXCEEDED, c.getStatus());
        h.connector.last().gate.release();
        assertEquals(w1, h.completion().getOpId());
        long w3 = h.write(conn, "abc");
        assertEquals(w3, h.completion().getOpId(), "the bytes are counted back when a write completes");
    }

    @Test
    void connectionsBeyondTheSessionLimitAreRefused() {
        h.close();
        h = new IpcHarness(new SessionLimits(1 << 20, 1 << 20, 64, 1 << 20, 1, 1 << 10));
        h.hello();
        h.established();
        h.open();
        Completion c = h.completion();
        assertEquals(Status.LIMIT_EXCEEDED, c.getStatus());
        assertEquals(1, h.counters.snapshot().connections());
    }

    @Test
    void readingPausesOnEveryConnectionWhileTheSessionsBuffersAreFull() {
        h.close();
        h = new IpcHarness(new SessionLimits(1 << 20, 1 << 20, 64, 1 << 20, 8, 1024, 8));
        h.hello();
        long first = h.established();
        FakeConnector.Attempt a = h.connector.last();
        long second = h.established();
        FakeConnector.Attempt b = h.connector.last();
        a.channel.writeInbound(io.netty.buffer.Unpooled.copiedBuffer("0123456789", java.nio.charset.StandardCharsets.UTF_8));
        h.ipc.runPendingTasks();
        int aBefore = a.reads.reads;
        int bBefore = b.reads.reads;
        a.channel.pipeline().fireChannelReadComplete();
        b.channel.pipeline().fireChannelReadComplete();
        assertEquals(aBefore, a.reads.reads, "10 bytes buffered: the session's 8 are used up");
        assertEquals(bBefore, b.reads.reads, "the other connection, its own buffer empty, waits too");
        // ... unless the application waits for it: a READ there reads, whatever the others hold
        h.read(second, 100);
        assertEquals(bBefore + 1, b.reads.reads, "a READ waiting on an empty buffer is not held up");
        b.channel.writeInbound(io.netty.buffer.Unpooled.copiedBuffer("b", java.nio.charset.StandardCharsets.UTF_8));
        h.ipc.runPendingTasks();
        assertEquals("b", h.completion().getData().toStringUtf8());
        h.read(first, 100);
        assertEquals("0123456789", h.completion().getData().toStringUtf8());
        assertEquals(aBefore + 1, a.reads.reads, "room again: it reads on");
        h.close(); // the session ends: what it buffered is released
        assertEquals(0, h.counters.snapshot().bufferedBytes());
    }

    @Test
    void readDataIsHeldBackWhileTheApplicationDoesNotReadCompletions() {
        long conn = h.established();
        h.ipc.config().setWriteBufferWaterMark(new io.netty.channel.WriteBufferWaterMark(1, 2));
        h.ipc.unsafe().outboundBuffer().addMessage(io.netty.buffer.Unpooled.wrappedBuffer(new byte[16]), 16,
                h.ipc.newPromise()); // an unflushed backlog makes the channel unwritable
        assertFalse(h.ipc.isWritable());
        h.read(conn, 10);
        h.peerSends("held");
        assertEquals(4, h.counters.snapshot().bufferedBytes(), "the bytes wait in the connection's buffer");
        h.ipc.flush(); // the backlog drains, the channel becomes writable again
        h.ipc.runPendingTasks();
        io.netty.buffer.ByteBuf backlog = h.ipc.readOutbound();
        backlog.release();
        assertEquals("held", h.completion().getData().toStringUtf8());
    }
}
