package io.tlsd.daemon.server;

import io.tlsd.daemon.ipc.AllowedPeers;
import io.tlsd.daemon.tls.AllowedIdentities;
import io.tlsd.daemon.tls.KeyMaterial;
import io.tlsd.daemon.tls.OcspFetcher;
import io.tlsd.daemon.tls.ServerTlsContexts;
import io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy;
import io.tlsd.daemon.transport.ProxySources;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * One named listener of the server role: where it listens, which certificates it serves, and
 * how it treats clients.
 *
 * @param name what applications name in ACCEPT, e.g. "default"
 * @param address the bind address
 * @param certificates at least one; see {@link CertificateSpec}
 * @param alpn protocols offered, in order of preference; empty offers none
 * @param clientAuth none, optional or required
 * @param clientCaFile trust anchors for client certificates (required unless clientAuth is NONE)
 * @param handshakeTimeout how long a client may take to finish its handshake
 * @param backlog handshaked connections kept waiting for an ACCEPT; more are refused
 * @param maxPendingConnections the most connections accepted and not yet taken by an ACCEPT
 *     (handshaking, or waiting in the backlog); more are closed as soon as accepted. 0 for no limit
 * @param maxPendingConnectionsPerClient the most of those from one client address (IP); 0 for no
 *     such limit
 * @param clientCrlFile revocation lists that client certificates are checked against (strictly,
 *     see {@link io.tlsd.daemon.tls.RevocationLists}); null for none; needs {@code clientCaFile}
 * @param allowedClients which verified client certificates get in; null for any; needs {@code
 *     clientAuth} REQUIRED
 * @param allowedPeers which local processes (by uid or gid) may ACCEPT on it; null for any that
 *     may open a session
 * @param acceptProxyProtocol each connection begins with a load balancer's PROXY protocol header
 *     (v1 or v2), whose client stands for the connection's ({@link
 *     io.tlsd.daemon.transport.ProxyProtocolIn}), taken from these peers only ({@code
 *     proxy_protocol_sources}); null: no header
 */
public record ListenerConfig(String name, InetSocketAddress address, List<CertificateSpec> certificates,
                             List<String> alpn, ClientAuthPolicy clientAuth, Path clientCaFile,
                             Duration handshakeTimeout, int backlog, int maxPendingConnections,
                             int maxPendingConnectionsPerClient, Path clientCrlFile, AllowedIdentities allowedClients,
                             AllowedPeers allowedPeers, ProxySources acceptProxyProtocol) {

    /** Without a load balancer's PROXY header in front. */
    public ListenerConfig(String name, InetSocketAddress address, List<CertificateSpec> certificates,
                          List<String> alpn, ClientAuthPolicy clientAuth, Path clientCaFile,
                          Duration handshakeTimeout, int backlog, int maxPendingConnections,
                          int maxPendingConnectionsPerClient, Path clientCrlFile, AllowedIdentities allowedClients,
                          AllowedPeers allowedPeers) {
        this(name, address, certificates, alpn, clientAuth, clientCaFile, handshakeTimeout, backlog,
                maxPendingConnections, maxPendingConnectionsPerClient, clientCrlFile, allowedClients, allowedPeers,
                null);
    }

    /** Any process that may open a session may accept on it. */
    public ListenerConfig(String name, InetSocketAddress address, List<CertificateSpec> certificates,
                          List<String> alpn, ClientAuthPolicy clientAuth, Path clientCaFile,
                          Duration handshakeTimeout, int backlog, int maxPendingConnections,
                          int maxPendingConnectionsPerClient, Path clientCrlFile, AllowedIdentities allowedClients) {
        this(name, address, certificates, alpn, clientAuth, clientCaFile, handshakeTimeout, backlog,
                maxPendingConnections, maxPendingConnectionsPerClient, clientCrlFile, allowedClients, null);
    }

    /** Without a client CRL file or a list of allowed clients. */
    public ListenerConfig(String name, InetSocketAddress address, List<CertificateSpec> certificates,
                          List<String> alpn, ClientAuthPolicy clientAuth, Path clientCaFile,
                          Duration handshakeTimeout, int backlog, int maxPendingConnections,
                          int maxPendingConnectionsPerClient) {
        this(name, address, certificates, alpn, clientAuth, clientCaFile, handshakeTimeout, backlog,
                maxPendingConnections, maxPendingConnectionsPerClient, null, null, null);
    }

    /** Without a per-client limit or a client CRL file. */
    public ListenerConfig(String name, InetSocketAddress address, List<CertificateSpec> certificates,
                          List<String> alpn, ClientAuthPolicy clientAuth, Path clientCaFile,
                          Duration handshakeTimeout, int backlog, int maxPendingConnections) {
        this(name, address, certificates, alpn, clientAuth, clientCaFile, handshakeTimeout, backlog,
                maxPendingConnections, 0, null, null, null);
    }

    /**
     * The default of {@code max_pending_connections}: far more handshakes at once than the daemon
     * completes in their timeout, and a bound on what silent clients can hold.
     */
    public static final int DEFAULT_MAX_PENDING_CONNECTIONS = 1024;

    public ListenerConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(address, "address");
        certificates = List.copyOf(certificates);
        alpn = List.copyOf(alpn);
        if (certificates.isEmpty()) {
            throw new IllegalArgumentException("listener " + name + ": no certificate");
        }
        if (clientAuth != ClientAuthPolicy.NONE && clientCaFile == null) {
            throw new IllegalArgumentException("listener " + name + ": client_auth "
                    + clientAuth.name().toLowerCase() + " needs client_ca_file");
        }
        if (clientCrlFile != null && clientCaFile == null) {
            throw new IllegalArgumentException("listener " + name + ": client_crl_file needs client_ca_file");
        }
        if (allowedClients != null && clientAuth != ClientAuthPolicy.REQUIRED) {
            throw new IllegalArgumentException("listener " + name + ": allowed_clients needs client_auth: required");
        }
        if (allowedPeers != null && !allowedPeers.restricts()) {
            throw new IllegalArgumentException("listener " + name + ": allowed_peers lists no uid or gid; leave it out"
                    + " to let any process that may open a session accept on it");
        }
        if (backlog < 1) {
            throw new IllegalArgumentException("listener " + name + ": backlog < 1");
        }
        if (maxPendingConnections < 0) {
            throw new IllegalArgumentException("listener " + name + ": max_pending_connections < 0");
        }
        if (maxPendingConnectionsPerClient < 0) {
            throw new IllegalArgumentException("listener " + name + ": max_pending_connections_per_client < 0");
        }
        if (maxPendingConnections > 0 && backlog > maxPendingConnections) {
            throw new IllegalArgumentException("listener " + name + ": backlog " + backlog
                    + " is more than max_pending_connections " + maxPendingConnections + ", which counts it too");
        }
    }

    /** The simple case of {@code tlsd server --listen ADDR --cert PEM --key PEM}. */
    public static ListenerConfig simple(String name, InetSocketAddress address, Path cert, Path key) {
        return new ListenerConfig(name, address, List.of(CertificateSpec.pem(List.of(), cert, key, null)),
                List.of(), ClientAuthPolicy.NONE, null, Duration.ofSeconds(10), 64, DEFAULT_MAX_PENDING_CONNECTIONS);
    }

    /**
     * Where one certificate and its key come from: a PEM chain and key (optionally encrypted, the
     * passphrase in a file), or a PKCS#12 file.
     *
     * @param names SNI names (exact or "*.example.com"); empty for the default certificate
     * @param ocspFile a served certificate's OCSP response (DER), stapled to its handshakes; null
     *     for none
     * @param ocspFetch whether its OCSP response is fetched from the responder it names, and stapled
     */
    public record CertificateSpec(List<String> names, Path certChain, Path key, Path pkcs12, Path passphraseFile,
                                  Path ocspFile, boolean ocspFetch) {
        /** Without an OCSP response. */
        public CertificateSpec(List<String> names, Path certChain, Path key, Path pkcs12, Path passphraseFile) {
            this(names, certChain, key, pkcs12, passphraseFile, null, false);
        }

        public CertificateSpec {
            names = List.copyOf(names);
            if ((pkcs12 == null) == (certChain == null || key == null)) {
                throw new IllegalArgumentException("a certificate needs either cert and key, or pkcs12");
            }
            if (ocspFile != null && ocspFetch) {
                throw new IllegalArgumentException("give either ocsp_file, or ocsp_fetch");
            }
        }

        public static CertificateSpec pem(List<String> names, Path certChain, Path key, Path passphraseFile) {
            return new CertificateSpec(names, certChain, key, null, passphraseFile);
        }

        public static CertificateSpec pkcs12(List<String> names, Path file, Path passphraseFile) {
            return new CertificateSpec(names, null, null, file, passphraseFile);
        }

        /** This certificate, with {@code file} its OCSP response to staple (null for none). */
        public CertificateSpec withOcspFile(Path file) {
            return new CertificateSpec(names, certChain, key, pkcs12, passphraseFile, file, ocspFetch);
        }

        /** This certificate, its OCSP response fetched from its responder and stapled, or not. */
        public CertificateSpec withOcspFetch(boolean fetch) {
            return new CertificateSpec(names, certChain, key, pkcs12, passphraseFile, ocspFile, fetch);
        }

        /**
         * The served identity: the key and chain read ({@link #load}), with the OCSP response to
         * staple: from {@link #ocspFile}, or fetched by {@code ocsp} with {@link #ocspFetch}.
         *
         * @throws IllegalArgumentException naming the file or certificate, if it cannot be used
         */
        public ServerTlsContexts.Identity identity(OcspFetcher ocsp) {
            KeyMaterial material = load();
            return new ServerTlsContexts.Identity(names, material, ocspFile,
                    ocspFetch ? ocsp.fetched(material.chain()) : null);
        }

        /** Reads the key and chain; fails naming the file and what is wrong with it. */
        public KeyMaterial load() {
            return pkcs12 != null ? KeyMaterial.fromPkcs12(pkcs12, passphraseFile)
                    : KeyMaterial.fromPem(certChain, key, passphraseFile);
        }
    }
}
