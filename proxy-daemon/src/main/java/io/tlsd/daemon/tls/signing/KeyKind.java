package io.tlsd.daemon.tls.signing;

import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.EdECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.util.Locale;
import java.util.Objects;

/**
 * The algorithm and size of a key: what decides how expensive its private-key operations are.
 * Taken from the certificate's public key, because a private key held by hardware may not tell.
 *
 * <pre>{@code
 * KeyKind kind = KeyKind.of(material.leaf().getPublicKey());   // e.g. RSA-4096 or EC-256
 * }</pre>
 *
 * @param algorithm "RSA", "EC" or "Ed25519" (the {@link SignatureScheme#keyAlgorithm()} names)
 * @param bits RSA modulus size, EC field size (256 for P-256), 255 for Ed25519
 */
public record KeyKind(String algorithm, int bits) {

    public KeyKind {
        Objects.requireNonNull(algorithm, "algorithm == null");
        if (bits <= 0) {
            throw new IllegalArgumentException("bits <= 0");
        }
    }

    public static KeyKind rsa(int bits) {
        return new KeyKind("RSA", bits);
    }

    public static KeyKind ec(int bits) {
        return new KeyKind("EC", bits);
    }

    /** @throws IllegalArgumentException for a key type TLS cannot sign with here (DSA, X25519, ...) */
    public static KeyKind of(PublicKey key) {
        if (key instanceof RSAPublicKey rsa) {
            return rsa(rsa.getModulus().bitLength());
        }
        if (key instanceof ECPublicKey ec) {
            return ec(ec.getParams().getCurve().getField().getFieldSize());
        }
        if (key instanceof EdECPublicKey ed && ed.getParams().getName().equalsIgnoreCase("Ed25519")) {
            return new KeyKind("Ed25519", 255);
        }
        throw new IllegalArgumentException("unsupported key type " + key.getAlgorithm()
                + " (tlsd signs with RSA, ECDSA and Ed25519 keys)");
    }

    public boolean isRsa() {
        return algorithm.equals("RSA");
    }

    /** e.g. "RSA-4096", "EC-256", "Ed25519". */
    @Override
    public String toString() {
        return algorithm.equals("Ed25519") ? algorithm : algorithm.toUpperCase(Locale.ROOT) + "-" + bits;
    }
}
