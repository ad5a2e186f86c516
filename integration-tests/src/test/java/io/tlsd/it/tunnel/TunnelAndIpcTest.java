package io.tlsd.it.tunnel;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.tunnel.TunnelConfig;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import io.tlsd.testing.TlsPeer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One client daemon serving an SDK application over IPC and a plain→TLS tunnel at once. */
class TunnelAndIpcTest {
    private static final Duration T = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void ipcAndTunnelShareOneDaemon() throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        Issued localhost = pki.issueServer("localhost", "localhost");
        try (TlsPeer server = TlsPeer.opensslServer(localhost, "-rev");
             TlsdDaemon daemon = TlsdDaemon.start(DaemonConfig.builder()
                     .socket(dir.resolve("client.sock"))
                     .caFile(pki.caPem())
                     .tunnels(List.of(TunnelConfig.client("rev", new InetSocketAddress("127.0.0.1", 0),
                             "localhost:" + server.port(), null)))
                     .build());
             TlsdClient app = TlsdClient.builder().socket(daemon.socketPath()).build()) {
            TlsConnection conn = app.open("localhost", server.port()).await(T);
            conn.write("via ipc\n".getBytes(US_ASCII)).await(T);
            StringBuilder got = new StringBuilder();
            while (!got.toString().endsWith("\n")) {
                got.append(new String(conn.read(64).await(T), US_ASCII));
            }
            assertEquals("cpi aiv\n", got.toString());
            conn.close().await(T); // s_server serves one connection at a time

            try (Socket plain = new Socket("127.0.0.1", daemon.tunnelAddress("rev").getPort())) {
                plain.setSoTimeout(10_000);
                plain.getOutputStream().write("via tunnel\n".getBytes(US_ASCII));
                BufferedReader in = new BufferedReader(new InputStreamReader(plain.getInputStream(), US_ASCII));
                assertEquals("lennut aiv", in.readLine());
            }
        }
    }
}
