package io.tlsd.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import io.netty.util.ResourceLeakTracker;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A JUnit 5 extension that runs Netty's leak detector at {@code PARANOID} and fails every test
 * class that leaked a reference-counted object (a {@code ByteBuf}, an {@code SslContext}, ...).
 *
 * <p>Netty on its own only logs leaks, and only when the garbage collector happens to run while
 * the leaking code still allocates, so leaks slip through green builds. This extension records
 * every report, forces collection after each test class and fails the class with the reports.
 * Reports are still logged as usual.
 *
 * <h2>Enabling it</h2>
 * This jar registers the extension for JUnit's auto-detection. A module turns auto-detection on in
 * {@code src/test/resources/junit-platform.properties}:
 * <pre>
 * junit.jupiter.extensions.autodetection.enabled=true
 * </pre>
 * Auto-detection is the supported way: it instantiates the extension before any test class is
 * initialised, which is what lets it replace Netty's detectors (see below). Registering it with
 * {@code @ExtendWith} works only if nothing in the JVM touched Netty's buffers earlier; otherwise
 * {@code beforeAll} fails and says so.
 *
 * <h2>Scope</h2>
 * A leak is detected only after its object was garbage collected, so a report may surface in the
 * class after the one that leaked; the report's stack traces name the code. Identical leaks are
 * reported once per JVM (Netty de-duplicates them).
 *
 * <pre>{@code
 * // Asserting on leaks in a test instead of failing the class:
 * List<LeakCheck.Report> leaks = LeakCheck.detectLeaksNow(); // also forgets them
 * }</pre>
 */
public final class LeakCheck implements BeforeAllCallback, AfterAllCallback {
    private static final List<Report> REPORTS = new CopyOnWriteArrayList<>();
    private static final Set<RecordingDetector<?>> DETECTORS = ConcurrentHashMap.newKeySet();
    private static final int DETECTION_ROUNDS = 3;

    static {
        // Netty asks the factory once per resource type, when that type's class is initialised,
        // and keeps the detector in a static final field (AbstractByteBuf.leakDetector): a factory
        // installed after that never sees those objects. JUnit instantiates auto-detected
        // extensions before it initialises any test class, so a static initializer here runs
        // before test code can touch a ByteBuf.
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new RecordingFactory());
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }

    /** A leak Netty reported: the leaked resource type and its access records (may be empty). */
    public record Report(String resourceType, String records) {
        @Override
        public String toString() {
            return "LEAK: " + resourceType + (records.isEmpty() ? " (no access records)" : records);
        }
    }

    /** Public for JUnit's ServiceLoader-based auto-detection. */
    public LeakCheck() {
    }

    /**
     * Fails when Netty's buffers were initialised before this class, since their leaks would then
     * go to a detector this extension cannot see.
     */
    @Override
    public void beforeAll(ExtensionContext context) {
        // Initialising AbstractByteBuf makes Netty ask the (by now installed) factory for the
        // ByteBuf detector, unless an earlier initialisation already asked Netty's default one.
        ByteBufAllocator.DEFAULT.buffer(1).release();
        boolean seesByteBufs = DETECTORS.stream().anyMatch(detector -> detector.resource == ByteBuf.class);
        if (!seesByteBufs) {
            throw new IllegalStateException("LeakCheck was loaded after Netty created its ByteBuf leak detector, so "
                    + "leaks cannot be recorded. Enable junit.jupiter.extensions.autodetection.enabled=true in "
                    + "src/test/resources/junit-platform.properties instead of using @ExtendWith.");
        }
    }

    /** Forces leak detection and fails the test class with every leak found. */
    @Override
    public void afterAll(ExtensionContext context) {
        List<Report> leaks = detectLeaksNow();
        if (!leaks.isEmpty()) {
            StringBuilder message = new StringBuilder()
                    .append(leaks.size()).append(" Netty resource leak(s) detected after ")
                    .append(context.getDisplayName())
                    .append(" (possibly leaked by an earlier class in this JVM):");
            leaks.forEach(leak -> message.append("\n\n").append(leak));
            throw new AssertionError(message);
        }
    }

    /**
     * Runs the garbage collector, makes every detector look for collected leaks, and returns the
     * leaks reported since the last call, forgetting them.
     */
    public static List<Report> detectLeaksNow() {
        for (int round = 0; round < DETECTION_ROUNDS; round++) {
            System.gc();
            try {
                // Collected objects reach the detectors' reference queues via the JVM's
                // reference handler thread, shortly after the collection.
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            // A detector polls its queue only when it tracks a new object.
            DETECTORS.forEach(RecordingDetector::poll);
            allocateAndRelease(PooledByteBufAllocator.DEFAULT);
            allocateAndRelease(UnpooledByteBufAllocator.DEFAULT);
        }
        List<Report> taken = new ArrayList<>(REPORTS);
        REPORTS.removeAll(taken);
        return taken;
    }

    private static void allocateAndRelease(ByteBufAllocator allocator) {
        allocator.heapBuffer(16).release();
        allocator.directBuffer(16).release();
    }

    /** Creates detectors that record their reports, and remembers them so they can be polled. */
    private static final class RecordingFactory extends ResourceLeakDetectorFactory {
        @Override
        @SuppressWarnings("deprecation") // the abstract method Netty's factory API requires
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(
                Class<T> resource, int samplingInterval, long maxActive) {
            RecordingDetector<T> detector = new RecordingDetector<>(resource, samplingInterval);
            DETECTORS.add(detector);
            return detector;
        }
    }

    private static final class RecordingDetector<T> extends ResourceLeakDetector<T> {
        private final Class<T> resource;

        RecordingDetector(Class<T> resource, int samplingInterval) {
            super(resource, samplingInterval);
            this.resource = resource;
        }

        @Override
        protected boolean needReport() {
            // Netty skips reporting when its logger has ERROR disabled; recording must not depend
            // on the logging setup of the module under test.
            return true;
        }

        @Override
        protected void reportTracedLeak(String resourceType, String records) {
            REPORTS.add(new Report(resourceType, records));
            super.reportTracedLeak(resourceType, records);
        }

        @Override
        protected void reportUntracedLeak(String resourceType) {
            REPORTS.add(new Report(resourceType, ""));
            super.reportUntracedLeak(resourceType);
        }

        @SuppressWarnings("unchecked")
        void poll() {
            // Tracking a throwaway object runs the detector's queue check; the object is
            // released at once so it never shows up as a leak itself. The cast is safe because
            // the detector only keeps a weak reference and an identity hash of it.
            T probe = (T) new Object();
            ResourceLeakTracker<T> tracker = trackForcibly(probe);
            if (tracker != null) {
                tracker.close(probe);
            }
        }
    }
}
