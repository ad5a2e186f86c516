package io.tlsd.daemon.tls.signing;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.concurrent.CompletableFuture;

/**
 * The private-key operations of one server certificate, asynchronous so that a slow key (RSA-4096,
 * a hardware module, a remote signing service) never holds up an event loop: the handshake waits
 * for the returned future while the loop keeps serving every other connection, and resumes on the
 * connection's own loop when it completes.
 *
 * <p>Only signatures and decryptions cross this interface; the key itself stays with the
 * implementation (and nothing of it ever reaches the IPC socket).
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>{@link #sign} and {@link #decrypt} are called on an event loop and must return at once;
 *       the work happens elsewhere. The future may complete on any thread.</li>
 *   <li>The future must complete, successfully or not. A signer that never answers leaves the
 *       client waiting until the listener's handshake timeout closes it.</li>
 *   <li>A failed future fails that one handshake (the client gets a TLS alert); say why in the
 *       exception, it is logged.</li>
 * </ul>
 *
 * <pre>{@code
 * KeySigner signer = new JdkKeySigner(material.key(), KeyKind.of(material.leaf().getPublicKey()), SignerPool.shared());
 * byte[] signature = signer.sign(SignatureScheme.ECDSA_SECP256R1_SHA256.code(), message).join();
 * }</pre>
 *
 * @see JdkKeySigner the implementation over a key in this process
 * @see SigningPolicy which keys use a signer at all
 */
public interface KeySigner {

    /** Makes the signer for one certificate; the plug-in point for hardware or remote signers. */
    @FunctionalInterface
    interface Factory {
        /**
         * @param key the private key as loaded from the operator's files (for a hardware module,
         *     possibly only a handle to it)
         * @param leaf the certificate it belongs to
         */
        KeySigner forKey(PrivateKey key, X509Certificate leaf);
    }

    /** The key this signer holds. */
    KeyKind keyKind();

    /**
     * Signs {@code input} with the key.
     *
     * @param signatureScheme the TLS SignatureScheme code (see {@link SignatureScheme}), e.g. 0x0804
     *     for rsa_pss_rsae_sha256
     * @param input the message to sign, not a digest: hashing is part of the scheme
     * @return the signature in the TLS encoding (DER for ECDSA)
     */
    CompletableFuture<byte[]> sign(int signatureScheme, byte[] input);

    /**
     * Raw RSA decryption (no padding removed) of a TLS 1.2 RSA key-exchange premaster secret. Only
     * reached with TLS 1.2 enabled, an RSA key, and a client that picks a non-forward-secret
     * cipher suite. The default refuses.
     */
    default CompletableFuture<byte[]> decrypt(byte[] input) {
        return CompletableFuture.failedFuture(new UnsupportedOperationException(
                "this " + keyKind() + " signer does not decrypt (RSA key exchange)"));
    }
}
