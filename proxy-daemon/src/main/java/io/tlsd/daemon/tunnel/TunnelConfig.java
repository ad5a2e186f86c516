package io.tlsd.daemon.tunnel;

import io.tlsd.daemon.server.ListenerConfig.CertificateSpec;
import io.tlsd.daemon.tls.AllowedIdentities;
import io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy;
import io.tlsd.daemon.transport.ProxySources;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One tunnel of a daemon. In the client role it accepts plain TCP on {@code listen} and connects
 * with TLS to {@code target} (verified against {@code serverName}, default the target's host,
 * and against {@code caFile}, default the daemon's trust anchors); in the server role it
 * terminates TLS on {@code listen} with {@code certificate}, or with the one of {@code
 * certificates} that the SNI name a client asks for picks, and connects plain TCP to {@code
 * target}, optionally sending a PROXY v2 header first. A setting of the other role is refused
 * ({@link #checkRole}), not ignored.
 *
 * @param name for logs, e.g. "tunnel-1"
 * @param target "HOST:PORT"
 * @param serverName client role: the name verified and sent as SNI; null for the target's host
 * @param certificate server role: the certificate served (required); client role: the client
 *     certificate presented to the target, null for the daemon's ({@code tls.client_certificate})
 * @param alpn server role: protocols accepted from clients; client role: offered to the target
 * @param clientAuth server role: client certificates none / optional / required
 * @param clientCaFile server role: trust anchors for client certificates
 * @param proxyProtocol server role: send a PROXY protocol v2 header to the backend
 * @param idleTimeout close a connection idle this long in both directions; ZERO never
 * @param maxConnections the most connections carried at once, more are closed as soon as
 *     accepted; 0 for no limit
 * @param caFile client role: PEM trust anchors for the target; null for the daemon's ({@code
 *     tls.ca_file}, else the JDK's trust store)
 * @param accessLog log a line for each connection relayed, when it ends
 * @param maxConnectionsPerClient the most connections from one client address (IP) at once; 0
 *     for no such limit
 * @param certificates server role, instead of {@code certificate}: several certificates, each
 *     served to the clients whose SNI name matches one of its {@link CertificateSpec#names()}
 *     (exact or {@code *.example.com}); the first without names (else the first) to the others
 *     and to clients without SNI, as a listener's; empty when the tunnel uses {@code certificate}
 * @param crlFile client role: revocation lists that the target's certificate is checked against
 *     (strictly, see {@link io.tlsd.daemon.tls.RevocationLists}); null for the daemon's ({@code
 *     tls.crl_file}) when the tunnel has no {@code caFile} of its own, else for none
 * @param clientCrlFile server role: revocation lists that client certificates are checked
 *     against; null for none; needs {@code clientCaFile}
 * @param allowedClients server role: which verified client certificates get in; null for any;
 *     needs {@code clientAuth} REQUIRED
 * @param allowedServers client role: which verified target certificates are accepted, instead of
 *     one that names the target's host (or {@code serverName}); null to check the name
 * @param routes server role: other backends than {@code target} for the clients whose SNI name
 *     matches one of a route's names (exact, or {@code *.example.com} for the names one label
 *     under it; an exact name before a wildcard; a name in one route only)
 * @param acceptProxyProtocol server role: each connection begins with a load balancer's PROXY
 *     protocol header (v1 or v2), whose client stands for the connection's ({@link
 *     io.tlsd.daemon.transport.ProxyProtocolIn}), taken from these peers only
 *     ({@code proxy_protocol_sources}); null: no header
 */
public record TunnelConfig(String name, InetSocketAddress listen, String target, String serverName,
                           CertificateSpec certificate, List<String> alpn, ClientAuthPolicy clientAuth,
                           Path clientCaFile, boolean proxyProtocol, Duration idleTimeout, int maxConnections,
                           Path caFile, boolean accessLog, int maxConnectionsPerClient,
                           List<CertificateSpec> certificates, Path crlFile, Path clientCrlFile,
                           List<Route> routes, AllowedIdentities allowedClients, AllowedIdentities allowedServers,
                           ProxySources acceptProxyProtocol) {

    /** Without a load balancer's PROXY header in front. */
    public TunnelConfig(String name, InetSocketAddress listen, String target, String serverName,
                        CertificateSpec certificate, List<String> alpn, ClientAuthPolicy clientAuth,
                        Path clientCaFile, boolean proxyProtocol, Duration idleTimeout, int maxConnections,
                        Path caFile, boolean accessLog, int maxConnectionsPerClient,
                        List<CertificateSpec> certificates, Path crlFile, Path clientCrlFile,
                        List<Route> routes, AllowedIdentities allowedClients, AllowedIdentities allowedServers) {
        this(name, listen, target, serverName, certificate, alpn, clientAuth, clientCaFile, proxyProtocol,
                idleTimeout, maxConnections, caFile, accessLog, maxConnectionsPerClient, certificates, crlFile,
                clientCrlFile, routes, allowedClients, allowedServers, null);
    }

    /**
     * Clients whose SNI name is one of {@code names} go to {@code target} instead of the tunnel's.
     *
     * @param names exact, or {@code *.example.com} for its subdomains; at least one
     * @param target "HOST:PORT" of a plain backend
     */
    public record Route(List<String> names, String target) {
        public Route {
            names = List.copyOf(names);
            Objects.requireNonNull(target, "target");
            if (names.isEmpty()) {
                throw new IllegalArgumentException("a route needs at least one name");
            }
        }
    }

    /** With one certificate (or none), not chosen by SNI. */
    public TunnelConfig(String name, InetSocketAddress listen, String target, String serverName,
                        CertificateSpec certificate, List<String> alpn, ClientAuthPolicy clientAuth,
                        Path clientCaFile, boolean proxyProtocol, Duration idleTimeout, int maxConnections,
                        Path caFile, boolean accessLog, int maxConnectionsPerClient) {
        this(name, listen, target, serverName, certificate, alpn, clientAuth, clientCaFile, proxyProtocol,
                idleTimeout, maxConnections, caFile, accessLog, maxConnectionsPerClient, List.of(), null, null,
                List.of(), null, null);
    }

    /** Without an access log or a per-client limit. */
    public TunnelConfig(String name, InetSocketAddress listen, String target, String serverName,
                        CertificateSpec certificate, List<String> alpn, ClientAuthPolicy clientAuth,
                        Path clientCaFile, boolean proxyProtocol, Duration idleTimeout, int maxConnections,
                        Path caFile) {
        this(name, listen, target, serverName, certificate, alpn, clientAuth, clientCaFile, proxyProtocol,
                idleTimeout, maxConnections, caFile, false, 0);
    }

    public TunnelConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(target, "target");
        alpn = List.copyOf(alpn);
        certificates = certificates == null ? List.of() : List.copyOf(certificates);
        routes = routes == null ? List.of() : List.copyOf(routes);
        if (certificate != null && !certificates.isEmpty()) {
            throw new IllegalArgumentException("tunnel " + name + ": give either certificates, or cert and key (or pkcs12)");
        }
        Objects.requireNonNull(clientAuth, "clientAuth");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        if (clientAuth != ClientAuthPolicy.NONE && clientCaFile == null) {
            throw new IllegalArgumentException("tunnel " + name + ": client_auth " + clientAuth.name().toLowerCase()
                    + " needs client_ca_file");
        }
        if (clientCrlFile != null && clientCaFile == null) {
            throw new IllegalArgumentException("tunnel " + name + ": client_crl_file needs client_ca_file");
        }
        if (allowedClients != null && clientAuth != ClientAuthPolicy.REQUIRED) {
            throw new IllegalArgumentException("tunnel " + name + ": allowed_clients needs client_auth: required");
        }
        if (maxConnections < 0) {
            throw new IllegalArgumentException("tunnel " + name + ": max_connections < 0");
        }
        if (maxConnectionsPerClient < 0) {
            throw new IllegalArgumentException("tunnel " + name + ": max_connections_per_client < 0");
        }
    }

    /** {@code tlsd client --listen ADDR --target HOST:PORT [--servername N]}. */
    public static TunnelConfig client(String name, InetSocketAddress listen, String target, String serverName) {
        return new TunnelConfig(name, listen, target, serverName, null, List.of(), ClientAuthPolicy.NONE, null,
                false, Duration.ofMinutes(10), TunnelSettings.DEFAULT_MAX_CONNECTIONS, null);
    }

    /** This tunnel with an access log, or without. */
    public TunnelConfig withAccessLog(boolean on) {
        return new TunnelConfig(name, listen, target, serverName, certificate, alpn, clientAuth, clientCaFile,
                proxyProtocol, idleTimeout, maxConnections, caFile, on, maxConnectionsPerClient, certificates, crlFile,
                clientCrlFile, routes, allowedClients, allowedServers, acceptProxyProtocol);
    }

    /** This tunnel with connections closed after {@code idle} without a byte either way (ZERO: never). */
    public TunnelConfig withIdleTimeout(Duration idle) {
        return new TunnelConfig(name, listen, target, serverName, certificate, alpn, clientAuth, clientCaFile,
                proxyProtocol, idle, maxConnections, caFile, accessLog, maxConnectionsPerClient, certificates, crlFile,
                clientCrlFile, routes, allowedClients, allowedServers, acceptProxyProtocol);
    }

    /** This tunnel with {@code allowedServers} (null: the target's certificate must name its host). */
    public TunnelConfig withAllowedServers(AllowedIdentities allowedServers) {
        return new TunnelConfig(name, listen, target, serverName, certificate, alpn, clientAuth, clientCaFile,
                proxyProtocol, idleTimeout, maxConnections, caFile, accessLog, maxConnectionsPerClient, certificates, crlFile,
                clientCrlFile, routes, allowedClients, allowedServers, acceptProxyProtocol);
    }

    /**
     * {@link #certificates()}, or else {@link #certificate()} alone; empty if neither is set.
     * Server role: the certificates served; client role: the client certificate of its own.
     */
    public List<CertificateSpec> servedCertificates() {
        if (!certificates.isEmpty()) {
            return certificates;
        }
        return certificate == null ? List.of() : List.of(certificate);
    }

    /**
     * Whether this tunnel has TLS settings of its own for its target (trust anchors, revocation
     * lists or a client certificate), rather than the daemon's. Client role.
     */
    public boolean hasOwnTrustOrIdentity() {
        return caFile != null || crlFile != null || certificate != null || allowedServers != null;
    }

    /**
     * The keys set that only a client-role tunnel uses: {@code servername}, {@code ca_file},
     * {@code crl_file}, {@code allowed_servers}.
     */
    public List<String> clientRoleKeys() {
        List<String> keys = new ArrayList<>();
        if (serverName != null) {
            keys.add("servername");
        }
        if (caFile != null) {
            keys.add("ca_file");
        }
        if (crlFile != null) {
            keys.add("crl_file");
        }
        if (allowedServers != null) {
            keys.add("allowed_servers");
        }
        return keys;
    }

    /**
     * The keys set that only a server-role tunnel uses: {@code certificates}, {@code ocsp_file}, {@code
     * ocsp_fetch}, {@code client_auth}
     * (other than none), {@code client_ca_file}, {@code client_crl_file}, {@code proxy_protocol: true},
     * {@code accept_proxy_protocol: true}, {@code routes}.
     */
    public List<String> serverRoleKeys() {
        List<String> keys = new ArrayList<>();
        if (!certificates.isEmpty()) {
            keys.add("certificates");
        }
        if (certificate != null && certificate.ocspFile() != null) {
            keys.add("ocsp_file");
        }
        if (certificate != null && certificate.ocspFetch()) {
            keys.add("ocsp_fetch");
        }
        if (clientAuth != ClientAuthPolicy.NONE) {
            keys.add("client_auth");
        }
        if (clientCaFile != null) {
            keys.add("client_ca_file");
        }
        if (clientCrlFile != null) {
            keys.add("client_crl_file");
        }
        if (allowedClients != null) {
            keys.add("allowed_clients");
        }
        if (proxyProtocol) {
            keys.add("proxy_protocol");
        }
        if (acceptProxyProtocol != null) {
            keys.add("accept_proxy_protocol");
        }
        if (!routes.isEmpty()) {
            keys.add("routes");
        }
        return keys;
    }

    /**
     * Refuses the settings that belong to the other role, which would otherwise be silently
     * ignored (a client certificate policy on a tunnel that dials out, say). The daemon checks
     * this as it starts: a configuration file does not say which role it is for.
     *
     * @param serverRole whether the daemon terminates TLS (server role) or originates it
     */
    public void checkRole(boolean serverRole) {
        List<String> misplaced = serverRole ? clientRoleKeys() : serverRoleKeys();
        if (!misplaced.isEmpty()) {
            throw new IllegalArgumentException("tunnel " + name + ": " + String.join(", ", misplaced)
                    + (misplaced.size() == 1 ? " applies" : " apply") + " to " + (serverRole ? "client" : "server")
                    + "-role tunnels only");
        }
    }
}
