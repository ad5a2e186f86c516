package io.tlsd.daemon.tls;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client role's TLS contexts, with an optional client certificate for servers that ask.
 * ALPN is a property of a Netty context, so there is one context per distinct ALPN list an
 * application asks for (a handful in practice; the cache is bounded all the same). Every context
 * verifies the peer's chain with the JDK's trust manager, whose verdicts are reused for a while
 * ({@link VerifiedChains}), and its name, or, with {@code allowed_servers}, its identity among the
 * listed ones ({@link AllowedIdentities}).
 *
 * <p>The trust anchors and the client certificate are fixed once built: to trust others or
 * present another, build new contexts ({@link TlsConnector#contexts}). The reused verdicts belong
 * to one instance, so none outlives the anchors it was reached with.
 */
public final class ClientTlsContexts {
    private static final Logger log = LoggerFactory.getLogger(ClientTlsContexts.class);
    private static final int MAX_CACHED = 64;

    private final TlsParameters parameters;
    private final KeyMaterial identity;
    /** For {@link #describe()}. */
    private final String trustDescription;
    /** Shared by every context: the chains a server presents do not depend on ALPN. */
    private final VerifiedChains trust;
    /** Empty without a CRL file. */
    private final List<X509CRL> revocationLists;
    /** Null: servers must be named by their certificate (HTTPS endpoint identification). */
    private final AllowedIdentities allowedServers;
    private final ConcurrentHashMap<List<String>, SslContext> byAlpn = new ConcurrentHashMap<>();

    /**
     * @param parameters provider, protocol versions, groups
     * @param caFile PEM trust anchors, or null for the JDK's trust store
     */
    public ClientTlsContexts(TlsParameters parameters, Path caFile) throws SSLException {
        this(parameters, caFile, null);
    }

    /**
     * @param identity the certificate and key presented to servers that ask for one (mTLS), or
     *     null for none
     */
    public ClientTlsContexts(TlsParameters parameters, Path caFile, KeyMaterial identity) throws SSLException {
        this(parameters, caFile, identity, null);
    }

    /**
     * @param crlFile certificate revocation lists that servers' certificates are checked against
     *     ({@link RevocationLists}, strictly), or null for no revocation check
     */
    public ClientTlsContexts(TlsParameters parameters, Path caFile, KeyMaterial identity, Path crlFile)
            throws SSLException {
        this(parameters, caFile, identity, crlFile, null);
    }

    /**
     * @param allowedServers which verified server certificates are accepted, instead of checking
     *     that the certificate names the host (the name is still sent as SNI); null to check the
     *     host name
     */
    public ClientTlsContexts(TlsParameters parameters, Path caFile, KeyMaterial identity, Path crlFile,
                             AllowedIdentities allowedServers) throws SSLException {
        this.parameters = parameters;
        this.allowedServers = allowedServers;
        this.identity = identity;
        List<X509Certificate> anchors = caFile == null ? null : KeyMaterial.readCertificates(caFile);
        List<X509CRL> crls = null;
        if (crlFile != null) {
            try {
                crls = RevocationLists.read(crlFile);
            } catch (GeneralSecurityException | IOException e) {
                throw new SSLException(e.getMessage(), e); // it names the file
            }
            RevocationLists.staleLists(crlFile, crls, Instant.now()).forEach(log::warn);
        }
        try {
            this.trust = VerifiedChains.over(anchors, crls, crlFile);
        } catch (GeneralSecurityException | IOException e) {
            throw new SSLException("cannot use the trust anchors" + (caFile == null ? "" : " of " + caFile) + ": " + e, e);
        }
        this.revocationLists = crls == null ? List.of() : List.copyOf(crls);
        this.trustDescription = (anchors == null ? "the JDK trust store" : caFile + " (" + anchors.size()
                + (anchors.size() == 1 ? " certificate)" : " certificates)"))
                + (crls == null ? "" : ", CRLs " + crlFile + " (" + crls.size() + (crls.size() == 1 ? " list)" : " lists)"))
                + (allowedServers == null ? "" : ", allowed servers " + allowedServers.describe());
        byAlpn.put(List.of(), build(List.of())); // fail at start, not at the first OPEN
    }

    /** The client certificate presented to servers that ask for one, or null for none. */
    public X509Certificate clientCertificate() {
        return identity == null ? null : identity.leaf();
    }

    /** The revocation lists servers' certificates are checked against; empty for none. */
    public List<X509CRL> revocationLists() {
        return revocationLists;
    }

    /** The trust anchors and the client certificate, for the log. */
    public String describe() {
        return "trust anchors " + trustDescription + ", client certificate " + (identity == null ? "none"
                : identity.leaf().getSubjectX500Principal().getName() + " until " + identity.leaf().getNotAfter().toInstant());
    }

    public SslContext forAlpn(List<String> alpn) throws SSLException {
        SslContext ctx = byAlpn.get(alpn);
        if (ctx != null) {
            return ctx;
        }
        ctx = build(alpn);
        if (byAlpn.size() < MAX_CACHED) {
            byAlpn.putIfAbsent(List.copyOf(alpn), ctx);
        }
        return ctx;
    }

    /** Offer (or accept) these protocols; without a match, go on without ALPN. */
    static ApplicationProtocolConfig alpnConfig(List<String> alpn) {
        return new ApplicationProtocolConfig(
                ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                alpn);
    }

    private SslContext build(List<String> alpn) throws SSLException {
        SslContextBuilder builder = parameters.applyTo(SslContextBuilder.forClient());
        if (allowedServers == null) {
            builder.endpointIdentificationAlgorithm("HTTPS").trustManager(trust);
        } else {
            // the identities listed stand in for the host name
            builder.endpointIdentificationAlgorithm(null).trustManager(allowedServers.afterServers(trust));
        }
        if (identity != null) {
            builder.keyManager(identity.key(), identity.chain().toArray(new X509Certificate[0]));
        }
        if (!alpn.isEmpty()) {
            builder.applicationProtocolConfig(alpnConfig(alpn));
        }
        return builder.build();
    }
}
