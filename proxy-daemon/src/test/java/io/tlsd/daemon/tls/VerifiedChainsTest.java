package io.tlsd.daemon.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.net.Socket;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the cache of verified chains reuses and what it does not: the JDK's verdict is asked again
 * for another host name, another chain, after a failure, after the TTL and outside a
 * certificate's validity period. The end-to-end checks (a name mismatch after a success with the
 * same chain still fails a real handshake) are in TlsConnectorTest.
 */
class VerifiedChainsTest {
    @TempDir
    static Path dir;
    static X509Certificate[] chain;
    static X509Certificate[] otherChain;

    @BeforeAll
    static void pki() throws Exception {
        TestPki pki = TestPki.create(dir);
        Issued a = pki.issueServer("a", "a.example");
        Issued b = pki.issueServer("b", "b.example");
        chain = KeyMaterial.readCertificates(a.certPem()).toArray(new X509Certificate[0]);
        otherChain = KeyMaterial.readCertificates(b.certPem()).toArray(new X509Certificate[0]);
    }

    /** Counts the verifications; fails those of hosts named "bad...". */
    static final class Counting extends X509ExtendedTrustManager {
        final AtomicInteger checks = new AtomicInteger();

        @Override
        public void checkServerTrusted(X509Certificate[] c, String authType, SSLEngine engine) throws CertificateException {
            checks.incrementAndGet();
            if (engine.getPeerHost().startsWith("bad")) {
                throw new CertificateException("no name matching " + engine.getPeerHost());
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String authType, Socket socket) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void checkServerTrusted(X509Certificate[] c, String authType) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void checkClientTrusted(X509Certificate[] c, String authType, SSLEngine engine) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void checkClientTrusted(X509Certificate[] c, String authType, Socket socket) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void checkClientTrusted(X509Certificate[] c, String authType) {
            throw new UnsupportedOperationException();
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    private static SSLEngine engineFor(String host) throws Exception {
        return javax.net.ssl.SSLContext.getDefault().createSSLEngine(host, 443);
    }

    @Test
    void aChainVerifiedForAHostIsReusedForThatHostOnly() throws Exception {
        Counting jdk = new Counting();
        AtomicLong nanos = new AtomicLong();
        long wall = chain[0].getNotBefore().getTime() + 1000;
        VerifiedChains cache = new VerifiedChains(jdk, nanos::get, () -> wall);
        cache.checkServerTrusted(chain, "UNKNOWN", engineFor("a.example"));
        cache.checkServerTrusted(chain, "UNKNOWN", engineFor("a.example"));
        assertEquals(1, jdk.checks.get());
        cache.checkServerTrusted(chain, "UNKNOWN", engineFor("other.example"));
        assertEquals(2, jdk.checks.get(), "another host name: verified again");
        cache.checkServerTrusted(otherChain, "UNKNOWN", engineFor("a.example"));
        assertEquals(3, jdk.checks.get(), "another chain: verified again");
        nanos.addAndGet(VerifiedChains.TTL.toNanos());
        cache.checkServerTrusted(chain, "UNKNOWN", engineFor("a.example"));
        assertEquals(4, jdk.checks.get(), "after the TTL: verified again");
    }

    @Test
    void aFailureIsNeverReused() throws Exception {
        Counting jdk = new Counting();
        VerifiedChains cache = new VerifiedChains(jdk, () -> 0, () -> chain[0].getNotBefore().getTime() + 1000);
        for (int i = 1; i <= 3; i++) {
            assertThrows(CertificateException.class, () -> cache.checkServerTrusted(chain, "UNKNOWN", engineFor("bad.example")));
            assertEquals(i, jdk.checks.get());
        }
        assertEquals(0, cache.size());
    }

    @Test
    void aCertificateOutsideItsValidityIsVerifiedAgain() throws Exception {
        Counting jdk = new Counting();
        AtomicLong wall = new AtomicLong(chain[0].getNotBefore().getTime() + 1000);
        VerifiedChains cache = new VerifiedChains(jdk, () -> 0, wall::get);
        cache.checkServerTrusted(chain, "UNKNOWN", engineFor("a.example"));
        wall.set(chain[0].getNotAfter().getTime() + 1);
        cache.checkServerTrusted(chain, "UNKNOWN", engineFor("a.example"));
        assertEquals(2, jdk.checks.get(), "the JDK is asked, and would say expired");
    }

    @Test
    void noVerdictOutlivesTheRevocationListsItWasReachedWith() throws Exception {
        Counting jdk = new Counting();
        long start = chain[0].getNotBefore().getTime() + 1000;
        AtomicLong wall = new AtomicLong(start);
        VerifiedChains cache = new VerifiedChains(jdk, () -> 0, wall::get, start + 60_000);
        cache.checkServerTrusted(chain, "UNKNOWN", engineFor("a.example"));
        cache.checkServerTrusted(chain, "UNKNOWN", engineFor("a.example"));
        assertEquals(1, jdk.checks.get());
        wall.set(start + 60_001); // a list's nextUpdate passed: the JDK decides again
        cache.checkServerTrusted(chain, "UNKNOWN", engineFor("a.example"));
        assertEquals(2, jdk.checks.get());
    }

    @Test
    void theCacheIsBounded() throws Exception {
        Counting jdk = new Counting();
        VerifiedChains cache = new VerifiedChains(jdk, () -> 0, () -> chain[0].getNotBefore().getTime() + 1000);
        for (int i = 0; i < VerifiedChains.MAX_ENTRIES + 10; i++) {
            cache.checkServerTrusted(chain, "UNKNOWN", engineFor("h" + i + ".example"));
        }
        assertEquals(10, cache.size());
    }
}
