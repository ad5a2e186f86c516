package io.tlsd.daemon.tls;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslContextOption;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.util.List;

/**
 * What every TLS context of the daemon shares, client and server alike: the implementation, the
 * protocol versions and the key-exchange groups.
 *
 * @param provider "boringssl" (netty-tcnative) or "jdk"
 * @param protocols e.g. ["TLSv1.3"]
 * @param groups key-exchange groups in order of preference (e.g. ["X25519MLKEM768", "X25519",
 *     "P-256"]); empty for the TLS library's defaults (with BoringSSL: the post-quantum hybrid
 *     X25519MLKEM768 first, then X25519, P-256, P-384)
 */
public record TlsParameters(String provider, List<String> protocols, List<String> groups) {
    /** TLS 1.3 only, BoringSSL, the library's groups. */
    public static final TlsParameters DEFAULTS = new TlsParameters("boringssl", List.of("TLSv1.3"), List.of());

    public TlsParameters {
        protocols = List.copyOf(protocols);
        groups = List.copyOf(groups);
        if (protocols.isEmpty()) {
            throw new IllegalArgumentException("no TLS protocol versions");
        }
        if (!groups.isEmpty() && !provider.equals("boringssl")) {
            // The JDK's engine takes its groups from the jdk.tls.namedGroups system property only.
            throw new IllegalArgumentException("tls.groups needs the boringssl TLS provider, not " + provider);
        }
    }

    /** Same parameters, these protocol versions. */
    public TlsParameters withProtocols(List<String> versions) {
        return new TlsParameters(provider, versions, groups);
    }

    /** Netty's provider for {@link #provider}; fails if BoringSSL is asked for and not loadable. */
    public SslProvider sslProvider() {
        switch (provider) {
            case "boringssl":
                if (!OpenSsl.isAvailable()) {
                    throw new IllegalArgumentException("TLS provider boringssl is not available: "
                            + OpenSsl.unavailabilityCause());
                }
                return SslProvider.OPENSSL;
            case "jdk":
                return SslProvider.JDK;
            default:
                throw new IllegalArgumentException("unknown TLS provider '" + provider + "' (boringssl, jdk)");
        }
    }

    /** Sets the provider, the protocol versions and (when configured) the groups on {@code builder}. */
    SslContextBuilder applyTo(SslContextBuilder builder) {
        builder.sslProvider(sslProvider()).protocols(protocols);
        if (!groups.isEmpty()) {
            builder.option(OpenSslContextOption.GROUPS, groups.toArray(new String[0]));
        }
        return builder;
    }
}
