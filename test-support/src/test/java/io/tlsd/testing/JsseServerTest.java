package io.tlsd.testing;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.SocketException;
import java.nio.file.Path;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * How each close method looks on the wire, judged by {@code openssl s_client -msg}: JSSE's own
 * client cannot tell a {@code close_notify} from a bare FIN (both read as -1).
 */
@Timeout(60)
class JsseServerTest {
    private static final String RECEIVED_CLOSE_NOTIFY = "<<< TLS 1.3, Alert [length 0002], warning close_notify";

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
    void closeWithCloseNotifySendsOnlyCloseNotify() throws Exception {
        String wire = sClientAgainst(JsseServer.Connection::closeWithCloseNotify, true);
        assertTrue(wire.contains(RECEIVED_CLOSE_NOTIFY), wire);
        assertFalse(wire.contains("user_canceled"), wire);
        assertFalse(wire.contains("unexpected eof"), wire);
    }

    @Test
    void closeWithoutCloseNotifySendsABareFin() throws Exception {
        String wire = sClientAgainst(JsseServer.Connection::closeWithoutCloseNotify, true);
        assertFalse(wire.contains(RECEIVED_CLOSE_NOTIFY), wire);
        assertTrue(wire.contains("unexpected eof while reading"), wire);
    }

    @Test
    void resetSendsAnRst() throws Exception {
        String wire = sClientAgainst(JsseServer.Connection::reset, false);
        assertFalse(wire.contains(RECEIVED_CLOSE_NOTIFY), wire);
        assertTrue(wire.contains("errno=104"), wire); // ECONNRESET
    }

    @Test
    void jsseClientSeesResetAsAnException() throws Exception {
        try (JsseServer jsse = JsseServer.start(server, connection -> {
            connection.in().readNBytes(2);
            connection.reset();
        }); SSLSocket socket = JdkClient.connect(pki.caCertificate(), jsse.port())) {
            socket.getOutputStream().write("hi".getBytes(US_ASCII));
            assertThrows(SocketException.class, () -> socket.getInputStream().read());
        }
    }

    @Test
    void echoHandlerEchoesAndPresentsTheChain() throws Exception {
        try (JsseServer jsse = JsseServer.start(server, JsseServer.echo());
                SSLSocket socket = JdkClient.connect(pki.caCertificate(), jsse.port())) {
            assertEquals(2, socket.getSession().getPeerCertificates().length);
            socket.getOutputStream().write("echo me".getBytes(US_ASCII));
            assertArrayEquals("echo me".getBytes(US_ASCII), socket.getInputStream().readNBytes(7));
        }
    }

    @Test
    void handlerFailureFailsClose() throws Exception {
        IllegalStateException thrown = new IllegalStateException("server-side assertion");
        JsseServer jsse = JsseServer.start(server, connection -> {
            connection.in().readNBytes(1);
            throw thrown;
        });
        try (SSLSocket socket = JdkClient.connect(pki.caCertificate(), jsse.port())) {
            socket.getOutputStream().write(1);
            assertEquals(-1, socket.getInputStream().read());
        }
        AssertionError failure = assertThrows(AssertionError.class, jsse::close);
        assertSame(thrown, failure.getCause());
    }

    /**
     * Runs s_client against a server that answers "ok\n" and then ends the connection with
     * {@code end}. An RST may overtake the "ok", so arrival is checked only where promised.
     */
    private String sClientAgainst(ConnectionEnd end, boolean okMustArrive) throws Exception {
        try (JsseServer jsse = JsseServer.start(server, connection -> {
            connection.in().readNBytes(3);
            connection.out().write("ok\n".getBytes(US_ASCII));
            connection.out().flush();
            end.apply(connection);
        })) {
            // -ign_eof: stdin EOF must not make s_client close first; it waits for the server.
            OpensslCommand.Result result = OpensslCommand.runWithInput("hi\n".getBytes(US_ASCII),
                    "s_client", "-connect", "127.0.0.1:" + jsse.port(), "-CAfile", pki.caPem().toString(),
                    "-verify_return_error", "-msg", "-ign_eof");
            assertTrue(result.output().contains("Verify return code: 0 (ok)"), result.output());
            if (okMustArrive) {
                assertTrue(result.output().contains("\nok\n"), result.output());
            }
            return result.output();
        }
    }

    @FunctionalInterface
    private interface ConnectionEnd {
        void apply(JsseServer.Connection connection) throws Exception;
    }
}
