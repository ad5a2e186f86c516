package io.tlsd.daemon.tunnel;

import io.netty.channel.Channel;
import io.netty.handler.ssl.CipherSuiteConverter;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslHandler;
import io.netty.internal.tcnative.SSL;
import io.tlsd.daemon.transport.ProxyProtocolIn;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * What {@link ServerTunnel} tells its backend about a client in a PROXY protocol v2 header
 * (encoded by {@link ProxyHeaderEncoder}).
 *
 * @param source the client's address, or null if not an IP socket (sent as UNSPEC)
 * @param destination the address the client connected to, or null
 * @param alpn the negotiated application protocol, or null (PP2_TYPE_ALPN)
 * @param authority the server name the client asked for (SNI), or null (PP2_TYPE_AUTHORITY)
 * @param tls the TLS details (PP2_TYPE_SSL)
 */
record ProxyHeader(InetSocketAddress source, InetSocketAddress destination, String alpn, String authority, Tls tls) {

    /**
     * The PP2_TYPE_SSL contents.
     *
     * @param version e.g. "TLSv1.3" (PP2_SUBTYPE_SSL_VERSION)
     * @param cipher the cipher suite's OpenSSL name, e.g. "TLS_AES_128_GCM_SHA256" (PP2_SUBTYPE_SSL_CIPHER)
     * @param clientCommonName the CN of the client certificate's subject, or null (PP2_SUBTYPE_SSL_CN)
     * @param certificateOnConnection the client sent a certificate in this handshake (PP2_CLIENT_CERT_CONN)
     * @param certificateInSession the session has a client certificate, sent now or when it
     *     began (PP2_CLIENT_CERT_SESS). A handshake only succeeds once the certificate verified,
     *     so this also decides the verify field: 0 when true, 1 (not verified) otherwise.
     */
    record Tls(String version, String cipher, String clientCommonName,
               boolean certificateOnConnection, boolean certificateInSession) {
    }

    /** Describes the client of {@code channel}, whose handshake {@code tls} has completed. */
    static ProxyHeader of(Channel channel, SslHandler tls) {
        SSLEngine engine = tls.engine();
        SSLSession session = engine.getSession();
        X509Certificate clientCert = clientCertificate(session);
        boolean resumed = isResumed(engine);
        String cipher = CipherSuiteConverter.toOpenSsl(session.getCipherSuite(), false);
        return new ProxyHeader(
                inet(ProxyProtocolIn.clientOf(channel)),
                inet(ProxyProtocolIn.destinationOf(channel)),
                tls.applicationProtocol(),
                requestedServerName(session),
                new Tls(session.getProtocol(),
                        cipher != null ? cipher : session.getCipherSuite(),
                        clientCert == null ? null : commonName(clientCert),
                        clientCert != null && !resumed,
                        clientCert != null));
    }

    private static boolean isResumed(SSLEngine engine) {
        if (engine instanceof ReferenceCountedOpenSslEngine openssl) {
            long ssl = openssl.sslPointer(); // 0 once the engine shut down, e.g. after a close_notify
            return ssl != 0 && SSL.isSessionReused(ssl);
        }
        return false; // the JDK does not say; a resumed session then counts as a new certificate
    }

    private static InetSocketAddress inet(SocketAddress address) {
        return address instanceof InetSocketAddress inet ? inet : null;
    }

    private static X509Certificate clientCertificate(SSLSession session) {
        try {
            Certificate[] chain = session.getPeerCertificates();
            return chain.length > 0 && chain[0] instanceof X509Certificate leaf ? leaf : null;
        } catch (SSLPeerUnverifiedException e) {
            return null; // the client sent none
        }
    }

    private static String requestedServerName(SSLSession session) {
        if (session instanceof ExtendedSSLSession extended) {
            for (SNIServerName name : extended.getRequestedServerNames()) {
                if (name instanceof SNIHostName host) {
                    return host.getAsciiName();
                }
            }
        }
        return null;
    }

    /** The most specific CN of the subject, or null if it has none. */
    static String commonName(X509Certificate certificate) {
        try {
            List<Rdn> rdns = new LdapName(certificate.getSubjectX500Principal().getName()).getRdns();
            String cn = null;
            for (Rdn rdn : rdns) { // least specific first
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    cn = String.valueOf(rdn.getValue());
                }
            }
            return cn;
        } catch (InvalidNameException e) {
            return null; // the JDK printed a name it cannot parse back; send no CN
        }
    }
}
