package io.tlsd.daemon.tls;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLException;

/**
 * The client role's TLS contexts, with an optional client certificate for servers that ask.
 * ALPN is a property of a Netty context, so there is one context per distinct ALPN list an
 * application asks for (a handful in practice; the cache is bounded all the same). Every context
 * verifies the peer's chain and its name, with the JDK's trust manager, whose verdicts are reused
 * for a while ({@link VerifiedChains}).
 *
 * <p>The trust anchors and the client certificate are fixed once built: to trust others or
 * present another, build new contexts ({@link TlsConnector#contexts}). The reused verdicts belong
 * to one instance, so none outlives the anchors it was reached with.
 */
public final class ClientTlsContexts {
    private static final int MAX_CACHED = 64;

    private final TlsParameters parameters;
    private final KeyMaterial identity;
    /** For {@link #describe()}. */
    private final String trustDescription;
    /** Shared by every context: the chains a server presents do not depend on ALPN. */
    private final VerifiedChains trust;
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
        this.parameters = parameters;
        this.identity = identity;
        try {
            List<X509Certificate> anchors = caFile == null ? null : KeyMaterial.readCertificates(caFile);
            this.trust = VerifiedChains.over(anchors);
            this.trustDescription = anchors == null ? "the JDK trust store" : caFile + " (" + anchors.size()
                    + (anchors.size() == 1 ? " certificate)" : " certificates)");
        } catch (GeneralSecurityException | IOException e) {
            throw new SSLException("cannot load the trust anchors" + (caFile == null ? "" : " of " + caFile) + ": " + e, e);
        }
        byAlpn.put(List.of(), build(List.of())); // fail at start, not at the first OPEN
    }

    /** The client certificate presented to servers that ask for one, or null for none. */
    public X509Certificate clientCertificate() {
        return identity == null ? null : identity.leaf();
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
        SslContextBuilder builder = parameters.applyTo(SslContextBuilder.forClient())
                .endpointIdentificationAlgorithm("HTTPS")
                .trustManager(trust);
        if (identity != null) {
            builder.keyManager(identity.key(), identity.chain().toArray(new X509Certificate[0]));
        }
        if (!alpn.isEmpty()) {
            builder.applicationProtocolConfig(alpnConfig(alpn));
        }
        return builder.build();
    }
}
