package io.tlsd.testing;

import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * A leaf certificate issued by {@link TestPki}, both as PEM files (for openssl, gnutls, stunnel,
 * curl) and as JDK objects (for JSSE and Netty's {@code SslContextBuilder}).
 *
 * <pre>{@code
 * Issued server = pki.issueServer("localhost", "localhost", "127.0.0.1");
 * SslContextBuilder.forServer(server.privateKey(), server.chain());
 * List.of("gnutls-serv", "--x509certfile", server.chainPem().toString(), "--x509keyfile", server.keyPem().toString());
 * }</pre>
 *
 * <p>{@code openssl s_server -cert} reads only the first certificate of a file; to make it send
 * the chain, pass {@code certPem} with {@code -cert} and {@code caPem} with {@code -cert_chain}.
 *
 * @param certPem the leaf certificate alone, PEM
 * @param chainPem the leaf followed by the issuing CA certificate, PEM; what a server should send
 * @param keyPem the private key as unencrypted PKCS#8 PEM ({@code BEGIN PRIVATE KEY})
 * @param caPem the issuing CA certificate alone, PEM
 * @param certificate the leaf certificate
 * @param privateKey the leaf's private key
 * @param caCertificate the certificate of the CA that signed the leaf
 */
public record Issued(
        Path certPem,
        Path chainPem,
        Path keyPem,
        Path caPem,
        X509Certificate certificate,
        PrivateKey privateKey,
        X509Certificate caCertificate) {

    /** The leaf followed by its CA, the order a TLS peer sends them in. */
    public List<X509Certificate> chain() {
        return List.of(certificate, caCertificate);
    }
}
