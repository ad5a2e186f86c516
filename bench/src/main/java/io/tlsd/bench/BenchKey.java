package io.tlsd.bench;

import java.io.IOException;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The server key types the benchmark compares, each as a self-signed certificate for 127.0.0.1
 * written as PEM files the daemon loads like an operator's.
 */
enum BenchKey {
    EC_P256("ec-p256", "SHA256withECDSA"),
    EC_P384("ec-p384", "SHA384withECDSA"),
    RSA_2048("rsa-2048", "SHA256withRSA"),
    RSA_3072("rsa-3072", "SHA256withRSA"),
    RSA_4096("rsa-4096", "SHA256withRSA");

    /** The PEM files of one generated key. */
    record Pem(Path certificate, Path key, X509Certificate x509) {
    }

    private final String label;
    private final String certificateSignature;

    BenchKey(String label, String certificateSignature) {
        this.label = label;
        this.certificateSignature = certificateSignature;
    }

    String label() {
        return label;
    }

    static BenchKey named(String label) {
        for (BenchKey key : values()) {
            if (key.label.equals(label)) {
                return key;
            }
        }
        throw new IllegalArgumentException("unknown key type '" + label + "' (ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096)");
    }

    /** Generates a key and a self-signed certificate for 127.0.0.1 into {@code dir}. */
    Pem generate(Path dir) throws IOException, GeneralSecurityException {
        KeyPair keys = keyPair();
        X500Name name = new X500Name("CN=tlsd bench " + label);
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(name,
                new BigInteger(64, new SecureRandom()), Date.from(now.minus(Duration.ofHours(1))),
                Date.from(now.plus(Duration.ofDays(1))), name, keys.getPublic());
        builder.addExtension(Extension.subjectAlternativeName, false,
                new GeneralNames(new GeneralName(GeneralName.iPAddress, "127.0.0.1")));
        X509Certificate certificate;
        try {
            certificate = new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder(certificateSignature).build(keys.getPrivate())));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
        Path cert = dir.resolve(label + ".pem");
        Path key = dir.resolve(label + "-key.pem");
        write(cert, certificate);
        write(key, new JcaPKCS8Generator(keys.getPrivate(), null));
        return new Pem(cert, key, certificate);
    }

    private KeyPair keyPair() throws GeneralSecurityException {
        KeyPairGenerator generator;
        switch (this) {
            case EC_P256, EC_P384 -> {
                generator = KeyPairGenerator.getInstance("EC");
                generator.initialize(new ECGenParameterSpec(this == EC_P256 ? "secp256r1" : "secp384r1"));
            }
            default -> {
                generator = KeyPairGenerator.getInstance("RSA");
                generator.initialize(Integer.parseInt(label.substring("rsa-".length())));
            }
        }
        return generator.generateKeyPair();
    }

    private static void write(Path file, Object pemObject) throws IOException {
        try (Writer out = Files.newBufferedWriter(file, StandardCharsets.US_ASCII);
             JcaPEMWriter pem = new JcaPEMWriter(out)) {
            pem.writeObject(pemObject);
        }
    }
}
