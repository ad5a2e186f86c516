package io.tlsd.daemon.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.testing.TestPki;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DaemonMetricsTest {
    @Test
    void everyCounterOfTheSnapshotIsExportedWithItsValue() {
        DaemonCounters.Snapshot s = new DaemonCounters.Snapshot(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
        List<Sample> samples = DaemonMetrics.of(s);
        assertEquals(DaemonCounters.Snapshot.class.getRecordComponents().length, samples.size(),
                "a counter added to the snapshot needs its metric");
        for (int i = 0; i < samples.size(); i++) {
            assertEquals(i + 1, samples.get(i).value(), samples.get(i).name());
        }
        assertEquals(samples.size(), new HashSet<>(samples.stream().map(Sample::name).toList()).size());
        for (Sample sample : samples) {
            assertEquals(sample.type().equals(Sample.COUNTER), sample.name().endsWith("_total"), sample.name());
            assertTrue(sample.name().startsWith("tlsd_"), sample.name());
        }
    }

    @Test
    void aCertificatesExpiryIsItsNotAfterInUnixSeconds(@TempDir Path dir) {
        X509Certificate leaf = TestPki.create(dir).issueServer("api.test", "api.test").certificate();
        Sample sample = DaemonMetrics.certificateExpiry("listener", "web", leaf);
        assertEquals("tlsd_certificate_expiry_timestamp_seconds", sample.name());
        assertEquals(Sample.GAUGE, sample.type());
        assertEquals(Map.of("use", "listener", "name", "web", "subject", leaf.getSubjectX500Principal().getName(),
                "serial", leaf.getSerialNumber().toString(16)), sample.labels());
        assertEquals(leaf.getNotAfter().toInstant().getEpochSecond(), sample.value());
        assertEquals(List.of("use", "name", "subject", "serial"), List.copyOf(sample.labels().keySet()), "in this order");
    }
}
