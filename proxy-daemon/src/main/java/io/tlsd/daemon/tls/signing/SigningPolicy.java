package io.tlsd.daemon.tls.signing;

import java.security.PrivateKey;
import java.util.Locale;
import java.util.Objects;

/**
 * Where the private-key operation of a TLS handshake runs, per certificate:
 *
 * <ul>
 *   <li>{@link Placement#ON_LOOP on the loop}: BoringSSL holds the key and signs inside the
 *       handshake call, on the event loop that also serves established connections. Cheapest in
 *       CPU; every other connection of that loop waits for the signature.</li>
 *   <li>{@link Placement#OFF_LOOP off the loop}: the key stays in Java; the handshake pauses
 *       (netty-tcnative's asynchronous private-key method) while a {@link KeySigner} signs on the
 *       {@link SignerPool signer threads}, and resumes on its own loop. The loop keeps serving
 *       others meanwhile; the signature itself costs more CPU (JDK instead of BoringSSL).</li>
 * </ul>
 *
 * <p>{@link Mode#AUTO} (the default) chooses per key by what {@code docs/key-operations.md}
 * measured: keys whose signature is small next to the rest of a handshake's work on the loop
 * (ECDSA P-256, Ed25519) stay on the loop; RSA from {@value #AUTO_RSA_OFF_LOOP_BITS} bits and
 * ECDSA on curves larger than P-256 go off it, as do keys BoringSSL cannot hold (a hardware key
 * whose encoding is not available).
 *
 * <pre>{@code
 * SigningPolicy policy = SigningPolicy.parse("auto");
 * SigningPolicy hsm = SigningPolicy.of(Mode.OFF_LOOP).withSigners((key, leaf) -> new MyHsmSigner(leaf));
 * }</pre>
 */
public final class SigningPolicy {
    /**
     * RSA keys of at least this many bits are signed off the loop in {@link Mode#AUTO}. Measured:
     * during a handshake burst, RSA-2048 on the loop took established connections' p99 from 8 to
     * about 40 ms (docs/key-operations.md).
     */
    public static final int AUTO_RSA_OFF_LOOP_BITS = 2048;

    /** ECDSA keys on larger curves than this are signed off the loop in {@link Mode#AUTO}. */
    public static final int AUTO_EC_ON_LOOP_MAX_BITS = 256;

    /** What the operator chose. */
    public enum Mode {
        ON_LOOP, OFF_LOOP, AUTO;

        /** "on-loop", "off-loop", "auto": the spelling in configuration. */
        public String configName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    /** Where one certificate's key operations run. */
    public enum Placement { ON_LOOP, OFF_LOOP }

    private static final SigningPolicy AUTO = new SigningPolicy(Mode.AUTO, JdkKeySigner.FACTORY);

    private final Mode mode;
    private final KeySigner.Factory signers;

    private SigningPolicy(Mode mode, KeySigner.Factory signers) {
        this.mode = Objects.requireNonNull(mode, "mode == null");
        this.signers = Objects.requireNonNull(signers, "signers == null");
    }

    /** The default: {@link Mode#AUTO} with JDK signers on the shared pool. */
    public static SigningPolicy auto() {
        return AUTO;
    }

    /** {@code mode} with JDK signers on the {@link SignerPool#shared() shared pool}. */
    public static SigningPolicy of(Mode mode) {
        return mode == Mode.AUTO ? AUTO : new SigningPolicy(mode, JdkKeySigner.FACTORY);
    }

    /**
     * Parses "on-loop", "off-loop" or "auto".
     *
     * @throws IllegalArgumentException naming the accepted values
     */
    public static SigningPolicy parse(String name) {
        for (Mode mode : Mode.values()) {
            if (mode.configName().equals(name)) {
                return of(mode);
            }
        }
        throw new IllegalArgumentException("unknown signing mode '" + name + "' (on-loop, off-loop, auto)");
    }

    /** The same mode, with off-loop keys signed by what {@code signers} makes (an HSM, say). */
    public SigningPolicy withSigners(KeySigner.Factory signers) {
        return new SigningPolicy(mode, signers);
    }

    public Mode mode() {
        return mode;
    }

    /** Makes the signer of an off-loop key. */
    public KeySigner.Factory signers() {
        return signers;
    }

    /**
     * Where the operations of this key run.
     *
     * @param kind the key's kind, from its certificate
     * @param key the private key; one without an encoding (a hardware key) cannot be handed to
     *     BoringSSL and always goes off the loop
     */
    public Placement placementFor(KeyKind kind, PrivateKey key) {
        if (key.getEncoded() == null) {
            return Placement.OFF_LOOP;
        }
        return switch (mode) {
            case ON_LOOP -> Placement.ON_LOOP;
            case OFF_LOOP -> Placement.OFF_LOOP;
            case AUTO -> autoPlacement(kind);
        };
    }

    /** What {@link Mode#AUTO} chooses for a key BoringSSL can hold. */
    public static Placement autoPlacement(KeyKind kind) {
        boolean expensive = switch (kind.algorithm()) {
            case "RSA" -> kind.bits() >= AUTO_RSA_OFF_LOOP_BITS;
            case "EC" -> kind.bits() > AUTO_EC_ON_LOOP_MAX_BITS;
            default -> false; // Ed25519: about as cheap as P-256
        };
        return expensive ? Placement.OFF_LOOP : Placement.ON_LOOP;
    }

    @Override
    public String toString() {
        return "SigningPolicy[" + mode.configName() + (signers == JdkKeySigner.FACTORY ? "" : ", custom signers") + "]";
    }
}
