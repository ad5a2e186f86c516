package io.tlsd.daemon.metrics;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The log lines that tell an operator without an alert on {@code
 * tlsd_certificate_expiry_timestamp_seconds} that a certificate the daemon presents has expired,
 * or expires within {@link #SOON}: peers refuse an expired certificate, and the daemon keeps
 * presenting it until renewed files and a SIGHUP replace it. Made from the expiry samples, so that
 * every certificate the metrics know of is covered.
 */
public final class ExpiryWarnings {
    /** How long before its expiry a certificate is warned of, as the alert the metric suggests. */
    public static final Duration SOON = Duration.ofDays(14);

    private static final String EXPIRY = DaemonMetrics.CERTIFICATE_EXPIRY;

    /**
     * One log line.
     *
     * @param expired an error (the certificate expired) rather than a warning
     */
    public record Warning(boolean expired, String message) {
    }

    private ExpiryWarnings() {
    }

    /**
     * The warnings for the certificate expiry samples among {@code samples}, in their order; one
     * per certificate, naming every place it is used (the daemon's client certificate is also
     * that of a tunnel with trust settings of its own).
     */
    public static List<Warning> of(List<Sample> samples, Instant now) {
        Map<String, List<String>> places = new LinkedHashMap<>();
        Map<String, Sample> certificates = new LinkedHashMap<>();
        for (Sample s : samples) {
            if (s.name().equals(EXPIRY)) {
                String id = s.labels().get("subject") + "#" + s.labels().get("serial");
                certificates.putIfAbsent(id, s);
                places.computeIfAbsent(id, k -> new ArrayList<>()).add(where(s.labels()));
            }
        }
        List<Warning> out = new ArrayList<>();
        for (Map.Entry<String, Sample> c : certificates.entrySet()) {
            Sample s = c.getValue();
            Instant notAfter = Instant.ofEpochSecond(s.value());
            String what = "certificate " + s.labels().get("subject") + " (" + String.join(", ", places.get(c.getKey()))
                    + ")";
            if (!notAfter.isAfter(now)) {
                out.add(new Warning(true, what + " expired at " + notAfter
                        + ": peers refuse it; renew its files, then send SIGHUP"));
            } else if (notAfter.isBefore(now.plus(SOON))) {
                long days = Duration.between(now, notAfter).toDays();
                out.add(new Warning(false, what + " expires at " + notAfter + ", in "
                        + (days == 0 ? "less than a day" : days == 1 ? "1 day" : days + " days")
                        + ": renew its files, then send SIGHUP"));
            }
        }
        return out;
    }

    /** "listener api", "tunnel sidecar", "the client certificate of tunnel out", "the client certificate" */
    private static String where(Map<String, String> labels) {
        String name = labels.get("name");
        switch (labels.get("use")) {
            case "listener":
                return "listener " + name;
            case "server_tunnel":
                return "tunnel " + name;
            case "client_tunnel":
                return "the client certificate of tunnel " + name;
            case "client":
                return "the client certificate";
            default:
                return labels.get("use") + (name.isEmpty() ? "" : " " + name);
        }
    }
}
