package io.tlsd.daemon.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.proto.v1.ClientMessage;
import io.tlsd.proto.v1.DaemonMessage;
import io.tlsd.proto.v1.Hello;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Status;
import io.tlsd.proto.v1.Welcome;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Session setup and what happens to frames the daemon cannot trust. */
class IpcFramingTest {
    private final IpcHarness h = new IpcHarness();

    @AfterEach
    void tearDown() {
        h.close();
    }

    @Test
    void helloGetsWelcomeWithTheLimits() {
        DaemonMessage msg = h.hello();
        Welcome w = msg.getWelcome();
        assertEquals(1, w.getProtocolVersion());
        assertEquals("client", w.getRole());
        SessionLimits d = SessionLimits.DEFAULTS;
        assertEquals(d.maxFrameBytes(), w.getLimits().getMaxFrameBytes());
        assertEquals(d.maxOpsInFlight(), w.getLimits().getMaxOpsInFlight());
        assertEquals(d.maxWriteBytes(), w.getLimits().getMaxWriteBytes());
    }

    @Test
    void unsupportedVersionGetsGoodbye() {
        h.send(ClientMessage.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(7)).build());
        assertGoodbye(Status.BAD_REQUEST, "protocol version 7 is not supported");
    }

    @Test
    void requestBeforeHelloGetsGoodbye() {
        h.send(ClientMessage.newBuilder().setRequest(Request.newBuilder().setOpId(1)).build());
        assertGoodbye(Status.BAD_REQUEST, "first message of a session must be Hello");
    }

    @Test
    void oversizedFrameIsRefusedFromItsLengthAlone() {
        h.hello();
        h.sendRaw(Unpooled.buffer().writeInt(SessionLimits.DEFAULTS.maxFrameBytes() + 1));
        assertGoodbye(Status.LIMIT_EXCEEDED, "frame too large");
    }

    @Test
    void garbageFrameGetsGoodbye() {
        h.hello();
        h.sendRaw(Unpooled.buffer().writeInt(3).writeBytes(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff}));
        assertGoodbye(Status.BAD_REQUEST, "not a valid ClientMessage");
    }

    @Test
    void frameSplitAcrossReadsIsReassembled() {
        byte[] body = ClientMessage.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1)).build().toByteArray();
        byte[] frame = Unpooled.buffer().writeInt(body.length).writeBytes(body).array();
        for (int i = 0; i < body.length + 4; i++) {
            h.sendRaw(Unpooled.wrappedBuffer(frame, i, 1)); // one byte at a time, length prefix included
        }
        assertTrue(h.next().hasWelcome());
    }

    @Test
    void silentClientIsDisconnectedAfterTheHelloTimeout() {
        h.ipc.advanceTimeBy(11, TimeUnit.SECONDS);
        h.ipc.runScheduledPendingTasks();
        assertGoodbye(Status.BAD_REQUEST, "no Hello within");
    }

    private void assertGoodbye(Status status, String detailPart) {
        DaemonMessage msg = h.next();
        assertTrue(msg != null && msg.hasGoodbye(), "expected Goodbye, got " + msg);
        assertEquals(status, msg.getGoodbye().getStatus());
        assertTrue(msg.getGoodbye().getDetail().contains(detailPart), msg.getGoodbye().getDetail());
        h.ipc.runPendingTasks();
        assertFalse(h.ipc.isOpen(), "the session is closed after Goodbye");
    }
}
