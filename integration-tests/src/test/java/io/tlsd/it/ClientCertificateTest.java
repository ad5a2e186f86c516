package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client role presenting a client certificate (mTLS) to a server that requires one. */
class ClientCertificateTest {
    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void serverRequiringAClientCertificateAcceptsTheDaemonsIdentity() throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        Issued server = pki.issueServer("localhost", "localhost");
        Issued identity = pki.issueClient("billing-api");
        try (TlsPeer strict = TlsPeer.opensslServer(server, "-rev", "-Verify", "1", "-CAfile", pki.caPem().toString());
             TlsdDaemon withIdentity = TlsdDaemon.start(DaemonConfig.builder()
                     .socket(dir.resolve("with.sock")).caFile(pki.caPem())
                     .clientCertificate(ListenerConfig.CertificateSpec.pem(List.of(), identity.chainPem(),
                             identity.keyPem(), null))
                     .build());
             TlsdClient app = TlsdClient.builder().socket(withIdentity.socketPath()).build()) {
            TlsConnection conn = app.open("localhost", strict.port()).await(T);
            conn.write("mtls\n".getBytes(US_ASCII)).await(T);
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            while (got.size() < 5) {
                got.write(conn.read(16).await(T));
            }
            assertEquals("sltm\n", got.toString(US_ASCII));
            conn.close().await(T);
        }
    }

    @Test
    void withoutAnIdentityTheStrictServerRefuses() throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        Issued server = pki.issueServer("localhost", "localhost");
        try (TlsPeer strict = TlsPeer.opensslServer(server, "-rev", "-Verify", "1", "-CAfile", pki.caPem().toString());
             TlsdDaemon anonymous = TlsdDaemon.start(DaemonConfig.builder()
                     .socket(dir.resolve("without.sock")).caFile(pki.caPem()).build());
             TlsdClient app = TlsdClient.builder().socket(anonymous.socketPath()).build()) {
            // TLS 1.3: the client's handshake completes first; the server's alert ends the stream.
            assertThrows(TlsdException.class, () -> {
                TlsConnection conn = app.open("localhost", strict.port()).await(T);
                conn.write("x\n".getBytes(US_ASCII)).await(T);
                conn.read(16).await(T);
                conn.read(16).await(T);
            });
        }
    }
}
