package io.tlsd.daemon.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Signature;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every key format an operator may have, written by the openssl command line tool. */
class KeyMaterialTest {
    @TempDir
    static Path dir;
    static Path cert;
    static Path passphrase;

    static void openssl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("openssl"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
    }

    @BeforeAll
    static void keys() throws Exception {
        openssl("genrsa", "-traditional", "-out", "pkcs1.pem", "2048");
        openssl("req", "-x509", "-key", "pkcs1.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=localhost");
        openssl("pkcs8", "-topk8", "-nocrypt", "-in", "pkcs1.pem", "-out", "pkcs8.pem");
        Files.writeString(dir.resolve("pass.txt"), "s3cret\n");
        openssl("pkcs8", "-topk8", "-in", "pkcs1.pem", "-out", "pkcs8-enc.pem", "-passout", "file:pass.txt");
        openssl("pkcs12", "-export", "-in", "cert.pem", "-inkey", "pkcs1.pem", "-out", "bundle.p12",
                "-passout", "file:pass.txt");
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec-sec1.pem");
        openssl("req", "-x509", "-key", "ec-sec1.pem", "-out", "ec-cert.pem", "-days", "1", "-subj", "/CN=ec");
        cert = dir.resolve("cert.pem");
        passphrase = dir.resolve("pass.txt");
    }

    /** The key really belongs to the certificate: a signature verifies with its public key. */
    private static void assertMatches(KeyMaterial m) throws Exception {
        String alg = m.key().getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
        Signature s = Signature.getInstance(alg);
        s.initSign(m.key());
        s.update(new byte[] {1, 2, 3});
        byte[] sig = s.sign();
        Signature v = Signature.getInstance(alg);
        v.initVerify(m.leaf().getPublicKey());
        v.update(new byte[] {1, 2, 3});
        assertTrue(v.verify(sig));
    }

    @Test
    void pkcs1() throws Exception {
        assertMatches(KeyMaterial.fromPem(cert, dir.resolve("pkcs1.pem"), null));
    }

    @Test
    void pkcs8() throws Exception {
        assertMatches(KeyMaterial.fromPem(cert, dir.resolve("pkcs8.pem"), null));
    }

    @Test
    void encryptedPkcs8WithPassphraseFile() throws Exception {
        assertMatches(KeyMaterial.fromPem(cert, dir.resolve("pkcs8-enc.pem"), passphrase));
    }

    @Test
    void ecSec1() throws Exception {
        assertMatches(KeyMaterial.fromPem(dir.resolve("ec-cert.pem"), dir.resolve("ec-sec1.pem"), null));
    }

    @Test
    void pkcs12() throws Exception {
        assertMatches(KeyMaterial.fromPkcs12(dir.resolve("bundle.p12"), passphrase));
    }

    @Test
    void encryptedKeyWithoutPassphraseSaysSo() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KeyMaterial.fromPem(cert, dir.resolve("pkcs8-enc.pem"), null));
        assertTrue(e.getMessage().contains("encrypted"), e.getMessage());
    }

    @Test
    void wrongPassphraseSaysSo() throws Exception {
        Path wrong = Files.writeString(dir.resolve("wrong.txt"), "nope");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KeyMaterial.fromPem(cert, dir.resolve("pkcs8-enc.pem"), wrong));
        assertTrue(e.getMessage().contains("passphrase"), e.getMessage());
    }

    @Test
    void toStringNeverShowsTheKey() {
        KeyMaterial m = KeyMaterial.fromPem(cert, dir.resolve("pkcs8.pem"), null);
        assertEquals("KeyMaterial[CN=localhost]", m.toString());
    }
}
