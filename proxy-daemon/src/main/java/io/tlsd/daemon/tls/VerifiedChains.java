package io.tlsd.daemon.tls;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A server-certificate trust manager that remembers, for a while, the chains it has verified:
 * a chain (the exact bytes the server sent) that passed the JDK's path validation and host name
 * check for a host name passes again, without either, until {@link #TTL} has passed or a
 * certificate of the chain is no longer within its validity period.
 *
 * <p>Why: the client role verifies every server's chain in Java (BoringSSL calls back for it),
 * and in a storm of new connections to one server that validation was half of the handshake
 * loop's Java time, for the same answer each time (docs/benchmarks.md). What is not cached: the
 * handshake's own signature ({@code CertificateVerify}), which proves that the server holds the
 * key; BoringSSL checks it in every handshake. A failure is never cached. Revocation is checked
 * only against the lists of a CRL file ({@link RevocationLists}); a verdict is then reused for up
 * to {@link #TTL} as well, and a reload, which reads the file again, starts a new instance with
 * no verdicts.
 *
 * <p>The key is the chain, the authentication type and the engine's peer host, which for the
 * client role's engines is also the name sent as SNI and checked against the certificate (their
 * endpoint identification is {@code HTTPS}; for a tunnel with {@code allowed_servers} it is off,
 * and that list, checked after this cache on every handshake, stands in for it).
 *
 * <p>Thread safety: any thread.
 */
final class VerifiedChains extends X509ExtendedTrustManager {
    /** How long a verification is reused. */
    static final Duration TTL = Duration.ofMinutes(5);
    /** Entries at most; when full, the cache starts over. */
    static final int MAX_ENTRIES = 4096;

    private final X509ExtendedTrustManager delegate;
    private final LongSupplier nanoTime;
    private final LongSupplier wallMillis;
    /** The earliest nextUpdate of the revocation lists the delegate checks against; MAX_VALUE for none. */
    private final long listsCurrentUntilMillis;
    private final ConcurrentHashMap<Key, Verified> verified = new ConcurrentHashMap<>();

    /**
     * @param nanoTime a monotonic clock, for {@link #TTL}
     * @param wallMillis the time of day, for the certificates' validity periods
     */
    VerifiedChains(X509ExtendedTrustManager delegate, LongSupplier nanoTime, LongSupplier wallMillis) {
        this(delegate, nanoTime, wallMillis, Long.MAX_VALUE);
    }

    /**
     * @param listsCurrentUntilMillis when the first of the revocation lists {@code delegate}
     *     checks against stops being current (epoch milliseconds): no verdict is reused past it
     */
    VerifiedChains(X509ExtendedTrustManager delegate, LongSupplier nanoTime, LongSupplier wallMillis,
                   long listsCurrentUntilMillis) {
        this.delegate = delegate;
        this.nanoTime = nanoTime;
        this.wallMillis = wallMillis;
        this.listsCurrentUntilMillis = listsCurrentUntilMillis;
    }

    /** The JDK's trust manager over {@code anchors}, or over the JDK's trust store when null. */
    static VerifiedChains over(List<X509Certificate> anchors) throws GeneralSecurityException, IOException {
        return over(anchors, null, null);
    }

    /**
     * The JDK's trust manager over {@code anchors} (the JDK's trust store when null) that also
     * checks the server's chain against {@code crls}, read from {@code crlFile}, when they are not null.
     */
    static VerifiedChains over(List<X509Certificate> anchors, List<X509CRL> crls, Path crlFile)
            throws GeneralSecurityException, IOException {
        KeyStore store = null;
        if (anchors != null) {
            store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            for (int i = 0; i < anchors.size(); i++) {
                store.setCertificateEntry("anchor-" + i, anchors.get(i));
            }
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(store);
        X509ExtendedTrustManager jdk = RevocationLists.x509(factory);
        if (crls == null) {
            return new VerifiedChains(jdk, System::nanoTime, System::currentTimeMillis);
        }
        List<X509Certificate> trusted = anchors != null ? anchors : List.of(jdk.getAcceptedIssuers());
        return new VerifiedChains(RevocationLists.trustManager(trusted, crls, crlFile), System::nanoTime,
                System::currentTimeMillis, RevocationLists.currentUntilMillis(crls));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        Key key = Key.of(chain, authType, engine == null ? null : engine.getPeerHost());
        long now = nanoTime.getAsLong();
        Verified v = verified.get(key);
        if (v != null && now - v.atNanos < TTL.toNanos()) {
            long wallNow = wallMillis.getAsLong();
            if (wallNow >= v.notBeforeMillis && wallNow <= v.notAfterMillis) {
                return;
            }
        }
        delegate.checkServerTrusted(chain, authType, engine); // throws if not trusted
        if (verified.size() >= MAX_ENTRIES) {
            verified.clear();
        }
        verified.put(key, Verified.of(chain, now, listsCurrentUntilMillis));
    }

    /** Entries now; for tests. */
    int size() {
        return verified.size();
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        delegate.checkServerTrusted(chain, authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        delegate.checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        delegate.checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        delegate.checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        delegate.checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return delegate.getAcceptedIssuers();
    }

    /** A SHA-256 of the chain's bytes, the key exchange's authentication type and the host name. */
    private record Key(byte[] digest) {
        /** One per handshake thread: no provider lookup per handshake; {@code digest()} resets it. */
        private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
            try {
                return MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        });

        static Key of(X509Certificate[] chain, String authType, String host) throws CertificateException {
            MessageDigest sha256 = SHA256.get();
            sha256.reset(); // in case an earlier key stopped half-way (an encoding failure)
            try {
                for (X509Certificate cert : chain) {
                    byte[] der = cert.getEncoded();
                    sha256.update(length(der.length));
                    sha256.update(der);
                }
            } catch (CertificateEncodingException e) {
                throw new CertificateException(e);
            }
            for (String s : new String[] {authType, host}) {
                byte[] bytes = s == null ? new byte[0] : s.getBytes(StandardCharsets.UTF_8);
                sha256.update(length(s == null ? -1 : bytes.length));
                sha256.update(bytes);
            }
            return new Key(sha256.digest());
        }

        private static byte[] length(int n) {
            return new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n};
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && Arrays.equals(digest, k.digest);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(digest);
        }
    }

    /** When a chain was verified, and the period in which all of its certificates are valid. */
    private record Verified(long atNanos, long notBeforeMillis, long notAfterMillis) {
        static Verified of(X509Certificate[] chain, long atNanos, long listsCurrentUntilMillis) {
            long notBefore = Long.MIN_VALUE;
            long notAfter = listsCurrentUntilMillis;
            for (X509Certificate cert : chain) {
                notBefore = Math.max(notBefore, cert.getNotBefore().getTime());
                notAfter = Math.min(notAfter, cert.getNotAfter().getTime());
            }
            return new Verified(atNanos, notBefore, notAfter);
        }
    }
}
