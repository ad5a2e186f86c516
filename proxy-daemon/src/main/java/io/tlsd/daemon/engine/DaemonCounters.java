package io.tlsd.daemon.engine;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Daemon-wide gauges and counters, updated from every loop. Sessions and connections are gauges
 * so that tests and operators can see that a dead application left nothing behind.
 */
public final class DaemonCounters {
    final AtomicLong sessions = new AtomicLong();
    final AtomicLong connections = new AtomicLong();
    final AtomicLong opsInFlight = new AtomicLong();
    final AtomicLong bufferedBytes = new AtomicLong();
    final LongAdder opsCompleted = new LongAdder();
    final LongAdder handshakes = new LongAdder();
    final LongAdder handshakeFailures = new LongAdder();
    final LongAdder bytesRead = new LongAdder();
    final LongAdder bytesWritten = new LongAdder();
    final LongAdder ringBytes = new LongAdder();
    final LongAdder sessionsRefused = new LongAdder();
    final LongAdder sessionsOverLimit = new LongAdder();
    final LongAdder opensRefused = new LongAdder();
    private volatile LongSupplier handshakesWaiting = () -> 0;

    public void sessionStarted() {
        sessions.incrementAndGet();
    }

    public void sessionEnded() {
        sessions.decrementAndGet();
    }

    /** A process that is not among {@code allowed_peers} was refused a session; returns how many since start. */
    public long sessionRefused() {
        sessionsRefused.increment();
        return sessionsRefused.sum();
    }

    /**
     * A session was refused because {@code max_sessions}, or {@code max_sessions_per_uid} of its
     * user, were open; returns how many since start.
     */
    public long sessionOverLimit() {
        sessionsOverLimit.increment();
        return sessionsOverLimit.sum();
    }

    /** An OPEN of a target outside {@code allowed_targets} was refused; returns how many since start. */
    public long openRefused() {
        opensRefused.increment();
        return opensRefused.sum();
    }

    /** Where the gauge of OPENs waiting for a handshake slot comes from (max_handshakes_in_flight). */
    public void handshakesWaitingFrom(LongSupplier gauge) {
        handshakesWaiting = gauge;
    }

    public Snapshot snapshot() {
        return new Snapshot(sessions.get(), connections.get(), opsInFlight.get(), bufferedBytes.get(),
                opsCompleted.sum(), handshakes.sum(), handshakeFailures.sum(), bytesRead.sum(),
                bytesWritten.sum(), ringBytes.sum(), handshakesWaiting.getAsLong(), sessionsRefused.sum(),
                sessionsOverLimit.sum(), opensRefused.sum());
    }

    /**
     * A consistent-enough view for stats and tests.
     *
     * @param sessions IPC sessions open now
     * @param connections TLS connections held now (opening, open or awaiting the app's CLOSE)
     * @param opsInFlight operations not yet completed
     * @param bufferedBytes decrypted bytes waiting for a READ
     * @param opsCompleted operations completed since start
     * @param handshakes TLS handshakes completed since start
     * @param handshakeFailures TCP connects or TLS handshakes failed since start
     * @param bytesRead plaintext bytes delivered to applications
     * @param bytesWritten plaintext bytes written for applications
     * @param ringBytes plaintext bytes applications handed over through write rings (shared
     *     memory) rather than in frames, written or not
     * @param handshakesWaiting OPENs waiting now for a slot under {@code max_handshakes_in_flight}
     * @param sessionsRefused IPC sessions refused since start because the process was not among
     *     {@code allowed_peers}
     * @param sessionsOverLimit IPC sessions refused since start because {@code max_sessions}, or
     *     {@code max_sessions_per_uid} of their user, were open
     * @param opensRefused OPENs refused since start because their target is not among {@code
     *     allowed_targets}
     */
    public record Snapshot(long sessions, long connections, long opsInFlight, long bufferedBytes,
                           long opsCompleted, long handshakes, long handshakeFailures,
                           long bytesRead, long bytesWritten, long ringBytes, long handshakesWaiting,
                           long sessionsRefused, long sessionsOverLimit, long opensRefused) {
    }
}
