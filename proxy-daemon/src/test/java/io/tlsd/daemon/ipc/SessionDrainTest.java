package io.tlsd.daemon.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.proto.v1.Barrier;
import io.tlsd.proto.v1.Close;
import io.tlsd.proto.v1.DaemonMessage;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Status;
import org.junit.jupiter.api.Test;

/** A session while its daemon drains (a graceful stop), on an embedded channel. */
class SessionDrainTest {
    @Test
    void aDrainingSessionRefusesNewConnectionsKeepsItsOwnAndSaysGoodbyeOnceItHoldsNone() {
        try (IpcHarness h = new IpcHarness()) {
            assertTrue(h.hello().hasWelcome());
            long conn = h.established();
            h.ipc.pipeline().get(IpcSessionHandler.class).drain();
            h.assertNothingSent();

            assertEquals(Status.UNAVAILABLE, h.completion(h.open()).getStatus(), "no new connections");
            long barrier = h.request(Request.newBuilder().setBarrier(Barrier.newBuilder().setConnId(conn)));
            assertEquals(Status.OK, h.completion(barrier).getStatus(), "its own connection goes on");
            long close = h.request(Request.newBuilder().setClose(Close.newBuilder().setConnId(conn)));
            assertEquals(Status.OK, h.completion(close).getStatus());

            DaemonMessage bye = h.next();
            assertTrue(bye != null && bye.hasGoodbye(), "a Goodbye once it holds no connection: " + bye);
            assertEquals(Status.UNAVAILABLE, bye.getGoodbye().getStatus());
        }
    }

    @Test
    void aSessionThatStartsWhileTheDaemonDrainsEndsRightAfterItsWelcome() {
        try (IpcHarness h = new IpcHarness()) {
            h.draining.set(true); // accepted just before the drain began, which missed it
            assertTrue(h.hello().hasWelcome());
            DaemonMessage bye = h.next();
            assertTrue(bye != null && bye.hasGoodbye(), "expected a Goodbye, got " + bye);
            assertEquals(Status.UNAVAILABLE, bye.getGoodbye().getStatus());
        }
    }
}
