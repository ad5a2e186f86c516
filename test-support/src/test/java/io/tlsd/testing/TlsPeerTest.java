package io.tlsd.testing;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class TlsPeerTest {
    private static final int SIXTEEN_MIB = 16 << 20;

    @TempDir
    Path dir;
    TestPki pki;
    Issued server;

    @BeforeEach
    void issue() {
        pki = TestPki.create(dir);
        server = pki.issueServer("localhost", "localhost", "127.0.0.1");
    }

    @Test
    void opensslServerIsReachedOverTls13WithHostNameVerifiedAndChainSent() throws Exception {
        try (TlsPeer peer = TlsPeer.opensslServer(server, "-rev");
                SSLSocket socket = JdkClient.connect(pki.caCertificate(), peer.port())) {
            assertEquals("TLSv1.3", socket.getSession().getProtocol());
            assertEquals(2, socket.getSession().getPeerCertificates().length);

            socket.getOutputStream().write("hello world\r\n".getBytes(US_ASCII));
            assertEquals("dlrow olleh\n", readLine(socket.getInputStream()));

            socket.getOutputStream().write("CLOSE\n".getBytes(US_ASCII));
            assertEquals(-1, socket.getInputStream().read(), "-rev closes on CLOSE");
        }
    }

    @Test
    void opensslServerWithRsaKey() throws Exception {
        Issued rsa = pki.issueServer(KeyType.RSA_2048, "localhost");
        try (TlsPeer peer = TlsPeer.opensslServer(rsa, "-rev");
                SSLSocket socket = JdkClient.connect(pki.caCertificate(), peer.port())) {
            assertEquals("RSA", socket.getSession().getPeerCertificates()[0].getPublicKey().getAlgorithm());
        }
    }

    @Test
    void gnutlsServerEchoesLinesWithBothKeyTypes() throws Exception {
        for (KeyType keyType : KeyType.values()) {
            Issued cert = pki.issueServer(keyType, "localhost");
            try (TlsPeer peer = TlsPeer.gnutlsServer(cert, "--echo", "-q", "--crlf");
                    SSLSocket socket = JdkClient.connect(pki.caCertificate(), peer.port())) {
                assertEquals("TLSv1.3", socket.getSession().getProtocol());
                assertEquals(2, socket.getSession().getPeerCertificates().length);
                socket.getOutputStream().write("ping\r\n".getBytes(US_ASCII));
                assertEquals("ping\r\n", readLine(socket.getInputStream()));
            }
        }
    }

    @Test
    void gnutlsEchoWithoutCrlfOptionTurnsATrailingCrlfIntoLf() throws Exception {
        try (TlsPeer peer = TlsPeer.gnutlsServer(server, "--echo", "-q");
                SSLSocket socket = JdkClient.connect(pki.caCertificate(), peer.port())) {
            socket.getOutputStream().write("ping\r\n".getBytes(US_ASCII));
            assertEquals("ping\n", readLine(socket.getInputStream()));
        }
    }

    @Test
    void gnutlsEchoesSixteenMebibytesOfTextLines() throws Exception {
        byte[] text = new byte[SIXTEEN_MIB];
        Random random = new Random(42);
        for (int i = 0; i < text.length; i++) {
            text[i] = i % 1024 == 1023 ? (byte) '\n' : (byte) ('a' + random.nextInt(26));
        }
        try (TlsPeer peer = TlsPeer.gnutlsServer(server, "--echo", "-q");
                SSLSocket socket = JdkClient.connect(pki.caCertificate(), peer.port())) {
            // Read while writing: the echo fills the socket buffers long before 16 MiB are sent.
            CompletableFuture<byte[]> echoed = readAsync(socket.getInputStream(), text.length);
            socket.getOutputStream().write(text);
            assertArrayEquals(text, echoed.get(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void opensslQuietRelaysSixteenMebibytesBinaryCleanBothWaysAndClosesOnStdinEof() throws Exception {
        byte[] data = new byte[SIXTEEN_MIB];
        new Random(7).nextBytes(data);
        // Client to s_server's stdout; the stream ends when s_server exits after its one connection.
        try (TlsPeer peer = TlsPeer.openssl(server).args("-quiet", "-naccept", "1").drainStdout(false).start()) {
            CompletableFuture<byte[]> stdout = readAsync(peer.stdout(), Integer.MAX_VALUE);
            try (SSLSocket socket = JdkClient.connect(pki.caCertificate(), peer.port())) {
                socket.getOutputStream().write(data);
            }
            assertArrayEquals(data, stdout.get(30, TimeUnit.SECONDS));
        }
        // s_server's stdin to the client, then stdin EOF: a close_notify, which JSSE reports as -1.
        try (TlsPeer peer = TlsPeer.opensslServer(server, "-quiet", "-naccept", "1");
                SSLSocket socket = JdkClient.connect(pki.caCertificate(), peer.port())) {
            CompletableFuture<byte[]> received = readAsync(socket.getInputStream(), data.length);
            try (OutputStream stdin = peer.stdin()) {
                stdin.write(data);
            }
            assertArrayEquals(data, received.get(30, TimeUnit.SECONDS));
            assertEquals(-1, socket.getInputStream().read());
            assertTrue(peer.process().waitFor(10, TimeUnit.SECONDS), "-naccept 1 exits after the connection");
        }
    }

    @Test
    void killedOpensslEndsTheConnectionWithoutCloseNotify() throws Exception {
        try (TlsPeer peer = TlsPeer.opensslServer(server, "-quiet", "-naccept", "1")) {
            Process client = new ProcessBuilder("/usr/bin/openssl", "s_client", "-connect", "127.0.0.1:" + peer.port(),
                    "-CAfile", pki.caPem().toString(), "-ign_eof").redirectErrorStream(true).start();
            try {
                awaitOutput(client, "Verify return code: 0 (ok)");
                // Unread bytes at s_server, even the client's Finished, would turn the FIN into an
                // RST; once the marker reached its stdout, everything before it has been read.
                client.getOutputStream().write("marker\n".getBytes(US_ASCII));
                client.getOutputStream().flush();
                awaitPeerOutput(peer, "marker");
                peer.kill();
                String output = new String(client.getInputStream().readAllBytes(), US_ASCII);
                assertTrue(output.contains("unexpected eof while reading"), output);
            } finally {
                client.destroyForcibly();
            }
        }
    }

    @Test
    void tls12OnlyPeerIsRejectedByATls13Client() {
        try (TlsPeer peer = TlsPeer.openssl(server).tls12Only().start()) {
            assertThrows(SSLHandshakeException.class, () -> JdkClient.connect(pki.caCertificate(), peer.port()).close());
        }
    }

    @Test
    void certificateFromAnUntrustedCaIsRejected() throws Exception {
        Issued stranger = TestPki.untrusted(dir.resolve("untrusted")).issueServer("localhost");
        try (TlsPeer peer = TlsPeer.gnutlsServer(stranger, "--echo")) {
            assertThrows(SSLHandshakeException.class, () -> JdkClient.connect(pki.caCertificate(), peer.port()).close());
        }
    }

    @Test
    void startFailureCarriesTheChildsOutput() {
        IllegalStateException failure = assertThrows(IllegalStateException.class,
                () -> TlsPeer.opensslServer(server, "-no-such-option").close());
        assertTrue(failure.getMessage().contains("-no-such-option"), failure.getMessage());
        assertTrue(failure.getMessage().contains("exited with"), failure.getMessage());
    }

    @Test
    void closeStopsTheChildAndCanBeRepeated() throws Exception {
        TlsPeer peer = TlsPeer.gnutlsServer(server, "--echo");
        assertThrows(IllegalStateException.class, peer::stdout, "stdout is drained by default");
        peer.close();
        peer.close();
        assertFalse(peer.process().isAlive());
        assertTrue(peer.output().contains("Echo Server listening"), peer.output());
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        int b;
        while ((b = in.read()) != -1) {
            line.append((char) b);
            if (b == '\n') {
                break;
            }
        }
        return line.toString();
    }

    private static CompletableFuture<byte[]> readAsync(InputStream in, int length) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return in.readNBytes(length);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    private static void awaitPeerOutput(TlsPeer peer, String expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!peer.output().contains(expected)) {
            assertTrue(System.nanoTime() < deadline, peer::output);
            Thread.sleep(10);
        }
    }

    private static void awaitOutput(Process process, String expected) throws IOException {
        StringBuilder seen = new StringBuilder();
        InputStream out = process.getInputStream();
        int b;
        while (seen.indexOf(expected) < 0 && (b = out.read()) != -1) {
            seen.append((char) b);
        }
        assertTrue(seen.indexOf(expected) >= 0, seen::toString);
    }
}
