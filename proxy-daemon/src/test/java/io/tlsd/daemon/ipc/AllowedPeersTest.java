package io.tlsd.daemon.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.testing.StderrCapture;
import io.tlsd.proto.v1.DaemonMessage;
import io.tlsd.proto.v1.Status;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class AllowedPeersTest {
    @Test
    void aUserOrAPrimaryGroupOnTheListIsAllowed() {
        AllowedPeers peers = AllowedPeers.of(List.of(1000, 1001), List.of(2000));
        assertTrue(peers.allows(1000, 5));
        assertTrue(peers.allows(7, 2000));
        assertFalse(peers.allows(7, 5));
        assertFalse(peers.allows(0, 0), "root is not implied");
        assertEquals("uids [1000, 1001] or gids [2000]", peers.describe());
        assertEquals("gids [2000]", AllowedPeers.of(List.of(), List.of(2000)).describe());
    }

    @Test
    void withoutAListAnyoneWhoCanOpenTheSocketIs() {
        assertFalse(AllowedPeers.ANYONE.restricts());
        assertTrue(AllowedPeers.ANYONE.allows(12345, 678));
        assertEquals("anyone who can open the socket", AllowedPeers.ANYONE.describe());
    }

    @Test
    void aPeerWhoseCredentialsAreUnknownIsRefusedWhenTheListIsSet() {
        IpcServer.Settings settings = new IpcServer.Settings("client", "tlsd test",
                io.tlsd.daemon.engine.SessionLimits.DEFAULTS, Duration.ofSeconds(10), null, 0, Runnable::run,
                AllowedPeers.of(List.of(1000), List.of()), IpcServer.Settings.DEFAULT_MAX_SESSIONS);
        try (IpcHarness h = new IpcHarness(settings)) { // an embedded channel has no SO_PEERCRED
            DaemonMessage reply = h.hello();
            assertTrue(reply.hasGoodbye(), reply.toString());
            assertEquals(Status.UNAUTHORIZED, reply.getGoodbye().getStatus());
            assertEquals("a process whose credentials are unknown may not use this tlsd socket (allowed_peers)",
                    reply.getGoodbye().getDetail(), "the list itself stays in the daemon's log");
        }
    }

    @Test
    void refusalsAreLoggedAtMostEveryTenSeconds() {
        IpcServer.Settings settings = new IpcServer.Settings("client", "tlsd test",
                io.tlsd.daemon.engine.SessionLimits.DEFAULTS, Duration.ofSeconds(10), null, 0, Runnable::run,
                AllowedPeers.of(List.of(1000), List.of()), IpcServer.Settings.DEFAULT_MAX_SESSIONS);
        String logged = StderrCapture.of(() -> {
            for (int i = 0; i < 3; i++) {
                try (IpcHarness h = new IpcHarness(settings)) {
                    assertEquals(Status.UNAUTHORIZED, h.hello().getGoodbye().getStatus());
                }
            }
        });
        long warnings = logged.lines().filter(l -> l.contains(" WARN ") && l.contains(" refused: ")).count();
        assertTrue(warnings <= 1, "a refused process retrying in a loop must not flood the log:\n" + logged);
        assertFalse(logged.contains(" INFO IpcSessionHandler - session embedded ended by the daemon: UNAUTHORIZED"),
                logged);
    }
}
