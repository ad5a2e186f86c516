package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.TcpTimers;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * tcp_keepalive: the kernel probes the daemon's side of the connections applications hold, those
 * of OPENs and those accepted by listeners, and not the other side's; 0 turns it off. Seen in the
 * kernel's own table of sockets.
 */
class TcpKeepaliveTest {
    private static final Duration T = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void theConnectionsOfOpensAreProbedUnlessTurnedOff() throws Exception {
        try (ClientDaemonFixture probing = new ClientDaemonFixture(dir.resolve("on"), b -> b);
             ClientDaemonFixture silent = new ClientDaemonFixture(dir.resolve("off"),
                     b -> b.tcpKeepalive(Duration.ZERO).caFile(probing.pki.caPem()));
             TlsPeer server = TlsPeer.opensslServer(probing.pki.issueServer("localhost", "localhost"), "-rev")) {
            int port = server.port();
            awaitTimers(List.of(TcpTimers.KEEPALIVE), () -> timersOfAnOpen(probing, port));
            awaitTimers(List.of(TcpTimers.NONE), () -> timersOfAnOpen(silent, port));
        }
    }

    /** Opens a connection to {@code port}, returns the timers of the daemon's socket, closes it. */
    private static List<Integer> timersOfAnOpen(ClientDaemonFixture fixture, int port) {
        try (TlsdClient client = fixture.client()) {
            TlsConnection conn = client.open("localhost", port).await(T);
            int local = Integer.parseInt(conn.info().localAddress().replaceAll(".*:", ""));
            List<Integer> timers = TcpTimers.of(local, port);
            conn.close().await(T);
            return timers;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void theConnectionsListenersAcceptAreProbed() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        ListenerConfig listener = ServerDaemonFixture.listener("default",
                ServerDaemonFixture.pem(pki.issueServer("localhost", "localhost"), "localhost"));
        try (ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(listener))) {
            int port = fixture.port("default");
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port)) {
                // the daemon's side, still waiting for a ClientHello, and this side
                awaitTimers(List.of(TcpTimers.KEEPALIVE), () -> TcpTimers.of(port, client.getLocalPort()));
                assertEquals(List.of(TcpTimers.NONE), TcpTimers.of(client.getLocalPort(), port));
            }
        }
    }

    /** Retries for a while: right after a handshake, data not acknowledged yet arms another timer. */
    private static void awaitTimers(List<Integer> expected, Supplier<List<Integer>> timers) throws InterruptedException {
        List<Integer> seen = timers.get();
        for (int i = 0; i < 50 && !seen.equals(expected); i++) {
            Thread.sleep(100);
            seen = timers.get();
        }
        assertEquals(expected, seen);
    }
}
