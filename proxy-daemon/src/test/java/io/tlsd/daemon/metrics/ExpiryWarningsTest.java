package io.tlsd.daemon.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ExpiryWarningsTest {
    private static final Instant NOW = Instant.parse("2026-11-30T12:00:00Z");

    private static Sample expiry(String use, String name, String subject, Instant notAfter) {
        return new Sample("tlsd_certificate_expiry_timestamp_seconds", Sample.GAUGE, "when",
                Map.of("use", use, "name", name, "subject", subject, "serial", "1"), notAfter.getEpochSecond());
    }

    @Test
    void anExpiredCertificateIsAnErrorOneExpiringWithinTwoWeeksAWarningTheOthersNothing() {
        List<Sample> samples = List.of(
                Sample.gauge("tlsd_sessions", "sessions", 3),
                expiry("listener", "api", "CN=api", NOW.minusSeconds(60)),
                expiry("server_tunnel", "sidecar", "CN=sidecar", NOW.plus(Duration.ofDays(3)).plusSeconds(5)),
                expiry("client_tunnel", "out", "CN=billing", NOW.plus(Duration.ofHours(5))),
                expiry("client", "", "CN=app", NOW.plus(Duration.ofDays(1)).plusSeconds(1)),
                expiry("client_tunnel", "partner", "CN=app", NOW.plus(Duration.ofDays(1)).plusSeconds(1)),
                expiry("listener", "later", "CN=later", NOW.plus(ExpiryWarnings.SOON).plusSeconds(1)));

        assertEquals(List.of(
                new ExpiryWarnings.Warning(true, "certificate CN=api (listener api) expired at 2026-11-30T11:59:00Z:"
                        + " peers refuse it; renew its files, then send SIGHUP"),
                new ExpiryWarnings.Warning(false, "certificate CN=sidecar (tunnel sidecar) expires at"
                        + " 2026-12-03T12:00:05Z, in 3 days: renew its files, then send SIGHUP"),
                new ExpiryWarnings.Warning(false, "certificate CN=billing (the client certificate of tunnel out)"
                        + " expires at 2026-11-30T17:00:00Z, in less than a day: renew its files, then send SIGHUP"),
                new ExpiryWarnings.Warning(false, "certificate CN=app (the client certificate, the client certificate of"
                        + " tunnel partner) expires at"
                        + " 2026-12-01T12:00:01Z, in 1 day: renew its files, then send SIGHUP")),
                ExpiryWarnings.of(samples, NOW));
    }
}
