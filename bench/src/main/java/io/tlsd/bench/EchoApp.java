package io.tlsd.bench;

import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The application behind the established connections: it ACCEPTs them through the SDK and echoes
 * whatever each one sends, asynchronously (callbacks on the SDK's reader thread, never blocking).
 */
final class EchoApp implements AutoCloseable {
    private static final int READ_BYTES = 4096;

    private final TlsdClient tlsd;
    private final List<TlsConnection> connections = new CopyOnWriteArrayList<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    EchoApp(Path socket) throws Exception {
        tlsd = TlsdClient.builder().socket(socket).appName("bench-echo").build();
    }

    /** Takes the next client of {@code listener} and echoes it until it closes. */
    void acceptOne(String listener, Duration timeout) throws Exception {
        TlsConnection conn = tlsd.accept(listener, timeout).await(timeout.plusSeconds(1));
        connections.add(conn);
        echo(conn);
    }

    private void echo(TlsConnection conn) {
        conn.read(READ_BYTES).toCompletableFuture().whenComplete((bytes, error) -> {
            if (error != null) {
                failure.compareAndSet(null, error);
                return;
            }
            if (bytes.length == 0) {
                conn.close();
                return;
            }
            conn.write(bytes); // writes of one connection complete in order; no need to wait
            echo(conn);
        });
    }

    /** The first error an echoed connection met, or null. */
    Throwable failure() {
        return failure.get();
    }

    @Override
    public void close() {
        tlsd.close();
    }
}
