package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.fail;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * A real client daemon in this JVM (so tests can read its counters), trusting a fresh test CA,
 * with its socket in a temporary directory.
 */
final class ClientDaemonFixture implements AutoCloseable {
    final Path dir;
    final TestPki pki;
    final TlsdDaemon daemon;

    ClientDaemonFixture(Path dir) throws Exception {
        this(dir, UnaryOperator.identity());
    }

    /** With {@code settings} applied to the fixture's configuration before the daemon starts. */
    ClientDaemonFixture(Path dir, UnaryOperator<DaemonConfig.Builder> settings) throws Exception {
        this.dir = dir;
        this.pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        this.daemon = TlsdDaemon.start(settings.apply(DaemonConfig.builder()
                .socket(dir.resolve("run/client.sock"))
                .caFile(pki.caPem())
                .workerThreads(2))
                .build());
    }

    Path socket() {
        return daemon.socketPath();
    }

    TlsdClient client() throws Exception {
        return TlsdClient.builder().socket(socket()).appName("it").build();
    }

    /** A client asking for a shared-memory write ring of {@code writeRingBytes} (0: none). */
    TlsdClient client(int writeRingBytes) throws Exception {
        return TlsdClient.builder().socket(socket()).appName("it").writeRingBytes(writeRingBytes).build();
    }

    /** Waits until the daemon's counters satisfy {@code condition}; fails with the last snapshot. */
    DaemonCounters.Snapshot awaitStats(Predicate<DaemonCounters.Snapshot> condition, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        DaemonCounters.Snapshot s = daemon.stats();
        while (!condition.test(s)) {
            if (System.nanoTime() > deadline) {
                fail("daemon state did not settle within " + timeout + ": " + s);
            }
            Thread.sleep(20);
            s = daemon.stats();
        }
        return s;
    }

    /** Everything an application could leave behind is gone. */
    void awaitIdle() throws InterruptedException {
        awaitStats(s -> s.sessions() == 0 && s.connections() == 0 && s.opsInFlight() == 0 && s.bufferedBytes() == 0,
                Duration.ofSeconds(10));
    }

    @Override
    public void close() {
        daemon.close();
    }
}
