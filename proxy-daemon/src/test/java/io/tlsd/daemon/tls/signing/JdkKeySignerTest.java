package io.tlsd.daemon.tls.signing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import javax.crypto.Cipher;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every scheme the signer maps is checked against an independently configured JCA verifier, so a
 * wrong hash, a wrong PSS salt length or a wrong MGF would fail here rather than in a handshake.
 */
class JdkKeySignerTest {
    private static final byte[] MESSAGE = ("TLS 1.3, server CertificateVerify" + "\0".repeat(64))
            .getBytes(StandardCharsets.US_ASCII);
    private static final Map<String, KeyPair> KEYS = new ConcurrentHashMap<>();
    private static SignerPool pool;

    @BeforeAll
    static void startPool() {
        pool = new SignerPool(2, 8);
    }

    @AfterAll
    static void stopPool() {
        pool.close();
    }

    private static KeyPair key(String kind) throws GeneralSecurityException {
        KeyPair cached = KEYS.get(kind);
        if (cached != null) {
            return cached;
        }
        KeyPairGenerator generator;
        switch (kind) {
            case "EC-256", "EC-384", "EC-521" -> {
                generator = KeyPairGenerator.getInstance("EC");
                generator.initialize(new ECGenParameterSpec("secp" + kind.substring(3) + "r1"));
            }
            case "RSA-2048" -> {
                generator = KeyPairGenerator.getInstance("RSA");
                generator.initialize(2048);
            }
            case "Ed25519" -> generator = KeyPairGenerator.getInstance("Ed25519");
            default -> throw new IllegalArgumentException(kind);
        }
        KeyPair keys = generator.generateKeyPair();
        KEYS.put(kind, keys);
        return keys;
    }

    private static JdkKeySigner signer(KeyPair keys, Executor executor) {
        return new JdkKeySigner(keys.getPrivate(), KeyKind.of(keys.getPublic()), executor);
    }

    /** The verifier is spelled out here, not taken from {@link SignatureScheme}. */
    private static Signature verifier(String jca, String pssHash, int saltBytes) throws GeneralSecurityException {
        Signature verifier = Signature.getInstance(jca);
        if (pssHash != null) {
            MGF1ParameterSpec mgf = new MGF1ParameterSpec(pssHash);
            verifier.setParameter(new PSSParameterSpec(pssHash, "MGF1", mgf, saltBytes, 1));
        }
        return verifier;
    }

    @ParameterizedTest(name = "0x{0} with {1} verifies as {2}")
    @CsvSource({
        "0403, EC-256,   SHA256withECDSA, ,        0",
        "0503, EC-384,   SHA384withECDSA, ,        0",
        "0603, EC-521,   SHA512withECDSA, ,        0",
        "0203, EC-256,   SHA1withECDSA,   ,        0",
        "0804, RSA-2048, RSASSA-PSS,      SHA-256, 32",
        "0805, RSA-2048, RSASSA-PSS,      SHA-384, 48",
        "0806, RSA-2048, RSASSA-PSS,      SHA-512, 64",
        "0401, RSA-2048, SHA256withRSA,   ,        0",
        "0501, RSA-2048, SHA384withRSA,   ,        0",
        "0601, RSA-2048, SHA512withRSA,   ,        0",
        "0201, RSA-2048, SHA1withRSA,     ,        0",
        "0807, Ed25519,  Ed25519,         ,        0",
    })
    void signsEverySchemeVerifiablyWithThePublicKey(String code, String kind, String jca, String pssHash, int salt)
            throws Exception {
        KeyPair keys = key(kind);
        JdkKeySigner signer = signer(keys, pool);
        byte[] signature = signer.sign(Integer.parseInt(code, 16), MESSAGE).get(10, TimeUnit.SECONDS);

        Signature verifier = verifier(jca, pssHash, salt);
        verifier.initVerify(keys.getPublic());
        verifier.update(MESSAGE);
        assertTrue(verifier.verify(signature), "signature of 0x" + code + " does not verify as " + jca);

        byte[] tampered = MESSAGE.clone();
        tampered[0] ^= 1;
        verifier.initVerify(keys.getPublic());
        verifier.update(tampered);
        assertFalse(verifier.verify(signature), "the input is signed as given, not pre-hashed or ignored");
    }

    @Test
    void pssUsesASaltAsLongAsTheHash() throws Exception {
        KeyPair keys = key("RSA-2048");
        byte[] signature = signer(keys, pool).sign(0x0804, MESSAGE).get(10, TimeUnit.SECONDS);
        Signature wrongSalt = verifier("RSASSA-PSS", "SHA-256", 20);
        wrongSalt.initVerify(keys.getPublic());
        wrongSalt.update(MESSAGE);
        assertFalse(wrongSalt.verify(signature), "TLS 1.3 requires salt length = hash length (RFC 8446 4.2.3)");
    }

    @Test
    void runsOnTheExecutorNotTheCaller() throws Exception {
        KeyPair keys = key("EC-256");
        Map<String, Boolean> threads = new ConcurrentHashMap<>();
        Executor recording = task -> pool.execute(() -> {
            threads.put(Thread.currentThread().getName(), Thread.currentThread().isDaemon());
            task.run();
        });
        signer(keys, recording).sign(0x0403, MESSAGE).get(10, TimeUnit.SECONDS);
        assertEquals(1, threads.size(), threads.toString());
        String name = threads.keySet().iterator().next();
        assertTrue(name.matches("tlsd-signer-[12]"), name);
        assertTrue(threads.get(name), "signer threads are daemon threads");
    }

    @Test
    void refusesASchemeOfAnotherKeyFamily() throws Exception {
        CompletableFuture<byte[]> pssWithEc = signer(key("EC-256"), pool).sign(0x0804, MESSAGE);
        ExecutionException e = assertThrows(ExecutionException.class, () -> pssWithEc.get(10, TimeUnit.SECONDS));
        assertInstanceOf(InvalidKeyException.class, e.getCause());
        assertEquals("cannot sign rsa_pss_rsae_sha256 with a EC-256 key", e.getCause().getMessage());
    }

    @Test
    void refusesAnUnknownScheme() throws Exception {
        CompletableFuture<byte[]> unknown = signer(key("EC-256"), pool).sign(0xfe01, MESSAGE);
        ExecutionException e = assertThrows(ExecutionException.class, () -> unknown.get(10, TimeUnit.SECONDS));
        assertInstanceOf(NoSuchAlgorithmException.class, e.getCause());
        assertEquals("unsupported TLS signature scheme 0xfe01", e.getCause().getMessage());
    }

    @Test
    void failsFastWhenThePoolIsSaturated() throws Exception {
        KeyPair keys = key("EC-256");
        CountDownLatch release = new CountDownLatch(1);
        try (SignerPool tiny = new SignerPool(1, 1)) {
            tiny.execute(() -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            JdkKeySigner signer = signer(keys, tiny);
            CompletableFuture<byte[]> queued = signer.sign(0x0403, MESSAGE);
            CompletableFuture<byte[]> refused = signer.sign(0x0403, MESSAGE);
            assertTrue(refused.isCompletedExceptionally(), "refused at once, not queued");
            ExecutionException e = assertThrows(ExecutionException.class, refused::get);
            assertInstanceOf(RejectedExecutionException.class, e.getCause());
            assertEquals("the signer pool is saturated (1 operations waiting)", e.getCause().getMessage());
            release.countDown();
            assertTrue(queued.get(10, TimeUnit.SECONDS).length > 0);
        }
    }

    @Test
    void decryptsRawRsaForTls12KeyExchange() throws Exception {
        KeyPair keys = key("RSA-2048");
        byte[] premaster = new byte[48];
        Arrays.fill(premaster, (byte) 0x33);
        premaster[0] = 0x03;
        premaster[1] = 0x03;
        Cipher encrypt = Cipher.getInstance("RSA/ECB/PKCS1Padding");
        encrypt.init(Cipher.ENCRYPT_MODE, keys.getPublic());
        byte[] encrypted = encrypt.doFinal(premaster);

        byte[] raw = signer(keys, pool).decrypt(encrypted).get(10, TimeUnit.SECONDS);
        // BoringSSL removes the padding itself: it wants the whole block, 0x00 0x02 ... 0x00 premaster.
        assertEquals(256, raw.length);
        assertEquals(0x00, raw[0]);
        assertEquals(0x02, raw[1]);
        assertEquals(0x00, raw[256 - 49]);
        assertArrayEquals(premaster, Arrays.copyOfRange(raw, 256 - 48, 256));
    }

    @Test
    void anEcKeyDoesNotDecrypt() throws Exception {
        CompletableFuture<byte[]> decrypt = signer(key("EC-256"), pool).decrypt(new byte[32]);
        ExecutionException e = assertThrows(ExecutionException.class, () -> decrypt.get(10, TimeUnit.SECONDS));
        assertEquals("cannot decrypt with a EC-256 key", e.getCause().getMessage());
    }

    @Test
    void neverPrintsTheKey() throws Exception {
        assertEquals("JdkKeySigner[RSA-2048]", signer(key("RSA-2048"), pool).toString());
    }

    @Test
    void describesKeysByTheirCertificatesPublicKey() throws Exception {
        assertEquals(KeyKind.ec(256), KeyKind.of(key("EC-256").getPublic()));
        assertEquals(KeyKind.ec(521), KeyKind.of(key("EC-521").getPublic()));
        assertEquals(KeyKind.rsa(2048), KeyKind.of(key("RSA-2048").getPublic()));
        assertEquals(new KeyKind("Ed25519", 255), KeyKind.of(key("Ed25519").getPublic()));
        assertEquals("RSA-2048", KeyKind.rsa(2048).toString());
    }
}
