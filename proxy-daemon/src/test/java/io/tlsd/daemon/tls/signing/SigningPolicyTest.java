package io.tlsd.daemon.tls.signing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tlsd.daemon.tls.signing.SigningPolicy.Mode;
import io.tlsd.daemon.tls.signing.SigningPolicy.Placement;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.spec.ECGenParameterSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SigningPolicyTest {
    private static PrivateKey softwareKey;

    /** What a PKCS#11 key looks like to Java: no encoding, so BoringSSL cannot be given it. */
    private static final PrivateKey HARDWARE_KEY = new PrivateKey() {
        @Override
        public String getAlgorithm() {
            return "RSA";
        }

        @Override
        public String getFormat() {
            return null;
        }

        @Override
        public byte[] getEncoded() {
            return null;
        }
    };

    @BeforeAll
    static void key() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        softwareKey = generator.generateKeyPair().getPrivate();
    }

    @Test
    void autoKeepsCheapSignaturesOnTheLoopAndMovesExpensiveOnesOff() {
        SigningPolicy auto = SigningPolicy.auto();
        // what docs/key-operations.md measured
        assertEquals(Placement.ON_LOOP, auto.placementFor(KeyKind.ec(256), softwareKey));
        assertEquals(Placement.OFF_LOOP, auto.placementFor(KeyKind.ec(384), softwareKey));
        assertEquals(Placement.OFF_LOOP, auto.placementFor(KeyKind.rsa(2048), softwareKey));
        assertEquals(Placement.OFF_LOOP, auto.placementFor(KeyKind.rsa(3072), softwareKey));
        assertEquals(Placement.OFF_LOOP, auto.placementFor(KeyKind.rsa(4096), softwareKey));
        // not measured; placed by the cost of their signatures
        assertEquals(Placement.ON_LOOP, auto.placementFor(new KeyKind("Ed25519", 255), softwareKey));
        assertEquals(Placement.OFF_LOOP, auto.placementFor(KeyKind.ec(521), softwareKey));
        assertEquals(Placement.ON_LOOP, auto.placementFor(KeyKind.rsa(1024), softwareKey));
    }

    @Test
    void explicitModesApplyToEveryKey() {
        assertEquals(Placement.ON_LOOP, SigningPolicy.of(Mode.ON_LOOP).placementFor(KeyKind.rsa(4096), softwareKey));
        assertEquals(Placement.OFF_LOOP, SigningPolicy.of(Mode.OFF_LOOP).placementFor(KeyKind.ec(256), softwareKey));
    }

    @Test
    void aKeyBoringSslCannotHoldAlwaysGoesOffTheLoop() {
        for (Mode mode : Mode.values()) {
            assertEquals(Placement.OFF_LOOP, SigningPolicy.of(mode).placementFor(KeyKind.rsa(2048), HARDWARE_KEY),
                    mode.configName());
        }
    }

    @Test
    void parsesTheConfigurationNames() {
        assertEquals(Mode.ON_LOOP, SigningPolicy.parse("on-loop").mode());
        assertEquals(Mode.OFF_LOOP, SigningPolicy.parse("off-loop").mode());
        assertSame(SigningPolicy.auto(), SigningPolicy.parse("auto"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SigningPolicy.parse("ON_LOOP"));
        assertEquals("unknown signing mode 'ON_LOOP' (on-loop, off-loop, auto)", e.getMessage());
    }

    @Test
    void customSignersKeepTheMode() {
        KeySigner.Factory hsm = (key, leaf) -> {
            throw new UnsupportedOperationException();
        };
        SigningPolicy policy = SigningPolicy.of(Mode.OFF_LOOP).withSigners(hsm);
        assertEquals(Mode.OFF_LOOP, policy.mode());
        assertSame(hsm, policy.signers());
        assertEquals("SigningPolicy[off-loop, custom signers]", policy.toString());
    }
}
