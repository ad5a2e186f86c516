package io.tlsd.daemon.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.engine.DaemonCounters;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class DaemonMetricsTest {
    @Test
    void everyCounterOfTheSnapshotIsExportedWithItsValue() {
        DaemonCounters.Snapshot s = new DaemonCounters.Snapshot(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
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
}
