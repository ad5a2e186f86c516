package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.TestPki;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A session's max_connections counts the ACCEPTs it has waiting: one more is refused at once, so
 * that a client that finished its handshake is never handed over only to be closed; it waits in
 * the listener's backlog for an ACCEPT with room.
 */
class AcceptLimitTest {
    private static final Duration T = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void anAcceptBeyondTheConnectionLimitIsRefusedAtOnceAndTheClientWaitsForRoom() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        SessionLimits oneConnection = new SessionLimits(1 << 20, 1 << 20, 64, 64L << 20, 1, 256 << 10);
        try (ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(ServerDaemonFixture.listener(
                     "default", ServerDaemonFixture.pem(pki.issueServer("localhost", "localhost"), "localhost"))),
                     b -> b.limits(oneConnection));
             TlsdClient app = fixture.app()) {
            Operation<TlsConnection> first = app.accept();
            TlsdException refused = assertThrows(TlsdException.class, () -> app.accept().await(T));
            assertEquals(Status.LIMIT_EXCEEDED, refused.status());
            assertTrue(refused.detail().contains("ACCEPTs waiting included"), refused.detail());

            try (TlsClientProcess c1 = TlsClientProcess.opensslClient(fixture.port("default"), pki.caPem(),
                         "-servername", "localhost", "-quiet");
                 TlsClientProcess c2 = TlsClientProcess.opensslClient(fixture.port("default"), pki.caPem(),
                         "-servername", "localhost", "-quiet")) {
                TlsConnection one = first.await(T);
                assertEquals(Status.LIMIT_EXCEEDED,
                        assertThrows(TlsdException.class, () -> app.accept().await(T)).status(), "still full");
                one.write(ascii("first\n")).await(T);
                one.close().await(T);

                TlsConnection two = app.accept().await(T); // room again: the other client waited
                two.write(ascii("second\n")).await(T);
                two.close().await(T);
                c1.await();
                c2.await();
                String both = c1.stdout() + c2.stdout();
                assertTrue(both.contains("first\n") && both.contains("second\n"), both);
                assertFalse(c1.stderr().contains("errno") || c2.stderr().contains("errno"),
                        c1.stderr() + c2.stderr());
            }
        }
    }

    private static byte[] ascii(String s) {
        return s.getBytes(US_ASCII);
    }
}
