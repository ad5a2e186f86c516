package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.TlsPeer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A daemon whose worker loops busy-poll (worker_busy_poll) serves like any other: round trips with
 * openssl in a steady exchange (the window at its largest), then after pauses longer than a
 * millisecond (the window shrinking to nothing), then steady again.
 */
class BusyPollDaemonTest {
    private static final Duration T = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void roundTripsStayCorrectWhilePollingComesAndGoes() throws Exception {
        try (ClientDaemonFixture fixture = new ClientDaemonFixture(dir,
                     b -> b.workerThreads(1).workerBusyPoll(Duration.ofNanos(50_000)));
             TlsPeer server = TlsPeer.opensslServer(fixture.pki.issueServer("localhost", "localhost"), "-rev");
             TlsdClient client = fixture.client()) {
            TlsConnection conn = client.open("localhost", server.port()).await(T);
            for (int i = 0; i < 600; i++) {
                String line = "ping " + i;
                conn.write((line + "\n").getBytes(US_ASCII)).await(T);
                String expected = new StringBuilder(line).reverse() + "\n";
                assertEquals(expected, new String(ClientRoleTest.readExactly(conn, expected.length()), US_ASCII),
                        "round trip " + i);
                if (i >= 200 && i < 400) {
                    Thread.sleep(3); // seldom work: the loops stop polling
                }
            }
            conn.close().await(T);
        }
    }
}
