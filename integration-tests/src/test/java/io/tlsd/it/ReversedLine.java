package io.tlsd.it;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.fail;

import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;

/** A line sent to {@code openssl s_server -rev} and the reversed line it answers, stripped. */
final class ReversedLine {
    private static final Duration T = Duration.ofSeconds(10);

    private ReversedLine() {
    }

    /** Through a new connection that {@code app} OPENs to localhost:{@code port}, closed after. */
    static String byOpen(TlsdClient app, int port, String line) throws Exception {
        TlsConnection conn = app.open("localhost", port).await(T);
        try {
            return through(conn, line);
        } finally {
            conn.close(); // not awaited: after a failure it fails too
        }
    }

    /** Through a new connection to the client tunnel on 127.0.0.1:{@code port}; null if it closes. */
    static String byTunnel(int port, String line) throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            return through(s, line);
        }
    }

    /** Through an open connection; fails if the stream ends first. */
    static String through(TlsConnection conn, String line) throws Exception {
        conn.write((line + "\n").getBytes(US_ASCII)).await(T);
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        while (got.size() <= line.length()) {
            byte[] chunk = conn.read(64).await(T);
            if (chunk.length == 0) {
                fail("the stream ended after `" + got.toString(US_ASCII) + "`");
            }
            got.write(chunk);
        }
        return got.toString(US_ASCII).strip();
    }

    /**
     * Through a plain socket (a client tunnel's): the line the peer answers, stripped (any peer
     * that answers a line with a line, such as gnutls-serv --echo); null if the socket is closed
     * or reset first.
     */
    static String through(Socket s, String line) throws Exception {
        s.setSoTimeout((int) T.toMillis());
        s.getOutputStream().write((line + "\n").getBytes(US_ASCII));
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        while (true) {
            int b;
            try {
                b = in.read();
            } catch (SocketException reset) {
                b = -1;
            }
            if (b < 0) {
                return null;
            }
            if (b == '\n') {
                return got.toString(US_ASCII).strip();
            }
            got.write(b);
        }
    }
}
