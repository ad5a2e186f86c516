package io.tlsd.daemon.tls.signing;

import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import javax.crypto.Cipher;

/**
 * A {@link KeySigner} over a private key in this process, signing with the JDK's
 * {@link Signature} on an executor (by default the {@link SignerPool#shared() shared signer pool}).
 *
 * <p>Each operation makes its own {@code Signature} object: they are not thread-safe, and the
 * cost of creating one is small next to an RSA signature.
 *
 * <pre>{@code
 * KeySigner signer = JdkKeySigner.FACTORY.forKey(material.key(), material.leaf());
 * byte[] signature = signer.sign(0x0403, message).join();   // ecdsa_secp256r1_sha256
 * }</pre>
 */
public final class JdkKeySigner implements KeySigner {
    /** Signers on the {@link SignerPool#shared() shared pool}. */
    public static final Factory FACTORY =
            (key, leaf) -> new JdkKeySigner(key, KeyKind.of(leaf.getPublicKey()), SignerPool.shared());

    private final PrivateKey key;
    private final KeyKind kind;
    private final Executor executor;

    /**
     * @param key the private key
     * @param kind the key's kind, from its certificate ({@link KeyKind#of})
     * @param executor runs the operations; it may refuse them ({@link RejectedExecutionException})
     */
    public JdkKeySigner(PrivateKey key, KeyKind kind, Executor executor) {
        this.key = Objects.requireNonNull(key, "key == null");
        this.kind = Objects.requireNonNull(kind, "kind == null");
        this.executor = Objects.requireNonNull(executor, "executor == null");
    }

    /** A signer for {@code leaf}'s key on {@code executor}. */
    public static JdkKeySigner forKey(PrivateKey key, X509Certificate leaf, Executor executor) {
        return new JdkKeySigner(key, KeyKind.of(leaf.getPublicKey()), executor);
    }

    @Override
    public KeyKind keyKind() {
        return kind;
    }

    @Override
    public CompletableFuture<byte[]> sign(int signatureScheme, byte[] input) {
        return submit(() -> signNow(signatureScheme, input));
    }

    @Override
    public CompletableFuture<byte[]> decrypt(byte[] input) {
        return submit(() -> decryptNow(input));
    }

    /** Signs on the calling thread; what {@link #sign} runs on the executor. */
    public byte[] signNow(int signatureScheme, byte[] input) throws GeneralSecurityException {
        SignatureScheme scheme = SignatureScheme.forCode(signatureScheme);
        if (!scheme.keyAlgorithm().equals(kind.algorithm())) {
            throw new InvalidKeyException("cannot sign " + scheme.tlsName() + " with a " + kind + " key");
        }
        Signature signature = scheme.newSignature();
        signature.initSign(key);
        signature.update(input);
        return signature.sign();
    }

    /** Raw RSA decryption on the calling thread; what {@link #decrypt} runs on the executor. */
    public byte[] decryptNow(byte[] input) throws GeneralSecurityException {
        if (!kind.isRsa()) {
            throw new InvalidKeyException("cannot decrypt with a " + kind + " key");
        }
        // BoringSSL checks the PKCS#1 padding itself, in constant time; it wants the raw result.
        Cipher cipher = Cipher.getInstance("RSA/ECB/NoPadding");
        cipher.init(Cipher.DECRYPT_MODE, key);
        return cipher.doFinal(input);
    }

    private interface Operation {
        byte[] run() throws GeneralSecurityException;
    }

    private CompletableFuture<byte[]> submit(Operation operation) {
        CompletableFuture<byte[]> result = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                try {
                    result.complete(operation.run());
                } catch (GeneralSecurityException | RuntimeException e) {
                    result.completeExceptionally(e);
                }
            });
        } catch (RejectedExecutionException e) {
            result.completeExceptionally(e);
        }
        return result;
    }

    @Override
    public String toString() {
        return "JdkKeySigner[" + kind + "]"; // never the key
    }
}
