package io.tlsd.daemon.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.proto.v1.Barrier;
import io.tlsd.proto.v1.Close;
import io.tlsd.proto.v1.DaemonMessage;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Status;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A session while its daemon drains (a graceful stop), on an embedded channel. */
class SessionDrainTest {
    @Test
    void aDrainingSessionIsToldRefusesNewConnectionsKeepsItsOwnAndSaysGoodbyeOnceItHoldsNone() {
        try (IpcHarness h = new IpcHarness()) {
            assertTrue(h.hello().hasWelcome());
            long conn = h.established();
            h.drain.start(Duration.ofSeconds(30));
            IpcSessionHandler handler = h.ipc.pipeline().get(IpcSessionHandler.class);
            handler.drain();
            handler.drain(); // the server's drain and a session's late start may both get here
            h.ipc.runPendingTasks();

            DaemonMessage notice = h.next();
            assertTrue(notice != null && notice.hasDraining(), "expected Draining, got " + notice);
            long left = notice.getDraining().getMillisLeft();
            assertTrue(left > 25_000 && left <= 30_000, "millis left: " + left);
            h.assertNothingSent(); // told once; no Goodbye while it holds a connection

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
    void aSessionThatStartsWhileTheDaemonDrainsIsToldAndEndsRightAfterItsWelcome() {
        try (IpcHarness h = new IpcHarness()) {
            h.drain.start(Duration.ofSeconds(5)); // accepted just before the drain began, which missed it
            assertTrue(h.hello().hasWelcome());
            DaemonMessage notice = h.next();
            assertTrue(notice != null && notice.hasDraining(), "expected Draining, got " + notice);
            DaemonMessage bye = h.next();
            assertTrue(bye != null && bye.hasGoodbye(), "expected a Goodbye, got " + bye);
            assertEquals(Status.UNAVAILABLE, bye.getGoodbye().getStatus());
        }
    }

    @Test
    void aSessionBeforeItsHelloGetsOnlyAGoodbye() {
        try (IpcHarness h = new IpcHarness()) {
            h.drain.start(Duration.ofSeconds(5));
            h.ipc.pipeline().get(IpcSessionHandler.class).drain();
            DaemonMessage bye = h.next();
            assertTrue(bye != null && bye.hasGoodbye(), "expected a Goodbye, got " + bye);
            assertEquals(Status.UNAVAILABLE, bye.getGoodbye().getStatus());
        }
    }
}
