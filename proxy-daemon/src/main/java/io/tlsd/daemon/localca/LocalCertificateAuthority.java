package io.tlsd.daemon.localca;

import io.tlsd.daemon.tls.KeyMaterial;
import java.io.IOException;
import java.io.StringWriter;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The embedded default of the server role: a private CA and a certificate for {@code localhost},
 * {@code 127.0.0.1} and {@code ::1}, kept in the state directory so that clients can trust the CA
 * once. Made on first use, reused after, and replaced when less than a week of validity is left.
 *
 * <p>Files (keys mode 0600): {@code ca.pem}, {@code ca.key}, {@code localhost.pem} (chain),
 * {@code localhost.key}.
 */
public final class LocalCertificateAuthority {
    private static final Duration CA_VALIDITY = Duration.ofDays(3650);
    private static final Duration LEAF_VALIDITY = Duration.ofDays(397);
    /** Before the daemon warns of a certificate expiring ({@code ExpiryWarnings.SOON}). */
    private static final Duration RENEW_BEFORE = Duration.ofDays(30);

    private final Path dir;

    private LocalCertificateAuthority(Path dir) {
        this.dir = dir;
    }

    /** The default state directory: {@code $XDG_STATE_HOME/tlsd} or {@code ~/.local/state/tlsd}. */
    public static Path defaultStateDir() {
        String xdg = System.getenv("XDG_STATE_HOME");
        if (xdg != null && !xdg.isEmpty()) {
            return Path.of(xdg, "tlsd");
        }
        return Path.of(System.getProperty("user.home"), ".local", "state", "tlsd");
    }

    /** Loads the CA and certificate in {@code stateDir}, making (or renewing) them as needed. */
    public static LocalCertificateAuthority open(Path stateDir) throws IOException {
        LocalCertificateAuthority ca = new LocalCertificateAuthority(stateDir);
        ca.ensure();
        return ca;
    }

    public Path caCertificate() {
        return dir.resolve("ca.pem");
    }

    public Path serverChain() {
        return dir.resolve("localhost.pem");
    }

    public Path serverKey() {
        return dir.resolve("localhost.key");
    }

    private void ensure() throws IOException {
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            if (!valid(caCertificate(), dir.resolve("ca.key"))) {
                KeyPair caKeys = newKeyPair();
                X509Certificate ca = sign(new X500Name("CN=tlsd local CA"), caKeys, new X500Name("CN=tlsd local CA"),
                        caKeys, CA_VALIDITY, true, List.of());
                writeKey(dir.resolve("ca.key"), caKeys);
                writePem(caCertificate(), ca);
                Files.deleteIfExists(serverChain()); // a new CA needs a new leaf
            }
            if (!valid(serverChain(), serverKey())) {
                KeyMaterial caMaterial = KeyMaterial.fromPem(caCertificate(), dir.resolve("ca.key"), null);
                KeyPair leafKeys = newKeyPair();
                X509Certificate leaf = sign(new X500Name("CN=localhost"), leafKeys,
                        new X500Name(caMaterial.leaf().getSubjectX500Principal().getName()),
                        new KeyPair(caMaterial.leaf().getPublicKey(), caMaterial.key()), LEAF_VALIDITY, false,
                        List.of(new GeneralName(GeneralName.dNSName, "localhost"),
                                new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
                                new GeneralName(GeneralName.iPAddress, "::1")));
                writeKey(serverKey(), leafKeys);
                writePem(serverChain(), leaf, caMaterial.leaf());
            }
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IOException("cannot make the local CA in " + dir + ": " + e.getMessage(), e);
        }
    }

    private static boolean valid(Path certFile, Path keyFile) {
        if (!Files.exists(certFile) || !Files.exists(keyFile)) {
            return false;
        }
        try {
            KeyMaterial m = KeyMaterial.fromPem(certFile, keyFile, null);
            return m.leaf().getNotAfter().toInstant().isAfter(Instant.now().plus(RENEW_BEFORE));
        } catch (IllegalArgumentException e) {
            return false; // damaged or mismatched: make new ones
        }
    }

    private static KeyPair newKeyPair() throws GeneralSecurityException {
        KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
        gen.initialize(new ECGenParameterSpec("secp256r1"));
        return gen.generateKeyPair();
    }

    private static X509Certificate sign(X500Name subject, KeyPair subjectKeys, X500Name issuer, KeyPair issuerKeys,
                                        Duration validity, boolean ca, List<GeneralName> names)
            throws GeneralSecurityException, OperatorCreationException, IOException {
        Instant now = Instant.now();
        JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
        X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(issuer,
                new BigInteger(128, new SecureRandom()), Date.from(now.minus(Duration.ofHours(1))),
                Date.from(now.plus(validity)), subject, subjectKeys.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(ca))
                .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(subjectKeys.getPublic()))
                .addExtension(Extension.authorityKeyIdentifier, false,
                        ext.createAuthorityKeyIdentifier(issuerKeys.getPublic()));
        if (ca) {
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        } else {
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                    .addExtension(Extension.subjectAlternativeName, false,
                            new GeneralNames(names.toArray(new GeneralName[0])));
        }
        return new JcaX509CertificateConverter().getCertificate(
                builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKeys.getPrivate())));
    }

    private static void writePem(Path file, Object... objects) throws IOException {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter pem = new JcaPEMWriter(text)) {
            for (Object o : objects) {
                pem.writeObject(o);
            }
        }
        replace(file, text.toString(), "rw-r--r--");
    }

    private static void writeKey(Path file, KeyPair keys) throws IOException {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter pem = new JcaPEMWriter(text)) {
            pem.writeObject(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(keys.getPrivate(), null));
        }
        replace(file, text.toString(), "rw-------");
    }

    /** Writes next to the target and renames, so a crash never leaves half a file. */
    private static void replace(Path file, String content, String mode) throws IOException {
        Path tmp = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(mode)));
        try (Writer out = Files.newBufferedWriter(tmp, StandardCharsets.US_ASCII)) {
            out.write(content);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
