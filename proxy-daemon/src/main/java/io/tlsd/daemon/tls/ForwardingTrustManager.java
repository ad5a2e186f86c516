package io.tlsd.daemon.tls;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A trust manager that has {@code delegate} check each chain, and then, for a chain it accepted,
 * checks what a subclass adds ({@link #accepted}); a subclass may also reword the delegate's
 * refusals ({@link #checking}). The base of the daemon's wrappers around the JDK's trust manager.
 */
abstract class ForwardingTrustManager extends X509ExtendedTrustManager {
    /** One of the delegate's checks. */
    interface Check {
        void run() throws CertificateException;
    }

    private final X509ExtendedTrustManager delegate;

    ForwardingTrustManager(X509ExtendedTrustManager delegate) {
        this.delegate = delegate;
    }

    /** Runs one of the delegate's checks; by default as it is. */
    void checking(Check check) throws CertificateException {
        check.run();
    }

    /**
     * After the delegate accepted {@code chain}: throws to refuse it after all.
     *
     * @param serverChain whether it is a server's chain (checked by a client), not a client's
     */
    void accepted(X509Certificate[] chain, boolean serverChain) throws CertificateException {
    }

    @Override
    public final void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checking(() -> delegate.checkClientTrusted(chain, authType, engine));
        accepted(chain, false);
    }

    @Override
    public final void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checking(() -> delegate.checkClientTrusted(chain, authType, socket));
        accepted(chain, false);
    }

    @Override
    public final void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checking(() -> delegate.checkClientTrusted(chain, authType));
        accepted(chain, false);
    }

    @Override
    public final void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checking(() -> delegate.checkServerTrusted(chain, authType, engine));
        accepted(chain, true);
    }

    @Override
    public final void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checking(() -> delegate.checkServerTrusted(chain, authType, socket));
        accepted(chain, true);
    }

    @Override
    public final void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checking(() -> delegate.checkServerTrusted(chain, authType));
        accepted(chain, true);
    }

    @Override
    public final X509Certificate[] getAcceptedIssuers() {
        return delegate.getAcceptedIssuers();
    }
}
