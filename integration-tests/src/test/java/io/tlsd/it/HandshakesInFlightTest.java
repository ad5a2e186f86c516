package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.sdk.OpenOptions;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.TlsPeer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * max_handshakes_in_flight: with a cap of 1, an OPEN waits while another one's handshake is under
 * way (here with a server that accepts and never answers), starts when that one ends (its
 * timeout), and the OPEN's own timeout counts the wait; the daemon's stats count the waiting.
 */
class HandshakesInFlightTest {
    private static final Duration T = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void anOpenWaitsForTheHandshakeUnderWayAndItsTimeoutCountsTheWait() throws Exception {
        try (ClientDaemonFixture fixture = new ClientDaemonFixture(dir, b -> b.maxHandshakesInFlight(1));
             TlsPeer server = TlsPeer.opensslServer(fixture.pki.issueServer("localhost", "localhost"), "-rev");
             ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
             TlsdClient client = fixture.client()) {
            List<Socket> accepted = new ArrayList<>();
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        accepted.add(silent.accept()); // and never a byte back
                    }
                } catch (Exception e) {
                    // closed at the end of the test
                }
            }, "silent-server");
            acceptor.start();

            Operation<TlsConnection> stuck = client.open(OpenOptions.builder("127.0.0.1", silent.getLocalPort())
                    .serverName("localhost").timeout(Duration.ofMillis(1500)).build());
            Thread.sleep(200); // its ClientHello is out, unanswered: it holds the only slot
            long start = System.nanoTime();
            // waits for the slot longer than it may: fails without ever connecting
            Operation<TlsConnection> tooLate = client.open(OpenOptions.builder("localhost", server.port())
                    .timeout(Duration.ofMillis(300)).build());
            Operation<TlsConnection> patient = client.open("localhost", server.port());

            fixture.awaitStats(s -> s.handshakesWaiting() == 2, T);
            TlsdException late = failure(tooLate);
            assertEquals(Status.TIMED_OUT, late.status(), late.toString());
            assertTrue(late.detail().endsWith("within its deadline of 300 ms; it was waiting for its turn to connect to 127.0.0.1:"
                    + server.port() + " (max_handshakes_in_flight)"), late.detail());
            // the one that gave up has left the queue: the stats show the one still waiting
            fixture.awaitStats(s -> s.handshakesWaiting() == 1, T);
            assertFalse(patient.isDone(), "the second open waits for the first handshake to end");

            TlsdException timedOut = failure(stuck);
            assertEquals(Status.TIMED_OUT, timedOut.status(), timedOut.toString());
            assertTrue(timedOut.detail().endsWith("; it was in the TLS handshake with 127.0.0.1:" + silent.getLocalPort()),
                    timedOut.detail());
            TlsConnection conn = patient.await(T);
            long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(waitedMillis >= 1000, "opened after the first attempt's timeout, not before: " + waitedMillis);
            conn.write("ping\n".getBytes(US_ASCII)).await(T);
            assertEquals("gnip\n", new String(ClientRoleTest.readExactly(conn, 5), US_ASCII));
            conn.close().await(T);
            assertEquals(1, accepted.size(), "only the first attempt reached the silent server");
            silent.close();
            acceptor.join(5_000);
            for (Socket s : accepted) {
                s.close();
            }
            client.close();
            fixture.awaitIdle(); // no connection, op or session left behind
            assertEquals(0, fixture.awaitStats(s -> true, T).handshakesWaiting());
        }
    }

    @Test
    void anOpenWaitingForItsTurnCanBeCancelledOneConnectingCannot() throws Exception {
        try (ClientDaemonFixture fixture = new ClientDaemonFixture(dir, b -> b.maxHandshakesInFlight(1));
             ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
             TlsdClient client = fixture.client()) {
            Operation<TlsConnection> stuck = client.open(OpenOptions.builder("127.0.0.1", silent.getLocalPort())
                    .serverName("localhost").timeout(Duration.ofSeconds(3)).build());
            try (Socket first = silent.accept()) { // its ClientHello is on the way, never answered
                Operation<TlsConnection> queued = client.open(OpenOptions.builder("127.0.0.1", silent.getLocalPort())
                        .serverName("localhost").build());
                fixture.awaitStats(s -> s.handshakesWaiting() == 1, T);

                assertTrue(queued.cancel().await(T), "an OPEN still waiting for its turn is withdrawn");
                TlsdException cancelled = failure(queued);
                assertEquals(Status.CANCELLED, cancelled.status(), cancelled.toString());
                assertEquals(0, fixture.awaitStats(s -> true, T).handshakesWaiting(), "it left the queue");

                assertFalse(stuck.cancel().await(T), "an OPEN whose handshake is under way runs on");
                TlsdException timedOut = failure(stuck);
                assertEquals(Status.TIMED_OUT, timedOut.status(), timedOut.toString());

                silent.setSoTimeout(500);
                assertThrows(java.net.SocketTimeoutException.class, silent::accept,
                        "the withdrawn OPEN never connected, not even once the slot was free");
            }
            client.close();
            fixture.awaitIdle();
        }
    }

    private static TlsdException failure(Operation<?> op) throws Exception {
        try {
            op.toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | CompletionException e) {
            if (e.getCause() instanceof TlsdException t) {
                return t;
            }
            throw e;
        }
        throw new AssertionError("expected " + op + " to fail");
    }
}
