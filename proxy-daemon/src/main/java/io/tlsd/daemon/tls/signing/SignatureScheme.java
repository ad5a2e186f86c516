package io.tlsd.daemon.tls.signing;

import java.security.GeneralSecurityException;
import java.security.NoSuchAlgorithmException;
import java.security.Signature;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;

/**
 * The TLS signature schemes (RFC 8446 section 4.2.3) a {@link KeySigner} may be asked for, with
 * the JCA algorithm that produces each. The code is what BoringSSL passes to a private-key method
 * ({@code SSL_SIGN_*} in BoringSSL and netty-tcnative are the same numbers).
 *
 * <p>What is signed is the whole message, not a digest: the hash is part of the scheme, as it is
 * for {@code SHA256withECDSA}.
 *
 * <pre>{@code
 * SignatureScheme scheme = SignatureScheme.forCode(0x0804);   // RSA_PSS_RSAE_SHA256
 * Signature jca = scheme.newSignature();                       // RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32
 * }</pre>
 */
public enum SignatureScheme {
    /** TLS 1.2 only (TLS 1.3 signs with RSA-PSS). */
    RSA_PKCS1_SHA1(0x0201, "RSA", "SHA1withRSA", null),
    RSA_PKCS1_SHA256(0x0401, "RSA", "SHA256withRSA", null),
    RSA_PKCS1_SHA384(0x0501, "RSA", "SHA384withRSA", null),
    RSA_PKCS1_SHA512(0x0601, "RSA", "SHA512withRSA", null),
    /** TLS 1.2 only. */
    ECDSA_SHA1(0x0203, "EC", "SHA1withECDSA", null),
    /** In TLS 1.3 only with a P-256 key; in TLS 1.2 ECDSA with SHA-256 on any curve. */
    ECDSA_SECP256R1_SHA256(0x0403, "EC", "SHA256withECDSA", null),
    ECDSA_SECP384R1_SHA384(0x0503, "EC", "SHA384withECDSA", null),
    ECDSA_SECP521R1_SHA512(0x0603, "EC", "SHA512withECDSA", null),
    /** RSA-PSS with an rsaEncryption key: MGF1 with the same hash, salt as long as the hash. */
    RSA_PSS_RSAE_SHA256(0x0804, "RSA", "RSASSA-PSS", pss("SHA-256", MGF1ParameterSpec.SHA256, 32)),
    RSA_PSS_RSAE_SHA384(0x0805, "RSA", "RSASSA-PSS", pss("SHA-384", MGF1ParameterSpec.SHA384, 48)),
    RSA_PSS_RSAE_SHA512(0x0806, "RSA", "RSASSA-PSS", pss("SHA-512", MGF1ParameterSpec.SHA512, 64)),
    ED25519(0x0807, "Ed25519", "Ed25519", null);

    private final int code;
    private final String keyAlgorithm;
    private final String jcaAlgorithm;
    private final PSSParameterSpec pss;

    SignatureScheme(int code, String keyAlgorithm, String jcaAlgorithm, PSSParameterSpec pss) {
        this.code = code;
        this.keyAlgorithm = keyAlgorithm;
        this.jcaAlgorithm = jcaAlgorithm;
        this.pss = pss;
    }

    private static PSSParameterSpec pss(String hash, MGF1ParameterSpec mgf, int saltBytes) {
        return new PSSParameterSpec(hash, "MGF1", mgf, saltBytes, PSSParameterSpec.TRAILER_FIELD_BC);
    }

    /** The scheme's code on the wire, e.g. 0x0804. */
    public int code() {
        return code;
    }

    /** The {@link KeyKind#algorithm()} of the keys that can sign with it: "RSA", "EC" or "Ed25519". */
    public String keyAlgorithm() {
        return keyAlgorithm;
    }

    /** The JCA {@link Signature} algorithm, e.g. "SHA256withECDSA" or "RSASSA-PSS". */
    public String jcaAlgorithm() {
        return jcaAlgorithm;
    }

    /** The scheme's TLS name, e.g. "rsa_pss_rsae_sha256". */
    public String tlsName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** A fresh, not yet initialised JCA signature configured for this scheme (PSS parameters set). */
    public Signature newSignature() throws GeneralSecurityException {
        Signature signature = Signature.getInstance(jcaAlgorithm);
        if (pss != null) {
            signature.setParameter(pss);
        }
        return signature;
    }

    /**
     * The scheme with this code.
     *
     * @throws NoSuchAlgorithmException for a code tlsd does not sign with (it names the code in hex)
     */
    public static SignatureScheme forCode(int code) throws NoSuchAlgorithmException {
        for (SignatureScheme scheme : values()) {
            if (scheme.code == code) {
                return scheme;
            }
        }
        throw new NoSuchAlgorithmException(String.format("unsupported TLS signature scheme 0x%04x", code));
    }
}
