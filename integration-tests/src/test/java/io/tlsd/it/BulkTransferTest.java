package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.sdk.Operation;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TlsPeer;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** 16 MiB each way through the daemon, checked by SHA-256 against what the real peer saw. */
class BulkTransferTest {
    private static final int SIZE = 16 << 20;
    private static final int CHUNK = 256 << 10;
    private static final Duration T = Duration.ofSeconds(60);

    @TempDir
    static Path dir;
    static ClientDaemonFixture fixture;
    static Issued localhost;
    static byte[] payload;
    static byte[] text;

    @BeforeAll
    static void setUp() throws Exception {
        fixture = new ClientDaemonFixture(dir);
        localhost = fixture.pki.issueServer("localhost", "localhost");
        payload = new byte[SIZE];
        new Random(42).nextBytes(payload);
        // gnutls-serv --echo echoes text lines only (it stops at a NUL byte), so its payload is
        // printable lines of random letters.
        text = new byte[SIZE];
        Random random = new Random(7);
        for (int i = 0; i < SIZE; i++) {
            text[i] = (i % 100 == 99) ? (byte) '\n' : (byte) ('a' + random.nextInt(26));
        }
    }

    @AfterAll
    static void tearDown() {
        fixture.close();
    }

    private static byte[] sha256(byte[] data) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(data);
    }

    /** Writes {@code payload} with up to 8 writes in flight, as a fast application would. */
    private static void writeAll(TlsConnection conn, byte[] payload) throws Exception {
        ArrayDeque<Operation<Long>> inFlight = new ArrayDeque<>();
        for (int off = 0; off < SIZE; off += CHUNK) {
            if (inFlight.size() == 8) {
                inFlight.poll().await(T);
            }
            inFlight.add(conn.write(payload, off, Math.min(CHUNK, SIZE - off)));
        }
        for (Operation<Long> op : inFlight) {
            op.await(T);
        }
    }

    private static byte[] readToEof(TlsConnection conn) throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        long total = 0;
        while (true) {
            byte[] chunk = conn.read(CHUNK).await(T);
            if (chunk.length == 0) {
                break;
            }
            digest.update(chunk);
            total += chunk.length;
        }
        assertEquals(SIZE, total, "bytes received");
        return digest.digest();
    }

    /**
     * Uploads through the shared-memory write ring (the default: every write fits), through a
     * ring too small for the writes in flight (those that find no room go through the socket,
     * mixed in order with the others), and with no ring at all.
     */
    @ParameterizedTest(name = "write ring of {0} bytes")
    @ValueSource(ints = {4 << 20, 600 << 10, 0})
    void uploadToOpenssl(int ringBytes) throws Exception {
        try (TlsPeer server = TlsPeer.openssl(localhost).args("-quiet", "-naccept", "1").drainStdout(false).start();
             TlsdClient client = fixture.client(ringBytes)) {
            assertEquals(ringBytes, client.writeRingBytes(), "the daemon grants up to 4 MiB");
            CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> {
                try (InputStream in = server.stdout()) {
                    return sha256(in.readAllBytes());
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            long ringBefore = fixture.daemon.stats().ringBytes();
            TlsConnection conn = client.open("localhost", server.port()).await(T);
            writeAll(conn, payload);
            conn.shutdownOutput().await(T);
            assertArrayEquals(sha256(payload), received.get(60, java.util.concurrent.TimeUnit.SECONDS));
            long viaRing = fixture.daemon.stats().ringBytes() - ringBefore;
            if (ringBytes >= 8 * CHUNK) {
                assertEquals(SIZE, viaRing, "every write fits in the ring");
            } else if (ringBytes > 0) {
                assertTrue(viaRing > 0 && viaRing < SIZE, "some writes through the ring, some not: " + viaRing);
            } else {
                assertEquals(0, viaRing);
            }
            conn.close().await(T);
        }
        fixture.awaitIdle();
    }

    @Test
    void downloadFromOpenssl() throws Exception {
        try (TlsPeer server = TlsPeer.openssl(localhost).args("-quiet", "-naccept", "1").start();
             TlsdClient client = fixture.client()) {
            TlsConnection conn = client.open("localhost", server.port()).await(T);
            Thread feeder = new Thread(() -> {
                try (OutputStream out = server.stdin()) {
                    out.write(payload);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            feeder.start();
            assertArrayEquals(sha256(payload), readToEof(conn), "close_notify after the last byte");
            feeder.join();
            conn.close().await(T);
        }
        fixture.awaitIdle();
    }

    @Test
    void fullDuplexEchoThroughGnutls() throws Exception {
        try (TlsPeer server = TlsPeer.gnutlsServer(localhost, "--echo", "--crlf", "--disable-client-cert");
             TlsdClient client = fixture.client()) {
            TlsConnection conn = client.open("localhost", server.port()).await(T);
            CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> {
                try {
                    MessageDigest digest = MessageDigest.getInstance("SHA-256");
                    long total = 0;
                    while (total < SIZE) {
                        byte[] chunk = conn.read(CHUNK).await(T);
                        if (chunk.length == 0) {
                            throw new IllegalStateException("EOF after " + total + " bytes");
                        }
                        digest.update(chunk);
                        total += chunk.length;
                    }
                    return digest.digest();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            writeAll(conn, text);
            assertArrayEquals(sha256(text), echoed.get(60, java.util.concurrent.TimeUnit.SECONDS));
            conn.close().await(T);
        }
        fixture.awaitIdle();
    }
}
