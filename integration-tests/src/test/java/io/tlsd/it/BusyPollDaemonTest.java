package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
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
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        Issued localhost = pki.issueServer("localhost", "localhost");
        try (TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder()
                     .socket(dir.resolve("run/client.sock"))
                     .caFile(pki.caPem())
                     .workerThreads(1)
                     .workerBusyPoll(Duration.ofNanos(50_000))
                     .build());
             TlsPeer server = TlsPeer.opensslServer(localhost, "-rev");
             TlsdClient client = TlsdClient.builder().socket(daemon.socketPath()).appName("it").build()) {
            TlsConnection conn = client.open("localhost", server.port()).await(T);
            for (int i = 0; i < 600; i++) {
                String line = "ping " + i;
                conn.write((line + "\n").getBytes(US_ASCII)).await(T);
                String expected = new StringBuilder(line).reverse() + "\n";
                assertEquals(expected, new String(readExactly(conn, expected.length()), US_ASCII), "round trip " + i);
                if (i >= 200 && i < 400) {
                    Thread.sleep(3); // seldom work: the loops stop polling
                }
            }
            conn.close().await(T);
        }
    }

    private static byte[] readExactly(TlsConnection conn, int n) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (out.size() < n) {
            byte[] chunk = conn.read(n - out.size()).await(T);
            if (chunk.length == 0) {
                throw new AssertionError("EOF after " + out.size() + " of " + n + " bytes");
            }
            out.write(chunk);
        }
        return out.toByteArray();
    }
}
