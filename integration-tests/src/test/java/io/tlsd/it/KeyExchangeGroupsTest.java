package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tls.groups}: a client daemon talking to a server daemon, both BoringSSL, each with or
 * without a configured list; both ends report the group they agreed on.
 */
class KeyExchangeGroupsTest {
    private static final Duration T = Duration.ofSeconds(15);

    @TempDir
    Path dir;

    /** The group the client daemon and the server daemon report for one connection between them. */
    private List<String> agreedGroup(List<String> clientGroups, List<String> serverGroups) throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki-" + System.nanoTime())));
        Issued localhost = pki.issueServer("localhost", "localhost", "127.0.0.1");
        try (TlsdDaemon server = TlsdDaemon.start(DaemonConfig.builder()
                     .role(DaemonConfig.Role.SERVER)
                     .socket(dir.resolve("s-" + System.nanoTime() + ".sock"))
                     .listeners(List.of(ServerDaemonFixture.listener("default", ServerDaemonFixture.pem(localhost))))
                     .tlsGroups(serverGroups)
                     .build());
             TlsdDaemon client = TlsdDaemon.start(DaemonConfig.builder()
                     .socket(dir.resolve("c-" + System.nanoTime() + ".sock"))
                     .caFile(pki.caPem())
                     .tlsGroups(clientGroups)
                     .build());
             TlsdClient backend = TlsdClient.builder().socket(server.socketPath()).build();
             TlsdClient app = TlsdClient.builder().socket(client.socketPath()).build()) {
            Operation<TlsConnection> accepted = backend.accept("default");
            TlsConnection outbound = app.open("localhost", server.listenerAddress("default").getPort()).await(T);
            TlsConnection inbound = accepted.await(T);
            List<String> groups = List.of(outbound.info().keyExchangeGroup(), inbound.info().keyExchangeGroup());
            outbound.close().await(T);
            inbound.close().await(T);
            return groups;
        }
    }

    @Test
    void byDefaultBoringSslAgreesOnThePostQuantumHybrid() throws Exception {
        assertEquals(List.of("X25519MLKEM768", "X25519MLKEM768"), agreedGroup(List.of(), List.of()));
    }

    @Test
    void theClientsListIsWhatItOffers() throws Exception {
        assertEquals(List.of("X25519", "X25519"), agreedGroup(List.of("X25519"), List.of()));
    }

    @Test
    void theServersListDecidesAmongWhatTheClientOffers() throws Exception {
        // The client's first key share is the hybrid; the server retries (HelloRetryRequest) for P-256.
        assertEquals(List.of("P-256", "P-256"), agreedGroup(List.of(), List.of("P-256", "P-384")));
    }

    @Test
    void noCommonGroupFailsTheHandshake() {
        assertThrows(Exception.class, () -> agreedGroup(List.of("X25519"), List.of("P-384")));
    }

    @Test
    void anUnknownGroupFailsTheStartWithItsName() {
        Exception e = assertThrows(Exception.class, () -> TlsdDaemon.start(DaemonConfig.builder()
                .socket(dir.resolve("bad.sock"))
                .tlsGroups(List.of("X25519", "P-999"))
                .build()));
        assertTrue(String.valueOf(e.getMessage()).contains("P-999"), e.toString());
    }

    @Test
    void groupsNeedBoringSsl() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DaemonConfig.builder()
                .tlsProvider("jdk").tlsGroups(List.of("X25519")).build());
        assertTrue(e.getMessage().contains("boringssl"), e.getMessage());
    }
}
