package io.tlsd.daemon.tls;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.DomainWildcardMappingBuilder;
import io.netty.util.Mapping;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * The TLS contexts of one listener of the server role: one per certificate, chosen by the name
 * the client asks for (SNI, exact or {@code *.wildcard}), with a default for clients that ask for
 * none or for a name nobody serves.
 */
public final class ServerTlsContexts {

    /** Whether and how clients must present a certificate. */
    public enum ClientAuthPolicy { NONE, OPTIONAL, REQUIRED }

    /**
     * A certificate the listener serves.
     *
     * @param names SNI names it answers (exact or "*.example.com"); empty for the default
     * @param material the key and chain
     */
    public record Identity(List<String> names, KeyMaterial material) {
        public Identity {
            names = List.copyOf(names);
        }
    }

    private final SslContext defaultContext;
    private final Mapping<String, SslContext> byName;

    /**
     * @param identities at least one; the first without names (else the first) is the default
     * @param clientCaFile trust anchors for client certificates; required unless policy is NONE
     */
    public ServerTlsContexts(List<Identity> identities, List<String> alpn, ClientAuthPolicy clientAuth,
                             Path clientCaFile, List<String> protocols, String provider, TicketKeys tickets)
            throws SSLException {
        if (identities.isEmpty()) {
            throw new IllegalArgumentException("a listener needs at least one certificate");
        }
        if (clientAuth != ClientAuthPolicy.NONE && clientCaFile == null) {
            throw new IllegalArgumentException("client authentication " + clientAuth.name().toLowerCase()
                    + " needs a client CA file");
        }
        Identity fallback = identities.stream().filter(i -> i.names().isEmpty()).findFirst().orElse(identities.get(0));
        defaultContext = build(fallback.material(), alpn, clientAuth, clientCaFile, protocols, provider, tickets);
        DomainWildcardMappingBuilder<SslContext> mapping = new DomainWildcardMappingBuilder<>(defaultContext);
        for (Identity identity : identities) {
            if (identity.names().isEmpty()) {
                continue;
            }
            SslContext ctx = build(identity.material(), alpn, clientAuth, clientCaFile, protocols, provider, tickets);
            for (String name : identity.names()) {
                mapping.add(name, ctx);
            }
        }
        byName = mapping.build();
    }

    private static SslContext build(KeyMaterial material, List<String> alpn, ClientAuthPolicy clientAuth,
                                    Path clientCaFile, List<String> protocols, String provider, TicketKeys tickets)
            throws SSLException {
        SslContextBuilder builder = SslContextBuilder
                .forServer(material.key(), material.chain().toArray(new X509Certificate[0]))
                .sslProvider(ClientTlsContexts.providerNamed(provider))
                .protocols(protocols)
                .clientAuth(switch (clientAuth) {
                    case NONE -> ClientAuth.NONE;
                    case OPTIONAL -> ClientAuth.OPTIONAL;
                    case REQUIRED -> ClientAuth.REQUIRE;
                });
        if (clientCaFile != null) {
            builder.trustManager(clientCaFile.toFile());
        }
        if (!alpn.isEmpty()) {
            builder.applicationProtocolConfig(new ApplicationProtocolConfig(
                    ApplicationProtocolConfig.Protocol.ALPN,
                    ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                    ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                    alpn));
        }
        SslContext ctx = builder.build();
        if (tickets != null) {
            tickets.attach(ctx);
        }
        return ctx;
    }

    /** For Netty's {@code SniHandler}: name → context, falling back to the default. */
    public Mapping<String, SslContext> mapping() {
        return byName;
    }

    public SslContext defaultContext() {
        return defaultContext;
    }
}
