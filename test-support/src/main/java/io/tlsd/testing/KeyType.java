package io.tlsd.testing;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;

/**
 * The key algorithm of a certificate issued by {@link TestPki}.
 *
 * <p>{@link #EC_P256} is the default: it is fast to generate and is what a modern deployment
 * uses. {@link #RSA_2048} exists for tests that need the other signature family (RSA-PSS in
 * TLS 1.3), e.g. to check that key-type specific code paths work.
 *
 * <pre>{@code
 * Issued rsa = pki.issueServer(KeyType.RSA_2048, "localhost", "localhost", "127.0.0.1");
 * }</pre>
 */
public enum KeyType {
    /** ECDSA on NIST P-256 (secp256r1), certificates signed with SHA256withECDSA. */
    EC_P256,
    /** RSA with a 2048-bit modulus. */
    RSA_2048;

    KeyPair generate() {
        try {
            return switch (this) {
                case EC_P256 -> {
                    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
                    generator.initialize(new ECGenParameterSpec("secp256r1"));
                    yield generator.generateKeyPair();
                }
                case RSA_2048 -> {
                    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
                    generator.initialize(2048);
                    yield generator.generateKeyPair();
                }
            };
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK cannot generate " + this + " keys", e);
        }
    }
}
