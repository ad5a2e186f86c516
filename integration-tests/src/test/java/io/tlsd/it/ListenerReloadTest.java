package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reload adds the server role's listeners of new names and removes those whose names are gone:
 * an added one serves ACCEPTs at once; a removed one stops listening, fails the ACCEPTs waiting on
 * it (UNAVAILABLE) and later ones (NOT_FOUND), and leaves the connections applications took alone.
 */
@Timeout(60)
class ListenerReloadTest {
    private static final Duration T = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    void aReloadAddsAndRemovesListeners() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        ListenerConfig web = ServerDaemonFixture.listener("web",
                ServerDaemonFixture.pem(pki.issueServer("localhost", "localhost"), "localhost"));
        ListenerConfig api = ServerDaemonFixture.listener("api",
                ServerDaemonFixture.pem(pki.issueServer("localhost", "localhost"), "localhost"));
        SSLContext tls = pki.clientContext();
        try (ServerDaemonFixture fixture = new ServerDaemonFixture(dir, List.of(web));
             TlsdClient app = fixture.app()) {
            int webPort = fixture.port("web");
            try (SSLSocket client = overTls(tls, webPort)) {
                TlsConnection taken = app.accept("web").await(T);
                Operation<TlsConnection> waiting = app.accept("web");
                Thread.sleep(300); // it reaches the daemon and waits in the listener

                TlsdDaemon.Reloaded reloaded = fixture.daemon.reload(like(fixture, List.of(api)));

                assertEquals(List.of(), reloaded.notApplied());
                int apiPort = fixture.port("api");
                assertTrue(reloaded.used().contains("listener web removed (1 waiting ACCEPT(s) failed)"),
                        reloaded.used().toString());
                assertTrue(reloaded.used().stream().anyMatch(u -> u.startsWith("listener api added, listening on 127.0.0.1:"
                        + apiPort + " (")), reloaded.used().toString());
                TlsdException failed = assertThrows(TlsdException.class, () -> waiting.await(T));
                assertEquals(Status.UNAVAILABLE, failed.status(), failed.toString());
                TlsdException notFound = assertThrows(TlsdException.class, () -> app.accept("web").await(T));
                assertEquals(Status.NOT_FOUND, notFound.status(), notFound.toString());
                assertThrows(IOException.class, () -> overTls(tls, webPort), "web listens no more");

                // what the application took from web goes on
                taken.write("hi\n".getBytes(US_ASCII)).await(T);
                assertArrayEquals("hi\n".getBytes(US_ASCII), client.getInputStream().readNBytes(3));
                client.getOutputStream().write("yo\n".getBytes(US_ASCII));
                client.getOutputStream().flush();
                assertArrayEquals("yo\n".getBytes(US_ASCII), taken.read(3).await(T));

                Operation<TlsConnection> onApi = app.accept("api");
                try (SSLSocket viaApi = overTls(tls, apiPort)) {
                    TlsConnection conn = onApi.await(T);
                    assertEquals("api", conn.info().listener());
                    conn.close().await(T);
                }
                taken.close().await(T);
            }

            // one that cannot listen fails the reload, and nothing changes
            try (ServerSocket used = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                ListenerConfig blocked = new ListenerConfig("blocked", new InetSocketAddress("127.0.0.1",
                        used.getLocalPort()), web.certificates(), List.of(), web.clientAuth(), null,
                        web.handshakeTimeout(), web.backlog(), web.maxPendingConnections());
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> fixture.daemon.reload(like(fixture, List.of(blocked))));
                assertTrue(e.getMessage().startsWith("listener blocked: cannot listen on 127.0.0.1:" + used.getLocalPort()),
                        e.getMessage());
                fixture.port("api"); // still there
                assertThrows(IllegalArgumentException.class, () -> fixture.port("blocked"));
            }
        }
    }

    /** The fixture's configuration with {@code listeners} instead of its own. */
    private static DaemonConfig like(ServerDaemonFixture fixture, List<ListenerConfig> listeners) {
        return DaemonConfig.builder().role(DaemonConfig.Role.SERVER).socket(fixture.socket()).listeners(listeners)
                .workerThreads(2).build();
    }

    private static SSLSocket overTls(SSLContext context, int port) throws IOException {
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), port);
        socket.setSoTimeout(10_000);
        socket.startHandshake();
        return socket;
    }
}
