package io.tlsd.daemon.tls;

import io.tlsd.daemon.config.FileErrors;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.openssl.jcajce.JcePEMDecryptorProviderBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * A private key and its certificate chain, read from the files an operator has: PEM (PKCS#1,
 * PKCS#8, encrypted PKCS#8 or legacy encrypted PEM, with the passphrase in a file) or PKCS#12.
 * Lives only inside the daemon: nothing here is ever sent over the IPC socket.
 *
 * @param key the private key
 * @param chain leaf first
 */
public record KeyMaterial(PrivateKey key, List<X509Certificate> chain) {
    /** For PBES2 key decryption (AES-CBC with PKCS#7 padding), which the JDK's providers lack; not installed globally. */
    private static final Provider BOUNCY_CASTLE = new BouncyCastleProvider();

    public KeyMaterial {
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("no certificate");
        }
        chain = List.copyOf(chain);
        requireMatch(key, chain.get(0));
    }

    /** A key that is not the certificate's would only fail later, in every client's handshake. */
    private static void requireMatch(PrivateKey key, X509Certificate leaf) {
        String algorithm = switch (key.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "RSASSA-PSS" -> "RSASSA-PSS";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> null;
        };
        if (algorithm == null) {
            return; // nothing to probe with; the handshake will tell
        }
        byte[] probe = "tlsd key check".getBytes(StandardCharsets.US_ASCII);
        try {
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(leaf.getPublicKey());
            verifier.update(probe);
            if (verifier.verify(signature)) {
                return;
            }
        } catch (GeneralSecurityException | RuntimeException e) {
            // a key of another type than the certificate's lands here too
        }
        throw new IllegalArgumentException("the private key does not belong to the certificate "
                + leaf.getSubjectX500Principal().getName());
    }

    public X509Certificate leaf() {
        return chain.get(0);
    }

    /** Reads a PEM certificate chain and a PEM key; {@code passphraseFile} may be null. */
    public static KeyMaterial fromPem(Path certChain, Path keyFile, Path passphraseFile) {
        List<X509Certificate> chain = readCertificates(certChain);
        char[] passphrase = passphraseFile == null ? null : readPassphrase(passphraseFile);
        return new KeyMaterial(readKey(keyFile, passphrase), chain);
    }

    /** Reads the first key entry of a PKCS#12 file and its chain. */
    public static KeyMaterial fromPkcs12(Path file, Path passphraseFile) {
        char[] passphrase = passphraseFile == null ? new char[0] : readPassphrase(passphraseFile);
        try (InputStream in = Files.newInputStream(file)) {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(in, passphrase);
            for (Enumeration<String> aliases = store.aliases(); aliases.hasMoreElements(); ) {
                String alias = aliases.nextElement();
                if (store.isKeyEntry(alias)) {
                    Key key = store.getKey(alias, passphrase);
                    List<X509Certificate> chain = new ArrayList<>();
                    for (Certificate c : store.getCertificateChain(alias)) {
                        chain.add((X509Certificate) c);
                    }
                    return new KeyMaterial((PrivateKey) key, chain);
                }
            }
            throw new IllegalArgumentException(file + ": no private key entry in the PKCS#12 file");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read PKCS#12" + (e instanceof java.nio.file.FileSystemException
                    ? ": " + FileErrors.reason(e) : " (wrong passphrase?): " + e.getMessage()));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(file + ": cannot read PKCS#12: " + e.getMessage());
        }
    }

    static List<X509Certificate> readCertificates(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new IllegalArgumentException(file + ": no certificate found");
            }
            return out;
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + FileErrors.reason(e));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(file + ": not a PEM certificate: " + e.getMessage());
        }
    }

    private static char[] readPassphrase(Path file) {
        try {
            String s = Files.readString(file, StandardCharsets.UTF_8);
            return s.strip().toCharArray();
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read the passphrase file: " + FileErrors.reason(e));
        }
    }

    private static PrivateKey readKey(Path file, char[] passphrase) {
        JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
             PEMParser pem = new PEMParser(reader)) {
            for (Object o = pem.readObject(); o != null; o = pem.readObject()) {
                if (o instanceof PrivateKeyInfo info) {
                    return converter.getPrivateKey(info);
                }
                if (o instanceof PEMKeyPair pair) {
                    return converter.getKeyPair(pair).getPrivate();
                }
                if (o instanceof PKCS8EncryptedPrivateKeyInfo encrypted) {
                    requirePassphrase(file, passphrase);
                    return converter.getPrivateKey(encrypted.decryptPrivateKeyInfo(
                            new JceOpenSSLPKCS8DecryptorProviderBuilder().setProvider(BOUNCY_CASTLE).build(passphrase)));
                }
                if (o instanceof PEMEncryptedKeyPair encrypted) {
                    requirePassphrase(file, passphrase);
                    return converter.getKeyPair(encrypted.decryptKeyPair(
                            new JcePEMDecryptorProviderBuilder().setProvider(BOUNCY_CASTLE).build(passphrase))).getPrivate();
                }
            }
            throw new IllegalArgumentException(file + ": no private key found (expected PEM: PKCS#1 or PKCS#8)");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read the key: " + FileErrors.reason(e));
        } catch (OperatorCreationException | PKCSException e) {
            throw new IllegalArgumentException(file + ": cannot decrypt the key (wrong passphrase?): " + e.getMessage());
        }
    }

    private static void requirePassphrase(Path file, char[] passphrase) {
        if (passphrase == null) {
            throw new IllegalArgumentException(file + ": the key is encrypted; give its passphrase file");
        }
    }

    @Override
    public String toString() {
        return "KeyMaterial[" + leaf().getSubjectX500Principal().getName() + "]"; // never the key
    }
}
