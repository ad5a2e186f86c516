package io.tlsd.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.ResourceLeakDetector;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Properties;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.Extension;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Proves that {@link LeakCheck} is active in this module (auto-detected through
 * junit-platform.properties) and catches a leak. Every leak made here is taken out of the
 * recorder again, so this class itself passes its own leak check.
 */
class LeakCheckTest {

    @Test
    void isRegisteredForAutodetectionAndRunsAtParanoid() throws IOException {
        assertTrue(ServiceLoader.load(Extension.class).stream().anyMatch(provider -> provider.type() == LeakCheck.class));
        Properties junitConfig = new Properties();
        try (InputStream in = LeakCheckTest.class.getResourceAsStream("/junit-platform.properties")) {
            junitConfig.load(in);
        }
        assertEquals("true", junitConfig.getProperty("junit.jupiter.extensions.autodetection.enabled"));
        assertEquals(ResourceLeakDetector.Level.PARANOID, ResourceLeakDetector.getLevel());
    }

    @Test
    void recordsALeakedPooledBuffer() {
        leakPooledBuffer();
        List<LeakCheck.Report> leaks = awaitLeaks();
        assertEquals(1, leaks.size(), leaks::toString);
        assertEquals("ByteBuf", leaks.get(0).resourceType());
        // PARANOID records where the buffer was allocated; the report names the leaking method.
        assertTrue(leaks.get(0).records().contains("leakPooledBuffer"), leaks.get(0)::toString);
        assertEquals(List.of(), LeakCheck.detectLeaksNow(), "reports are handed out once");
    }

    @Test
    void releasedBuffersAreNotReported() {
        ByteBufAllocator.DEFAULT.directBuffer(64).writeLong(1).release();
        Unpooled.directBuffer(64).release();
        assertEquals(List.of(), LeakCheck.detectLeaksNow());
    }

    @Test
    void afterAllFailsTheClassWithTheLeakReport() {
        leakUnpooledBuffer();
        LeakCheck leakCheck = new LeakCheck();
        ExtensionContext context = contextNamed("LeakyTests");
        AssertionError failure = null;
        for (int attempt = 0; attempt < 20 && failure == null; attempt++) {
            try {
                leakCheck.afterAll(context);
            } catch (AssertionError e) {
                failure = e;
            }
        }
        if (failure == null) {
            fail("the leaked buffer was never reported");
        }
        assertTrue(failure.getMessage().contains("after LeakyTests"), failure.getMessage());
        assertTrue(failure.getMessage().contains("leakUnpooledBuffer"), failure.getMessage());
    }

    @Test
    void beforeAllAcceptsTheInstalledFactory() {
        new LeakCheck().beforeAll(contextNamed("AnyTests"));
    }

    // Separate methods so that no local variable of the test keeps the buffer reachable.
    private static void leakPooledBuffer() {
        PooledByteBufAllocator.DEFAULT.directBuffer(128).writeInt(42);
    }

    private static void leakUnpooledBuffer() {
        // Direct: Netty does not track unpooled heap buffers, the garbage collector frees them.
        Unpooled.directBuffer(128).writeInt(42);
    }

    /** Detection depends on the garbage collector, so give it a few tries. */
    private static List<LeakCheck.Report> awaitLeaks() {
        for (int attempt = 0; attempt < 20; attempt++) {
            List<LeakCheck.Report> leaks = LeakCheck.detectLeaksNow();
            if (!leaks.isEmpty()) {
                return leaks;
            }
        }
        return fail("the leaked buffer was never reported");
    }

    private static ExtensionContext contextNamed(String displayName) {
        return (ExtensionContext) Proxy.newProxyInstance(LeakCheckTest.class.getClassLoader(),
                new Class<?>[] {ExtensionContext.class}, (proxy, method, args) -> {
                    if (method.getName().equals("getDisplayName")) {
                        return displayName;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }
}
