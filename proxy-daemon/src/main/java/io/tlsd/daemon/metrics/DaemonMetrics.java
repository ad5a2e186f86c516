package io.tlsd.daemon.metrics;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.tls.ServerTlsContexts;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The daemon-wide counters as metrics, each under a name and type chosen for it. */
public final class DaemonMetrics {
    private DaemonMetrics() {
    }

    /** One sample per component of {@code s}, in its order. */
    public static List<Sample> of(DaemonCounters.Snapshot s) {
        return List.of(
                Sample.gauge("tlsd_sessions", "IPC sessions open (applications connected)", s.sessions()),
                Sample.gauge("tlsd_connections",
                        "TLS connections held for applications: opening, open, or awaiting their CLOSE", s.connections()),
                Sample.gauge("tlsd_ops_in_flight", "operations submitted and not completed", s.opsInFlight()),
                Sample.gauge("tlsd_buffered_bytes", "decrypted bytes waiting for a READ", s.bufferedBytes()),
                Sample.counter("tlsd_ops_completed_total", "operations completed", s.opsCompleted()),
                Sample.counter("tlsd_handshakes_total",
                        "TLS handshakes completed for applications: OPENs, and clients handed to an ACCEPT",
                        s.handshakes()),
                Sample.counter("tlsd_handshake_failures_total", "OPENs whose TCP connect or TLS handshake failed",
                        s.handshakeFailures()),
                Sample.counter("tlsd_read_bytes_total", "plaintext bytes delivered to applications", s.bytesRead()),
                Sample.counter("tlsd_written_bytes_total", "plaintext bytes written for applications",
                        s.bytesWritten()),
                Sample.counter("tlsd_ring_bytes_total",
                        "plaintext bytes applications handed over in shared-memory write rings", s.ringBytes()),
                Sample.gauge("tlsd_handshakes_waiting",
                        "OPENs waiting for a slot under max_handshakes_in_flight", s.handshakesWaiting()),
                Sample.counter("tlsd_sessions_refused_total",
                        "IPC sessions refused because the process was not among allowed_peers", s.sessionsRefused()),
                Sample.counter("tlsd_sessions_over_limit_total",
                        "IPC sessions refused because max_sessions, or max_sessions_per_uid of their user, were open", s.sessionsOverLimit()),
                Sample.counter("tlsd_opens_refused_total",
                        "OPENs refused because their target was not among allowed_targets", s.opensRefused()));
    }

    /**
     * The direct memory {@code allocator} holds: its buffers in use and the chunks it keeps for
     * reuse (a pooling allocator does not hand its chunks back at once); 0 for an allocator that
     * does not tell.
     */
    public static Sample bufferPool(ByteBufAllocator allocator) {
        long bytes = allocator instanceof ByteBufAllocatorMetricProvider provider
                ? provider.metric().usedDirectMemory() : 0;
        return Sample.gauge("tlsd_buffer_pool_bytes",
                "direct memory (outside the Java heap) of the daemon's buffer pool: buffers in use and chunks kept"
                        + " for reuse", bytes);
    }

    /** A sample with one label, e.g. {@code tlsd_tunnel_connections{tunnel="db"}}. */
    public static Sample labelled(String name, String type, String help, String label, String value, long sample) {
        return new Sample(name, type, help, Map.of(label, value), sample);
    }

    /**
     * One series per issuer of {@code crls}: when its lists stop being current (the latest {@code
     * nextUpdate} among them), in seconds since the epoch. Past it the daemon refuses that issuer's
     * certificates ({@link io.tlsd.daemon.tls.RevocationLists}). Lists without a nextUpdate are left out.
     *
     * @param use "client", "client_tunnel", "listener" or "server_tunnel"
     * @param name the tunnel's or listener's name; empty for the client role's own lists
     */
    public static List<Sample> revocationListsCurrentUntil(String use, String name, List<X509CRL> crls) {
        Map<String, Long> latest = new TreeMap<>();
        for (X509CRL crl : crls) {
            if (crl.getNextUpdate() != null) {
                latest.merge(crl.getIssuerX500Principal().getName(), crl.getNextUpdate().getTime() / 1000, Math::max);
            }
        }
        List<Sample> out = new ArrayList<>();
        latest.forEach((issuer, seconds) -> {
            Map<String, String> labels = new LinkedHashMap<>();
            labels.put("use", use);
            labels.put("name", name);
            labels.put("issuer", issuer);
            out.add(new Sample("tlsd_crl_next_update_timestamp_seconds", Sample.GAUGE,
                    "when the revocation lists of an issuer that peers are checked against stop being current (their"
                            + " latest nextUpdate), in seconds since the epoch; past it that issuer's certificates are"
                            + " refused; read again on SIGHUP", labels, seconds));
        });
        return out;
    }

    /** The name of {@link #certificateExpiry}'s samples. */
    public static final String CERTIFICATE_EXPIRY = "tlsd_certificate_expiry_timestamp_seconds";

    /**
     * When a certificate in use expires, as a Unix time (seconds), for an alert such as {@code
     * tlsd_certificate_expiry_timestamp_seconds - time() < 14 * 86400}.
     *
     * @param use "listener", "server_tunnel" (served to clients), "client" (the daemon's client
     *     certificate) or "client_tunnel" (a tunnel's own client certificate)
     * @param name the listener's or tunnel's name; empty for the daemon's client certificate
     * @param leaf the certificate; its subject and serial number (hex) label the sample, so that two
     *     certificates of one subject (an ECDSA and an RSA one, say) are two series
     */
    public static Sample certificateExpiry(String use, String name, X509Certificate leaf) {
        return new Sample(CERTIFICATE_EXPIRY, Sample.GAUGE,
                "when a certificate the daemon presents expires (its notAfter), in seconds since the epoch; read again"
                        + " on SIGHUP", certificateLabels(use, name, leaf), leaf.getNotAfter().getTime() / 1000);
    }

    /**
     * When the OCSP response of a served certificate ({@code ocsp_file}, or the last fetched with
     * {@code ocsp_fetch}) stops being current (its nextUpdate, else a day after its thisUpdate), in
     * seconds since the epoch, labelled as {@link #certificateExpiry}. A value in the past: the
     * daemon sends none (0: none fetched yet).
     */
    public static Sample ocspNextUpdate(String use, String name, X509Certificate leaf, Instant currentUntil) {
        return new Sample("tlsd_ocsp_next_update_timestamp_seconds", Sample.GAUGE,
                "when the OCSP response of a served certificate stops being current (its nextUpdate), in seconds since"
                        + " the epoch; past it none is stapled; read again on SIGHUP, or fetched (0: none yet)",
                certificateLabels(use, name, leaf), currentUntil.getEpochSecond());
    }

    /**
     * A served certificate's OCSP samples: {@link #ocspNextUpdate}, and with {@code ocsp_fetch}
     * the fetches that failed so far, labelled alike.
     */
    public static List<Sample> ocsp(String use, String name, ServerTlsContexts.Stapled stapled) {
        List<Sample> out = new ArrayList<>();
        out.add(ocspNextUpdate(use, name, stapled.leaf(), stapled.currentUntil().get()));
        if (stapled.fetchFailures() != null) {
            out.add(new Sample("tlsd_ocsp_fetch_failures_total", Sample.COUNTER,
                    "fetches of a served certificate's OCSP response (ocsp_fetch) that failed: no answer in time, an"
                            + " HTTP error, an answer that does not check or says unknown",
                    certificateLabels(use, name, stapled.leaf()), stapled.fetchFailures().getAsLong()));
        }
        return out;
    }

    private static Map<String, String> certificateLabels(String use, String name, X509Certificate leaf) {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("use", use);
        labels.put("name", name);
        labels.put("subject", leaf.getSubjectX500Principal().getName());
        labels.put("serial", leaf.getSerialNumber().toString(16));
        return labels;
    }
}
