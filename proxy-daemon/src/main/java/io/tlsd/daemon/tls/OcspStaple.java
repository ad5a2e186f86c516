package io.tlsd.daemon.tls;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.cert.CertException;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.bouncycastle.cert.ocsp.BasicOCSPResp;
import org.bouncycastle.cert.ocsp.CertificateStatus;
import org.bouncycastle.cert.ocsp.OCSPException;
import org.bouncycastle.cert.ocsp.OCSPResp;
import org.bouncycastle.cert.ocsp.RevokedStatus;
import org.bouncycastle.cert.ocsp.SingleResp;
import org.bouncycastle.operator.DigestCalculatorProvider;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;

/**
 * A served certificate's OCSP response, to staple to the handshakes that present the certificate:
 * read from a file ({@code ocsp_file}: DER, as {@code openssl ocsp -respout} writes it, or as a
 * CA's responder answers), as HAProxy's {@code .ocsp} files and nginx's {@code
 * ssl_stapling_file}, which whatever renews the file follows with SIGHUP; or fetched from the
 * certificate's OCSP responder ({@code ocsp_fetch}, {@link OcspFetcher}).
 *
 * <p>Checked when read: a successful response of at most {@link #MAX_BYTES}, its outer structure
 * in DER and nothing after it (it is stapled as it is), signed by the certificate's issuer (the
 * next certificate of its chain file) or by a responder certificate, valid now, that the issuer
 * made for OCSP signing, about this certificate, saying "good". One that says "revoked" or
 * "unknown" ({@link NotGood}), or is about another certificate, or whose signature does not
 * verify, is an error naming where it came from. One that is not current ({@link #current}) is not stapled,
 * since clients would refuse it.
 *
 * @param der the response as sent in the handshake
 * @param thisUpdate when the responder vouched for the certificate
 * @param currentUntil its {@code nextUpdate}; for a response without one, a day after {@code
 *     thisUpdate}
 */
public record OcspStaple(byte[] der, Instant thisUpdate, Instant currentUntil) {
    /**
     * The largest response taken (each is sent in every handshake that staples it): a few hundred
     * bytes, 1–2 KiB with a responder certificate, is usual.
     */
    static final int MAX_BYTES = 16 * 1024;
    /** How far ahead of this machine's clock a responder's may be. */
    static final Duration CLOCK_SKEW = Duration.ofMinutes(5);
    /** How long a response that gives no nextUpdate is taken as current. */
    private static final Duration WITHOUT_NEXT_UPDATE = Duration.ofDays(1);

    /** Whether clients would take the response as current at {@code now}. */
    public boolean current(Instant now) {
        return !thisUpdate.isAfter(now.plus(CLOCK_SKEW)) && now.isBefore(currentUntil);
    }

    /** A response, signed as it should be, about the certificate, that does not say "good". */
    public static final class NotGood extends IllegalArgumentException {
        private final boolean revoked;
        private final Instant thisUpdate;

        NotGood(String message, boolean revoked, Instant thisUpdate) {
            super(message);
            this.revoked = revoked;
            this.thisUpdate = thisUpdate;
        }

        /** When the responder said it. */
        public Instant thisUpdate() {
            return thisUpdate;
        }

        /** Whether it says "revoked" (else "unknown": the responder does not know the certificate). */
        public boolean revoked() {
            return revoked;
        }
    }

    /**
     * Reads and checks the response in {@code file} for {@code chain}'s leaf, whose issuer must
     * be the chain's next certificate.
     *
     * @throws IllegalArgumentException naming the file and what is wrong
     */
    public static OcspStaple read(Path file, List<X509Certificate> chain) {
        X509Certificate issuer = issuer(file.toString(), chain);
        byte[] der;
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new IllegalArgumentException(file + ": over " + MAX_BYTES / 1024 + " KiB, more than a response"
                        + " sent in every handshake should be");
            }
            der = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("cannot read " + file + ": no such file");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage());
        }
        return parse(der, file.toString(), chain.get(0), issuer);
    }

    /**
     * The issuer of {@code chain}'s leaf, the chain's next certificate, which checking a response
     * needs.
     *
     * @throws IllegalArgumentException starting with {@code where} if the chain does not have it
     */
    static X509Certificate issuer(String where, List<X509Certificate> chain) {
        if (chain.size() < 2) {
            throw new IllegalArgumentException(where + ": checking an OCSP response needs the issuer's certificate"
                    + " after the certificate in its chain file");
        }
        X509Certificate leaf = chain.get(0);
        X509Certificate issuer = chain.get(1);
        if (!leaf.getIssuerX500Principal().equals(issuer.getSubjectX500Principal())) {
            throw new IllegalArgumentException(where + ": the certificate after "
                    + leaf.getSubjectX500Principal().getName() + " in its chain file is not its issuer, which checking"
                    + " an OCSP response needs");
        }
        return issuer;
    }

    /**
     * Checks {@code der}, a response from {@code source} (a file, a responder's URL), about {@code
     * leaf}, which {@code issuer} issued.
     *
     * @throws NotGood if it says the certificate is revoked or unknown
     * @throws IllegalArgumentException starting with {@code source}, saying what is wrong
     */
    static OcspStaple parse(byte[] der, String source, X509Certificate leaf, X509Certificate issuer) {
        if (der.length > MAX_BYTES) {
            throw new IllegalArgumentException(source + ": over " + MAX_BYTES / 1024 + " KiB, more than a response"
                    + " sent in every handshake should be");
        }
        try {
            OCSPResp response = new OCSPResp(der);
            if (!Arrays.equals(der, response.getEncoded())) {
                // the bytes are stapled as they are: what a strict client would refuse is refused here
                throw new IllegalArgumentException(source + ": bytes after the response, or an encoding other than"
                        + " DER");
            }
            if (response.getStatus() != OCSPResp.SUCCESSFUL) {
                throw new IllegalArgumentException(source + ": the OCSP responder did not answer (status "
                        + response.getStatus() + ")");
            }
            if (!(response.getResponseObject() instanceof BasicOCSPResp basic)) {
                throw new IllegalArgumentException(source + ": not a basic OCSP response");
            }
            X509CertificateHolder issuerHolder = new JcaX509CertificateHolder(issuer);
            if (!signedByIssuer(basic, issuerHolder)) {
                throw new IllegalArgumentException(source + ": its signature is not the issuer's ("
                        + issuer.getSubjectX500Principal().getName() + "), nor that of a responder the issuer certified");
            }
            DigestCalculatorProvider digests = new JcaDigestCalculatorProviderBuilder().build();
            for (SingleResp single : basic.getResponses()) {
                BigInteger serial = single.getCertID().getSerialNumber();
                if (serial.equals(leaf.getSerialNumber()) && single.getCertID().matchesIssuer(issuerHolder, digests)) {
                    CertificateStatus status = single.getCertStatus();
                    if (status != CertificateStatus.GOOD) {
                        boolean revoked = status instanceof RevokedStatus;
                        throw new NotGood(source + ": the response says the certificate "
                                + leaf.getSubjectX500Principal().getName() + " is "
                                + (revoked ? "revoked" : "unknown to the responder"), revoked,
                                single.getThisUpdate().toInstant());
                    }
                    Instant thisUpdate = single.getThisUpdate().toInstant();
                    return new OcspStaple(der, thisUpdate, single.getNextUpdate() != null
                            ? single.getNextUpdate().toInstant() : thisUpdate.plus(WITHOUT_NEXT_UPDATE));
                }
            }
            throw new IllegalArgumentException(source + ": the response is not about the certificate "
                    + leaf.getSubjectX500Principal().getName() + " (serial " + leaf.getSerialNumber().toString(16) + ")");
        } catch (IOException | OCSPException e) {
            throw new IllegalArgumentException(source + ": not a DER OCSP response: " + e.getMessage());
        } catch (CertificateException | OperatorCreationException e) {
            throw new IllegalArgumentException(source + ": cannot check the OCSP response: " + e.getMessage());
        }
    }

    /**
     * Signed by the issuer itself, or by a certificate in the response, valid now, that the issuer
     * made for OCSP signing. A key of another type than the signature's is no match.
     */
    private static boolean signedByIssuer(BasicOCSPResp basic, X509CertificateHolder issuer) {
        if (responseSignedBy(basic, issuer)) {
            return true;
        }
        for (X509CertificateHolder responder : basic.getCerts()) {
            ExtendedKeyUsage usage = responder.getExtensions() == null ? null
                    : ExtendedKeyUsage.fromExtensions(responder.getExtensions());
            if (usage != null && usage.hasKeyPurposeId(KeyPurposeId.id_kp_OCSPSigning)
                    && responder.getIssuer().equals(issuer.getSubject()) && responder.isValidOn(new Date())
                    && certifiedBy(responder, issuer) && responseSignedBy(basic, responder)) {
                return true;
            }
        }
        return false;
    }

    private static boolean responseSignedBy(BasicOCSPResp basic, X509CertificateHolder signer) {
        try {
            return basic.isSignatureValid(new JcaContentVerifierProviderBuilder().build(signer));
        } catch (OCSPException | OperatorCreationException | CertificateException e) {
            return false; // e.g. an RSA key for an ECDSA signature
        }
    }

    private static boolean certifiedBy(X509CertificateHolder cert, X509CertificateHolder issuer) {
        try {
            return cert.isSignatureValid(new JcaContentVerifierProviderBuilder().build(issuer));
        } catch (CertException | OperatorCreationException | CertificateException e) {
            return false;
        }
    }
}
