package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * max_sessions: one session more than it allows is refused at its Hello with LIMIT_EXCEEDED, the
 * others carry on, and a place that frees up is taken again; a reload may raise it;
 * max_sessions_per_uid does the same for the sessions of one user. A reload's {@code limits} go to
 * the sessions that begin after it.
 */
class MaxSessionsTest {
    private static final Duration T = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void aReloadGivesItsLimitsToTheSessionsThatBeginAfterIt() throws Exception {
        try (ClientDaemonFixture fixture = new ClientDaemonFixture(dir, b -> b);
             TlsdClient before = fixture.client()) {
            SessionLimits now = fixture.daemon.config().limits();
            assertEquals(now.maxOpsInFlight(), before.limits().maxOpsInFlight());
            SessionLimits raised = new SessionLimits(now.maxWriteBytes(), now.maxReadBytes(), now.maxOpsInFlight() * 2,
                    now.maxQueuedWriteBytes(), now.maxConnections() + 1, now.connectionBufferBytes(),
                    now.maxBufferedReadBytes());

            TlsdDaemon.Reloaded reloaded = fixture.daemon.reload(fixture.daemon.config().toBuilder().limits(raised).build());

            assertEquals(List.of(), reloaded.notApplied(), "applied, not held for a restart");
            assertTrue(reloaded.used().stream().anyMatch(u -> u.startsWith("sessions' limits, for those that connect"
                    + " from now on (max_write_bytes ") && u.contains("max_ops_in_flight " + now.maxOpsInFlight() * 2 + ",")),
                    reloaded.used().toString());
            try (TlsdClient after = fixture.client()) {
                assertEquals(now.maxOpsInFlight() * 2, after.limits().maxOpsInFlight(), "announced in its Welcome");
                assertEquals(now.maxConnections() + 1, after.limits().maxConnections());
            }
            TlsdException served = assertThrows(TlsdException.class, () -> before.open("127.0.0.1", 1).await(T));
            assertEquals(Status.CONNECT_FAILED, served.status(), "the session open before goes on");
        }
    }

    @Test
    void aSessionBeyondMaxSessionsIsRefusedUntilOneEnds() throws Exception {
        try (ClientDaemonFixture fixture = new ClientDaemonFixture(dir, b -> b.maxSessions(2));
             TlsdClient first = fixture.client()) {
            TlsdClient second = fixture.client();
            TlsdException refused = assertThrows(TlsdException.class, fixture::client);
            assertEquals(Status.LIMIT_EXCEEDED, refused.status());
            assertTrue(refused.detail().contains("at most 2 sessions at once (max_sessions)"), refused.detail());
            assertEquals(1, fixture.awaitStats(s -> s.sessionsOverLimit() == 1, T).sessionsOverLimit());

            TlsdException served = assertThrows(TlsdException.class, () -> first.open("127.0.0.1", 1).await(T));
            assertEquals(Status.CONNECT_FAILED, served.status(), "the first session is still served");
            second.close();
            fixture.awaitStats(s -> s.sessions() == 1, T);
            try (TlsdClient third = fixture.client()) {
                assertEquals(1, fixture.awaitStats(s -> s.sessions() == 2, T).sessionsOverLimit());
                assertThrows(TlsdException.class, fixture::client);

                // an operator raises the limit: SIGHUP, no restart, the sessions open carry on
                List<String> used = fixture.daemon.reload(fixture.daemon.config().toBuilder().maxSessions(3).build()).used();
                assertTrue(used.contains("sessions (max_sessions 3, max_sessions_per_uid none)"), used.toString());
                try (TlsdClient fourth = fixture.client()) {
                    assertEquals(3, fixture.awaitStats(s -> s.sessions() == 3, T).sessions());
                    TlsdException full = assertThrows(TlsdException.class, fixture::client);
                    assertTrue(full.detail().contains("at most 3 sessions at once"), full.detail());

                    // a limit per user set by a reload counts the user's sessions open (three here)
                    fixture.daemon.reload(fixture.daemon.config().toBuilder().maxSessions(8).maxSessionsPerUid(3).build());
                    TlsdException user = assertThrows(TlsdException.class, fixture::client);
                    assertTrue(user.detail().contains("at most 3 sessions of one user at once"), user.detail());
                }
            }
        }
    }

    @Test
    void aUserAtMaxSessionsPerUidIsRefusedWhilePlacesRemain() throws Exception {
        // the tests run as one user: its second session is refused, though max_sessions allows 256
        try (ClientDaemonFixture fixture = new ClientDaemonFixture(dir, b -> b.maxSessionsPerUid(1));
             TlsdClient first = fixture.client()) {
            TlsdException refused = assertThrows(TlsdException.class, fixture::client);
            assertEquals(Status.LIMIT_EXCEEDED, refused.status());
            assertTrue(refused.detail().contains("at most 1 session of one user at once (max_sessions_per_uid)"),
                    refused.detail());
            assertEquals(1, fixture.awaitStats(s -> s.sessionsOverLimit() == 1, T).sessionsOverLimit());
            first.close();
            fixture.awaitStats(s -> s.sessions() == 0, T);
            try (TlsdClient again = fixture.client()) {
                assertEquals(1, fixture.awaitStats(s -> s.sessions() == 1, T).sessionsOverLimit(),
                        "the user's place was given back");
            }
        }
    }
}
