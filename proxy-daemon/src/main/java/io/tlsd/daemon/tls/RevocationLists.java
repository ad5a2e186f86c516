package io.tlsd.daemon.tls;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CRL;
import java.security.cert.CRLException;
import java.security.cert.CertPathBuilder;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.PKIXRevocationChecker;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CRL;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.CertPathTrustManagerParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Certificate revocation lists from a file ({@code crl_file}, {@code client_crl_file}), and the
 * trust manager that checks a peer's chain against them.
 *
 * <p>The check is strict, as OpenSSL's {@code X509_V_FLAG_CRL_CHECK_ALL} (nginx's {@code
 * ssl_crl}): every certificate of the peer's chain but the trust anchor is refused when a list of
 * its issuer names it, and also when the file holds no current list of its issuer (none, or one
 * whose {@code nextUpdate} has passed, give or take the JDK's 15 minutes for clock skew), since
 * then nothing says it was not revoked. So the file must hold a list of every CA that issues the
 * certificates the daemon accepts (the root's, which covers its intermediates, and each
 * intermediate's), and be renewed before the lists' {@code nextUpdate} (then SIGHUP). A list
 * without a {@code nextUpdate} is refused when the file is read. Each list's signature is checked
 * against its issuer. Nothing is fetched over the network (CRL distribution points and OCSP are
 * not used).
 */
public final class RevocationLists {
    private RevocationLists() {
    }

    /**
     * Every CRL in {@code file}: one or more PEM blocks ({@code BEGIN X509 CRL}), or DER.
     *
     * @throws IOException if the file cannot be read; the message names it
     * @throws GeneralSecurityException if it is not CRLs, holds none, or one without a {@code
     *     nextUpdate}; the message names it
     */
    public static List<X509CRL> read(Path file) throws IOException, GeneralSecurityException {
        Collection<? extends CRL> crls;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            crls = CertificateFactory.getInstance("X.509").generateCRLs(in);
        } catch (NoSuchFileException e) {
            throw new IOException("cannot read " + file + ": no such file", e);
        } catch (IOException e) {
            throw new IOException("cannot read " + file + ": " + e.getMessage(), e);
        } catch (CRLException e) {
            throw new CRLException(file + ": not a certificate revocation list (PEM or DER): " + e.getMessage(), e);
        }
        List<X509CRL> out = new ArrayList<>();
        for (CRL crl : crls) {
            X509CRL x509 = (X509CRL) crl;
            if (x509.getNextUpdate() == null) {
                // the JDK would refuse every certificate of its issuer, without saying why
                throw new CRLException(file + ": the list of " + x509.getIssuerX500Principal().getName()
                        + " has no nextUpdate, so nothing says until when it is current");
            }
            out.add(x509);
        }
        if (out.isEmpty()) {
            throw new CRLException(file + ": no certificate revocation list in it");
        }
        return out;
    }

    /**
     * What makes the daemon refuse peers it would otherwise accept: lists of {@code file} that
     * are past their {@code nextUpdate} at {@code now}. For warnings at load and {@code check-config}.
     */
    public static List<String> staleLists(Path file, List<X509CRL> crls, Instant now) {
        List<String> out = new ArrayList<>();
        for (X509CRL crl : crls) {
            if (crl.getNextUpdate().toInstant().isBefore(now)) {
                out.add(file + ": the list of " + crl.getIssuerX500Principal().getName() + " is past its nextUpdate ("
                        + crl.getNextUpdate().toInstant() + "): certificates of that issuer are refused until it is renewed");
            }
        }
        return out;
    }

    /** The earliest {@code nextUpdate} of {@code crls}, in epoch milliseconds. */
    static long currentUntilMillis(List<X509CRL> crls) {
        long until = Long.MAX_VALUE;
        for (X509CRL crl : crls) {
            until = Math.min(until, crl.getNextUpdate().getTime());
        }
        return until;
    }

    /**
     * The JDK's PKIX trust manager over {@code anchors} that also checks the peer's chain against
     * {@code crls} from {@code file}, strictly (see the class comment); its refusals for want of a
     * current list name the issuer and the file.
     */
    public static X509ExtendedTrustManager trustManager(Collection<X509Certificate> anchors, List<X509CRL> crls,
                                                        Path file) throws GeneralSecurityException {
        Set<TrustAnchor> trustAnchors = new HashSet<>();
        for (X509Certificate anchor : anchors) {
            trustAnchors.add(new TrustAnchor(anchor, null));
        }
        PKIXBuilderParameters parameters = new PKIXBuilderParameters(trustAnchors, new X509CertSelector());
        parameters.addCertStore(CertStore.getInstance("Collection", new CollectionCertStoreParameters(crls)));
        PKIXRevocationChecker checker = (PKIXRevocationChecker) CertPathBuilder.getInstance("PKIX").getRevocationChecker();
        // CRLs only (no OCSP, no fallback to it), for the whole chain: a missing or stale list fails
        checker.setOptions(EnumSet.of(PKIXRevocationChecker.Option.PREFER_CRLS, PKIXRevocationChecker.Option.NO_FALLBACK));
        parameters.addCertPathChecker(checker);
        parameters.setRevocationEnabled(true);
        TrustManagerFactory factory = TrustManagerFactory.getInstance("PKIX");
        factory.init(new CertPathTrustManagerParameters(parameters));
        return new Explained(x509(factory), file);
    }

    /** The first {@link X509ExtendedTrustManager} of {@code factory}. */
    static X509ExtendedTrustManager x509(TrustManagerFactory factory) {
        for (TrustManager tm : factory.getTrustManagers()) {
            if (tm instanceof X509ExtendedTrustManager x509) {
                return x509;
            }
        }
        throw new IllegalStateException("no X509ExtendedTrustManager from " + factory.getAlgorithm());
    }

    /**
     * Says which issuer's list was missing or stale when the JDK refuses a chain with only "Could
     * not determine revocation status".
     */
    private static final class Explained extends ForwardingTrustManager {
        private final Path file;

        Explained(X509ExtendedTrustManager delegate, Path file) {
            super(delegate);
            this.file = file;
        }

        @Override
        void checking(Check check) throws CertificateException {
            try {
                check.run();
            } catch (CertificateException e) {
                throw explained(e);
            }
        }

        private CertificateException explained(CertificateException e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof CertPathValidatorException v
                        && v.getReason() == CertPathValidatorException.BasicReason.UNDETERMINED_REVOCATION_STATUS) {
                    String issuer = "its issuer";
                    if (v.getCertPath() != null && v.getIndex() >= 0
                            && v.getIndex() < v.getCertPath().getCertificates().size()) {
                        Certificate c = v.getCertPath().getCertificates().get(v.getIndex());
                        if (c instanceof X509Certificate x509) {
                            issuer = x509.getIssuerX500Principal().getName();
                        }
                    }
                    return new CertificateException("no current revocation list of " + issuer + " in " + file
                            + " (none, or past its nextUpdate): " + e.getMessage(), e);
                }
            }
            return e;
        }
    }
}
