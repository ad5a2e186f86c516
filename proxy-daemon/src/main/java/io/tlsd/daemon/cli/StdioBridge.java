package io.tlsd.daemon.cli;

import io.tlsd.sdk.Operation;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.sdk.TlsdException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * The netcat part of {@code tlsd connect} and {@code tlsd accept}: stdin → the connection (its end
 * sends close_notify), the connection → stdout until the peer closes.
 */
final class StdioBridge {
    private static final int CHUNK = 64 * 1024;

    private StdioBridge() {
    }

    /**
     * The whole of both commands: reach the daemon at {@code socket} (exit 69 if it is not
     * there), get one connection from it with {@code take} (exit 1 with the reason), then bridge.
     *
     * @param what names the connection in messages, e.g. the target or the listener
     */
    static int run(Path socket, String command, String what, boolean verbose,
                   Function<TlsdClient, Operation<TlsConnection>> take) throws InterruptedException {
        TlsdClient client;
        try {
            client = TlsdClient.builder().socket(socket).appName(command.replace(' ', '-')).build();
        } catch (TlsdException e) {
            System.err.println(command + ": " + e.getMessage());
            return e.status() == io.tlsd.sdk.Status.UNAUTHORIZED ? TlsdCommand.EXIT_NO_PERMISSION
                    : TlsdCommand.EXIT_UNAVAILABLE;
        }
        try (client) {
            TlsConnection conn;
            try {
                conn = take.apply(client).await();
            } catch (TlsdException e) {
                System.err.println(command + ": " + what + ": " + e.getMessage());
                return e.status() == io.tlsd.sdk.Status.UNAUTHORIZED ? TlsdCommand.EXIT_NO_PERMISSION
                        : TlsdCommand.EXIT_FAILED; // a listener's allowed_peers, say
            }
            if (verbose) {
                System.err.println(command + ": " + what + ": " + conn.info());
            }
            return bridge(conn, command);
        }
    }

    /** Returns the exit code: 0 after a clean close, 1 with a message on stderr otherwise. */
    private static int bridge(TlsConnection conn, String command) throws InterruptedException {
        AtomicReference<IOException> uploadFailure = new AtomicReference<>();
        Thread upload = new Thread(() -> {
            byte[] buf = new byte[CHUNK];
            try (InputStream in = System.in) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    conn.write(Arrays.copyOf(buf, n)).await();
                }
                conn.shutdownOutput().await();
            } catch (IOException e) {
                uploadFailure.set(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, command + "-stdin");
        upload.setDaemon(true);
        upload.start();

        int status = 0;
        OutputStream out = System.out;
        try {
            while (true) {
                byte[] data = conn.read(CHUNK).await();
                if (data.length == 0) {
                    break; // close_notify: a clean end
                }
                out.write(data);
                out.flush();
            }
        } catch (IOException e) {
            System.err.println(command + ": " + e.getMessage());
            status = TlsdCommand.EXIT_FAILED;
        }
        // Read before this side closes the connection: a write that failed by then lost input
        // (the peer closed first, say); stdin not read yet is dropped quietly, as nc does.
        IOException failed = uploadFailure.get();
        if (status == 0 && failed != null) {
            System.err.println(command + (failed instanceof TlsdException ? ": sending stdin: " : ": reading stdin: ")
                    + failed.getMessage());
            status = TlsdCommand.EXIT_FAILED;
        }
        try {
            conn.close().await();
        } catch (TlsdException e) {
            // the connection already ended; nothing more to tell
        }
        return status;
    }
}
