package io.tlsd.daemon.config;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.engine.AllowedTargets;
import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.daemon.ipc.AllowedPeers;
import io.tlsd.daemon.logging.DaemonLog;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.AllowedIdentities;
import io.tlsd.daemon.tls.ServerTlsContexts;
import io.tlsd.daemon.tls.signing.SigningPolicy;
import io.tlsd.daemon.transport.ProxySources;
import io.tlsd.daemon.tunnel.TunnelConfig;
import io.tlsd.daemon.tunnel.TunnelSettings;
import java.io.IOException;
import java.io.Reader;
import java.net.IDN;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Reads a daemon's YAML configuration. Every problem names the file and the key path
 * ({@code limits.max_ops_in_flight}), and unknown keys are errors, so a typo never silently
 * falls back to a default. docs/configuration.md lists the keys.
 *
 * <pre>
 * socket: /run/tlsd/client.sock
 * tls:
 *   ca_file: /etc/tlsd/ca.pem
 *   protocols: [TLSv1.3]
 * limits:
 *   max_ops_in_flight: 1024
 * </pre>
 */
public final class ConfigFile {
    private static final Set<String> TOP = Set.of("socket", "transport", "worker_threads", "handshake_threads", "max_handshakes_in_flight", "worker_busy_poll", "tls", "timeouts", "limits",
            "listeners", "tunnels", "log_level", "log_format", "shared_memory", "metrics", "send_buffer", "tcp_keepalive", "max_sessions", "max_sessions_per_uid", "allowed_targets",
            "allowed_peers");
    private static final Set<String> SHARED_MEMORY = Set.of("dir", "write_ring_bytes");
    private static final Set<String> TUNNEL = Set.of("name", "listen", "target", "servername", "cert", "key", "pkcs12",
            "passphrase_file", "alpn", "client_auth", "client_ca_file", "proxy_protocol", "idle_timeout",
            "max_connections", "ca_file", "access_log", "max_connections_per_client", "certificates", "crl_file",
            "client_crl_file", "routes", "ocsp_file", "ocsp_fetch", "allowed_clients", "allowed_servers", "accept_proxy_protocol",
            "proxy_protocol_sources");
    /** The keys of {@code allowed_clients} and {@code allowed_servers}. */
    private static final Set<String> ALLOWED_CLIENTS = Set.of("common_names", "dns_names", "uris");
    private static final Set<String> ROUTE = Set.of("names", "target");
    private static final Pattern ROUTE_NAME =
            Pattern.compile("(\\*\\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*");
    private static final Set<String> TLS = Set.of("ca_file", "crl_file", "protocols", "groups", "provider", "ticket_key_rotation",
            "client_certificate", "signing");
    private static final Set<String> LISTENER = Set.of("name", "address", "certificates", "alpn", "client_auth",
            "client_ca_file", "client_crl_file", "handshake_timeout", "backlog", "max_pending_connections",
            "max_pending_connections_per_client", "allowed_clients", "allowed_peers", "accept_proxy_protocol",
            "proxy_protocol_sources");
    private static final Set<String> CERTIFICATE = Set.of("names", "cert", "key", "pkcs12", "passphrase_file",
            "ocsp_file", "ocsp_fetch");
    private static final Set<String> TIMEOUTS = Set.of("connect", "handshake", "hello", "drain");
    private static final Set<String> LIMITS = Set.of("max_write_bytes", "max_read_bytes", "max_ops_in_flight",
            "max_queued_write_bytes", "max_connections", "connection_buffer_bytes", "max_buffered_read_bytes");
    private static final Pattern DURATION = Pattern.compile("(\\d+)(us|ms|s|m|h|d)");
    private static final Pattern SIZE = Pattern.compile("(\\d+)(|KiB|MiB|GiB)");

    private final Path file;

    private ConfigFile(Path file) {
        this.file = file;
    }

    /** Parses and validates {@code file}; throws IllegalArgumentException naming what is wrong where. */
    public static DaemonConfig load(Path file) {
        return new ConfigFile(file).parse();
    }

    private DaemonConfig parse() {
        Object root;
        try (Reader in = Files.newBufferedReader(file)) {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(in);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + FileErrors.reason(e));
        } catch (YAMLException e) {
            throw new IllegalArgumentException(file + ": not valid YAML: " + e.getMessage());
        }
        DaemonConfig.Builder b = DaemonConfig.builder();
        if (root == null) {
            return b.build();
        }
        Map<String, Object> top = map(root, "(top level)", TOP);
        try {
            if (top.containsKey("socket")) {
                String socket = string(top.get("socket"), "socket");
                if (socket.equals("none")) {
                    b.ipcEnabled(false);
                } else {
                    b.socket(Path.of(socket));
                }
            }
            if (top.containsKey("max_sessions")) {
                b.maxSessions((int) Math.min(number(top.get("max_sessions"), "max_sessions"), Integer.MAX_VALUE));
            }
            if (top.containsKey("max_sessions_per_uid")) {
                b.maxSessionsPerUid((int) Math.min(numberOrZero(top.get("max_sessions_per_uid"), "max_sessions_per_uid"),
                        Integer.MAX_VALUE));
            }
            if (top.containsKey("tcp_keepalive")) {
                b.tcpKeepalive(parseDurationOrZero(top.get("tcp_keepalive"), "tcp_keepalive"));
            }
            if (top.containsKey("allowed_targets")) {
                try {
                    b.allowedTargets(AllowedTargets.of(strings(top.get("allowed_targets"), "allowed_targets")));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("allowed_targets: " + e.getMessage(), e);
                }
            }
            if (top.containsKey("send_buffer")) {
                b.sendBufferBytes(parseSizeOrZero(top.get("send_buffer"), "send_buffer"));
            }
            if (top.containsKey("metrics")) {
                String address = string(top.get("metrics"), "metrics");
                try {
                    b.metrics(Addresses.parse(address));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("metrics: " + e.getMessage(), e);
                }
            }
            if (top.containsKey("log_level")) {
                b.logLevel(string(top.get("log_level"), "log_level"));
            }
            if (top.containsKey("allowed_peers")) {
                AllowedPeers allowed = allowedPeers(top.get("allowed_peers"), "allowed_peers");
                if (!allowed.restricts()) {
                    throw new IllegalArgumentException(file + ": allowed_peers lists no uid or gid; leave it out to let"
                            + " anyone who can open the socket in");
                }
                b.allowedPeers(allowed);
            }
            if (top.containsKey("log_format")) {
                try {
                    b.logFormat(DaemonLog.Format.parse(string(top.get("log_format"), "log_format")));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("log_format: " + e.getMessage(), e);
                }
            }
            if (top.containsKey("transport")) {
                b.transport(string(top.get("transport"), "transport"));
            }
            if (top.containsKey("handshake_threads")) {
                b.handshakeThreads((int) numberOrZero(top.get("handshake_threads"), "handshake_threads"));
            }
            if (top.containsKey("max_handshakes_in_flight")) {
                b.maxHandshakesInFlight(parseHandshakesInFlight(top.get("max_handshakes_in_flight"), "max_handshakes_in_flight"));
            }
            if (top.containsKey("worker_busy_poll")) {
                b.workerBusyPoll(parseDurationOrZero(top.get("worker_busy_poll"), "worker_busy_poll"));
            }
            if (top.containsKey("worker_threads")) {
                b.workerThreads((int) number(top.get("worker_threads"), "worker_threads"));
            }
            if (top.containsKey("tls")) {
                Map<String, Object> tls = map(top.get("tls"), "tls", TLS);
                if (tls.containsKey("ca_file")) {
                    b.caFile(path(tls.get("ca_file"), "tls.ca_file"));
                }
                if (tls.containsKey("crl_file")) {
                    b.crlFile(path(tls.get("crl_file"), "tls.crl_file"));
                }
                if (tls.containsKey("protocols")) {
                    b.tlsProtocols(strings(tls.get("protocols"), "tls.protocols"));
                }
                if (tls.containsKey("groups")) {
                    b.tlsGroups(strings(tls.get("groups"), "tls.groups"));
                }
                if (tls.containsKey("provider")) {
                    b.tlsProvider(string(tls.get("provider"), "tls.provider"));
                }
                if (tls.containsKey("client_certificate")) {
                    ListenerConfig.CertificateSpec client = certificate(map(tls.get("client_certificate"),
                            "tls.client_certificate", CERTIFICATE), "tls.client_certificate", List.of());
                    if (client.ocspFile() != null || client.ocspFetch()) {
                        throw new IllegalArgumentException("tls.client_certificate." + (client.ocspFetch() ? "ocsp_fetch"
                                : "ocsp_file") + ": OCSP responses are stapled to served certificates only");
                    }
                    b.clientCertificate(client);
                }
                if (tls.containsKey("signing")) {
                    b.signing(SigningPolicy.parse(string(tls.get("signing"), "tls.signing")));
                }
                if (tls.containsKey("ticket_key_rotation")) {
                    b.ticketKeyRotation(duration(tls.get("ticket_key_rotation"), "tls.ticket_key_rotation"));
                }
            }
            if (top.containsKey("timeouts")) {
                Map<String, Object> t = map(top.get("timeouts"), "timeouts", TIMEOUTS);
                if (t.containsKey("connect")) {
                    b.connectTimeout(duration(t.get("connect"), "timeouts.connect"));
                }
                if (t.containsKey("handshake")) {
                    b.handshakeTimeout(duration(t.get("handshake"), "timeouts.handshake"));
                }
                if (t.containsKey("hello")) {
                    b.helloTimeout(duration(t.get("hello"), "timeouts.hello"));
                }
                if (t.containsKey("drain")) {
                    b.drainTimeout(parseDurationOrZero(t.get("drain"), "timeouts.drain"));
                }
            }
            if (top.containsKey("limits")) {
                b.limits(limits(map(top.get("limits"), "limits", LIMITS)));
            }
            if (top.containsKey("shared_memory")) {
                Map<String, Object> shm = map(top.get("shared_memory"), "shared_memory", SHARED_MEMORY);
                if (shm.containsKey("dir")) {
                    b.sharedMemoryDir(path(shm.get("dir"), "shared_memory.dir"));
                }
                if (shm.containsKey("write_ring_bytes")) {
                    Object bytes = shm.get("write_ring_bytes");
                    b.writeRingBytes(Integer.valueOf(0).equals(bytes) ? 0 : size(bytes, "shared_memory.write_ring_bytes"));
                }
            }
            if (top.containsKey("listeners")) {
                b.listeners(listeners(top.get("listeners")));
            }
            if (top.containsKey("tunnels")) {
                b.tunnels(tunnels(top.get("tunnels")));
            }
        } catch (IllegalArgumentException e) {
            if (e.getMessage().startsWith(file.toString())) {
                throw e;
            }
            throw new IllegalArgumentException(file + ": " + e.getMessage());
        }
        return b.build();
    }

    private List<ListenerConfig> listeners(Object value) {
        if (!(value instanceof List<?> list)) {
            throw new IllegalArgumentException("listeners: expected a list, got " + describe(value));
        }
        List<ListenerConfig> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String where = "listeners[" + i + "]";
            Map<String, Object> m = map(list.get(i), where, LISTENER);
            String name = m.containsKey("name") ? string(m.get("name"), where + ".name") : "default";
            where = "listeners[" + i + "] (" + name + ")";
            if (!m.containsKey("address")) {
                throw new IllegalArgumentException(where + ": address is missing");
            }
            if (!m.containsKey("certificates")) {
                throw new IllegalArgumentException(where + ": certificates is missing");
            }
            InetSocketAddress address;
            try {
                address = Addresses.parse(string(m.get("address"), where + ".address"));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ".address: " + e.getMessage());
            }
            out.add(new ListenerConfig(name, address, certificates(m.get("certificates"), where),
                    m.containsKey("alpn") ? strings(m.get("alpn"), where + ".alpn") : List.of(),
                    clientAuth(m, where),
                    m.containsKey("client_ca_file") ? path(m.get("client_ca_file"), where + ".client_ca_file") : null,
                    m.containsKey("handshake_timeout")
                            ? duration(m.get("handshake_timeout"), where + ".handshake_timeout") : Duration.ofSeconds(10),
                    m.containsKey("backlog") ? (int) number(m.get("backlog"), where + ".backlog") : 64,
                    connectionCount(m, "max_pending_connections", where, ListenerConfig.DEFAULT_MAX_PENDING_CONNECTIONS),
                    connectionCount(m, "max_pending_connections_per_client", where, 0),
                    m.containsKey("client_crl_file") ? path(m.get("client_crl_file"), where + ".client_crl_file") : null,
                    allowedClients(m, where),
                    m.containsKey("allowed_peers") ? allowedPeers(m.get("allowed_peers"), where + ".allowed_peers")
                            : null,
                    proxySources(m, where)));
        }
        return out;
    }

    /** {@code allowed_peers} at {@code where}: {@code uids} and {@code gids}, either may be absent. */
    private AllowedPeers allowedPeers(Object value, String where) {
        Map<String, Object> peers = map(value, where, Set.of("uids", "gids"));
        return AllowedPeers.of(ids(peers.get("uids"), where + ".uids"), ids(peers.get("gids"), where + ".gids"));
    }

    /** A listener's or server tunnel's {@code allowed_clients}: null when absent. */
    private AllowedIdentities allowedClients(Map<String, Object> m, String where) {
        return allowedIdentities(m, "allowed_clients", where);
    }

    /** {@code allowed_clients} or a client tunnel's {@code allowed_servers}: null when absent. */
    private AllowedIdentities allowedIdentities(Map<String, Object> m, String key, String where) {
        if (!m.containsKey(key)) {
            return null;
        }
        String aw = where + "." + key;
        Map<String, Object> a = map(m.get(key), aw, ALLOWED_CLIENTS);
        List<String> cns = a.containsKey("common_names") ? strings(a.get("common_names"), aw + ".common_names") : List.of();
        List<String> dns = a.containsKey("dns_names") ? strings(a.get("dns_names"), aw + ".dns_names") : List.of();
        List<String> uris = a.containsKey("uris") ? strings(a.get("uris"), aw + ".uris") : List.of();
        try {
            return new AllowedIdentities(cns, dns, uris);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(aw + ": " + e.getMessage());
        }
    }

    /** A listener's or server tunnel's {@code certificates}: each with optional SNI {@code names}. */
    private List<ListenerConfig.CertificateSpec> certificates(Object value, String where) {
        if (!(value instanceof List<?> list) || list.isEmpty()) {
            throw new IllegalArgumentException(where + ".certificates: expected a non-empty list");
        }
        List<ListenerConfig.CertificateSpec> certs = new ArrayList<>();
        for (int j = 0; j < list.size(); j++) {
            String cw = where + ".certificates[" + j + "]";
            Map<String, Object> c = map(list.get(j), cw, CERTIFICATE);
            certs.add(certificate(c, cw, c.containsKey("names") ? strings(c.get("names"), cw + ".names") : List.of()));
        }
        return certs;
    }

    private List<TunnelConfig> tunnels(Object value) {
        if (!(value instanceof List<?> list)) {
            throw new IllegalArgumentException("tunnels: expected a list, got " + describe(value));
        }
        List<TunnelConfig> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            Map<String, Object> m = map(list.get(i), "tunnels[" + i + "]", TUNNEL);
            String name = m.containsKey("name") ? string(m.get("name"), "tunnels[" + i + "].name") : "tunnel-" + (i + 1);
            String where = "tunnels[" + i + "] (" + name + ")";
            for (String required : List.of("listen", "target")) {
                if (!m.containsKey(required)) {
                    throw new IllegalArgumentException(where + ": " + required + " is missing");
                }
            }
            InetSocketAddress listen;
            String target = string(m.get("target"), where + ".target");
            try {
                listen = Addresses.parse(string(m.get("listen"), where + ".listen"));
                Addresses.unresolved(target); // checked here, resolved where it is used
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": " + e.getMessage());
            }
            boolean hasCertificate = m.containsKey("cert") || m.containsKey("key") || m.containsKey("pkcs12");
            if (hasCertificate && m.containsKey("certificates")) {
                throw new IllegalArgumentException(where + ": give either certificates, or cert and key (or pkcs12)");
            }
            for (String key : List.of("ocsp_file", "ocsp_fetch")) {
                if (!hasCertificate && m.containsKey(key) && !(key.equals("ocsp_fetch") && Boolean.FALSE.equals(m.get(key)))) {
                    throw new IllegalArgumentException(where + ": " + key + " goes with cert and key (or pkcs12)"
                            + (m.containsKey("certificates") ? "; in certificates, give it for each certificate" : ""));
                }
            }
            if (!hasCertificate && m.containsKey("passphrase_file")) {
                throw new IllegalArgumentException(where + ": passphrase_file goes with cert and key (or pkcs12)"
                        + (m.containsKey("certificates") ? "; in certificates, give it for each certificate" : ""));
            }
            out.add(new TunnelConfig(name, listen, target,
                    m.containsKey("servername") ? string(m.get("servername"), where + ".servername") : null,
                    hasCertificate ? certificate(m, where, List.of()) : null,
                    m.containsKey("alpn") ? strings(m.get("alpn"), where + ".alpn") : List.of(),
                    clientAuth(m, where),
                    m.containsKey("client_ca_file") ? path(m.get("client_ca_file"), where + ".client_ca_file") : null,
                    flag(m, "proxy_protocol", where),
                    m.containsKey("idle_timeout") ? duration(m.get("idle_timeout"), where + ".idle_timeout")
                            : Duration.ofMinutes(10),
                    connectionCount(m, "max_connections", where, TunnelSettings.DEFAULT_MAX_CONNECTIONS),
                    m.containsKey("ca_file") ? path(m.get("ca_file"), where + ".ca_file") : null,
                    flag(m, "access_log", where),
                    connectionCount(m, "max_connections_per_client", where, 0),
                    m.containsKey("certificates") ? certificates(m.get("certificates"), where) : List.of(),
                    m.containsKey("crl_file") ? path(m.get("crl_file"), where + ".crl_file") : null,
                    m.containsKey("client_crl_file") ? path(m.get("client_crl_file"), where + ".client_crl_file") : null,
                    m.containsKey("routes") ? routes(m.get("routes"), where) : List.of(),
                    allowedClients(m, where), allowedIdentities(m, "allowed_servers", where),
                    proxySources(m, where)));
        }
        return out;
    }

    /** A server tunnel's {@code routes}: each {@code names} (SNI, at least one) and a {@code target}. */
    private List<TunnelConfig.Route> routes(Object value, String where) {
        if (!(value instanceof List<?> list) || list.isEmpty()) {
            throw new IllegalArgumentException(where + ".routes: expected a non-empty list");
        }
        List<TunnelConfig.Route> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int j = 0; j < list.size(); j++) {
            String rw = where + ".routes[" + j + "]";
            Map<String, Object> r = map(list.get(j), rw, ROUTE);
            for (String required : List.of("names", "target")) {
                if (!r.containsKey(required)) {
                    throw new IllegalArgumentException(rw + ": " + required + " is missing");
                }
            }
            List<String> names = strings(r.get("names"), rw + ".names");
            if (names.isEmpty()) {
                throw new IllegalArgumentException(rw + ".names: expected at least one name");
            }
            Set<String> inThisRoute = new HashSet<>();
            for (String name : names) {
                String normal = routeName(name, rw + ".names");
                if (!inThisRoute.add(normal)) {
                    throw new IllegalArgumentException(rw + ".names: '" + name + "' is there twice");
                }
                if (!seen.add(normal)) {
                    throw new IllegalArgumentException(rw + ".names: '" + name + "' is in an earlier route too");
                }
            }
            String target = string(r.get("target"), rw + ".target");
            try {
                Addresses.unresolved(target); // checked here, resolved where it is used
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(rw + ".target: " + e.getMessage());
            }
            out.add(new TunnelConfig.Route(names, target));
        }
        return out;
    }

    /**
     * A route's name as the SNI lookup compares it (ASCII, lower case): a host name, or {@code
     * *.} and a host name for the names one label under it.
     */
    private static String routeName(String name, String where) {
        String ascii;
        try {
            ascii = IDN.toASCII(name, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": '" + name + "' is not a host name: " + e.getMessage());
        }
        if (!ROUTE_NAME.matcher(ascii).matches()) {
            throw new IllegalArgumentException(where + ": '" + name + "' is not a host name, or *. and a host name");
        }
        return ascii;
    }

    /** A list of user or group ids (0 or more each); empty when absent. */
    private static List<Integer> ids(Object value, String where) {
        if (value == null) {
            return List.of();
        }
        if (!(value instanceof List<?> list)) {
            throw new IllegalArgumentException(where + ": expected a list of numeric ids, got " + describe(value));
        }
        List<Integer> ids = new ArrayList<>();
        for (Object id : list) {
            if (!(id instanceof Integer n) || n < 0) {
                throw new IllegalArgumentException(where + ": expected a numeric id from 0 to " + Integer.MAX_VALUE
                        + ", got " + describe(id));
            }
            ids.add(n);
        }
        return ids;
    }

    /**
     * {@code accept_proxy_protocol} and {@code proxy_protocol_sources} at {@code where}: the
     * balancers whose PROXY headers are taken, {@link ProxySources#ANY} without a list, null
     * without a header.
     */
    private ProxySources proxySources(Map<String, Object> m, String where) {
        boolean on = flag(m, "accept_proxy_protocol", where);
        if (!m.containsKey("proxy_protocol_sources")) {
            return on ? ProxySources.ANY : null;
        }
        String key = where + ".proxy_protocol_sources";
        if (!on) {
            throw new IllegalArgumentException(key + ": needs accept_proxy_protocol: true");
        }
        try {
            return ProxySources.of(strings(m.get("proxy_protocol_sources"), key));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(key + ": " + e.getMessage(), e);
        }
    }

    /** {@code key} of {@code m}: true or false, false when absent. */
    private static boolean flag(Map<String, Object> m, String key, String where) {
        Object value = m.getOrDefault(key, Boolean.FALSE);
        if (!(value instanceof Boolean b)) {
            throw new IllegalArgumentException(where + "." + key + ": expected true or false, got " + describe(value));
        }
        return b;
    }

    private ListenerConfig.CertificateSpec certificate(Map<String, Object> c, String where, List<String> names) {
        Path pass = c.containsKey("passphrase_file") ? path(c.get("passphrase_file"), where + ".passphrase_file") : null;
        Path ocsp = c.containsKey("ocsp_file") ? path(c.get("ocsp_file"), where + ".ocsp_file") : null;
        boolean fetch = flag(c, "ocsp_fetch", where);
        if (ocsp != null && fetch) {
            throw new IllegalArgumentException(where + ": give either ocsp_file, or ocsp_fetch: true");
        }
        if (c.containsKey("pkcs12")) {
            if (c.containsKey("cert") || c.containsKey("key")) {
                throw new IllegalArgumentException(where + ": give either pkcs12, or cert and key");
            }
            return ListenerConfig.CertificateSpec.pkcs12(names, path(c.get("pkcs12"), where + ".pkcs12"), pass)
                    .withOcspFile(ocsp).withOcspFetch(fetch);
        }
        if (c.containsKey("cert") && c.containsKey("key")) {
            return ListenerConfig.CertificateSpec.pem(names, path(c.get("cert"), where + ".cert"),
                    path(c.get("key"), where + ".key"), pass).withOcspFile(ocsp).withOcspFetch(fetch);
        }
        throw new IllegalArgumentException(where + ": needs cert and key, or pkcs12");
    }

    private ServerTlsContexts.ClientAuthPolicy clientAuth(Map<String, Object> m, String where) {
        if (!m.containsKey("client_auth")) {
            return ServerTlsContexts.ClientAuthPolicy.NONE;
        }
        String a = string(m.get("client_auth"), where + ".client_auth");
        try {
            return ServerTlsContexts.ClientAuthPolicy.valueOf(a.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ".client_auth: expected none, optional or required, got '"
                    + a + "'");
        }
    }

    /** A path in the file, relative to the file's directory. */
    private Path path(Object value, String where) {
        Path p = Path.of(string(value, where));
        Path dir = file.toAbsolutePath().getParent();
        return p.isAbsolute() || dir == null ? p : dir.resolve(p);
    }

    private SessionLimits limits(Map<String, Object> m) {
        SessionLimits d = SessionLimits.DEFAULTS;
        return new SessionLimits(
                (int) sizeOr(m, "max_write_bytes", d.maxWriteBytes()),
                (int) sizeOr(m, "max_read_bytes", d.maxReadBytes()),
                (int) numberOr(m, "max_ops_in_flight", d.maxOpsInFlight()),
                sizeOr(m, "max_queued_write_bytes", d.maxQueuedWriteBytes()),
                (int) numberOr(m, "max_connections", d.maxConnections()),
                (int) sizeOr(m, "connection_buffer_bytes", d.connectionBufferBytes()),
                sizeOr(m, "max_buffered_read_bytes", d.maxBufferedReadBytes()));
    }

    private long numberOr(Map<String, Object> m, String key, long fallback) {
        return m.containsKey(key) ? number(m.get(key), "limits." + key) : fallback;
    }

    private long sizeOr(Map<String, Object> m, String key, long fallback) {
        return m.containsKey(key) ? size(m.get(key), "limits." + key) : fallback;
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> map(Object value, String where, Set<String> allowed) {
        if (!(value instanceof Map)) {
            throw new IllegalArgumentException(file + ": " + where + ": expected a mapping");
        }
        Map<String, Object> m = new LinkedHashMap<>();
        for (Map.Entry<Object, Object> e : ((Map<Object, Object>) value).entrySet()) {
            String key = String.valueOf(e.getKey());
            if (!allowed.contains(key)) {
                String prefix = where.startsWith("(") ? "" : where + ".";
                throw new IllegalArgumentException(file + ": unknown key '" + prefix + key + "' (known: "
                        + String.join(", ", allowed.stream().sorted().toList()) + ")");
            }
            m.put(key, e.getValue());
        }
        return m;
    }

    private String string(Object value, String where) {
        if (!(value instanceof String s) || s.isEmpty()) {
            throw new IllegalArgumentException(where + ": expected a non-empty string, got " + describe(value));
        }
        return s;
    }

    private List<String> strings(Object value, String where) {
        if (!(value instanceof List<?> list)) {
            throw new IllegalArgumentException(where + ": expected a list, got " + describe(value));
        }
        List<String> out = new ArrayList<>();
        for (Object o : list) {
            out.add(string(o, where + "[]"));
        }
        return out;
    }

    private static long number(Object value, String where) {
        if (!(value instanceof Integer || value instanceof Long) || ((Number) value).longValue() <= 0) {
            throw new IllegalArgumentException(where + ": expected a positive integer, got " + describe(value));
        }
        return ((Number) value).longValue();
    }

    /**
     * {@code adaptive} ({@link DaemonConfig#ADAPTIVE_HANDSHAKES}), 0 (no limit) or a positive
     * integer; a string of digits too, as on the command line.
     */
    public static int parseHandshakesInFlight(Object value, String where) {
        if ("adaptive".equals(value)) {
            return DaemonConfig.ADAPTIVE_HANDSHAKES;
        }
        Object v = value instanceof String s && s.matches("[0-9]{1,9}") ? Integer.valueOf(s) : value;
        if (!(v instanceof Integer i) || i < 0) {
            throw new IllegalArgumentException(where + ": expected adaptive, 0 (no limit) or a positive integer, got "
                    + describe(value));
        }
        return i;
    }

    /** A positive integer, or 0 where 0 means "none". */
    private long numberOrZero(Object value, String where) {
        if (Integer.valueOf(0).equals(value)) {
            return 0;
        }
        if (!(value instanceof Integer || value instanceof Long) || ((Number) value).longValue() < 0) {
            throw new IllegalArgumentException(where + ": expected 0 or a positive integer, got " + describe(value));
        }
        return ((Number) value).longValue();
    }

    /** A listener's or tunnel's connection limit: 0 (none) or a positive int; {@code fallback} when absent. */
    private int connectionCount(Map<String, Object> m, String key, String where, int fallback) {
        if (!m.containsKey(key)) {
            return fallback;
        }
        long n = numberOrZero(m.get(key), where + "." + key);
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(where + "." + key + ": " + n + " is more than " + Integer.MAX_VALUE);
        }
        return (int) n;
    }

    /** {@code 0} or a size like {@code 1MiB} (a string of digits too, as on the command line). */
    public static long parseSizeOrZero(Object value, String where) {
        if (Integer.valueOf(0).equals(value) || "0".equals(value)) {
            return 0;
        }
        return size(value instanceof String s && s.matches("[0-9]{1,18}") ? Long.valueOf(s) : value, where);
    }

    private static long size(Object value, String where) {
        if (value instanceof Integer || value instanceof Long) {
            return number(value, where);
        }
        Matcher m = value instanceof String s ? SIZE.matcher(s.replace(" ", "")) : null;
        if (m == null || !m.matches()) {
            throw new IllegalArgumentException(where + ": expected a size like 65536, 64KiB or 1MiB, got "
                    + describe(value));
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "KiB" -> n << 10;
            case "MiB" -> n << 20;
            case "GiB" -> n << 30;
            default -> n;
        };
    }

    private Duration duration(Object value, String where) {
        return parseDuration(value, where);
    }

    /** {@link #parseDuration}, or a bare 0 (number or text) for "none". */
    public static Duration parseDurationOrZero(Object value, String where) {
        return Integer.valueOf(0).equals(value) || "0".equals(value) ? Duration.ZERO : parseDuration(value, where);
    }

    /** "50us", "500ms", "10s", "2m", "1h", "1d"; throws IllegalArgumentException naming {@code where}. */
    public static Duration parseDuration(Object value, String where) {
        Matcher m = value instanceof String s ? DURATION.matcher(s) : null;
        if (m == null || !m.matches()) {
            throw new IllegalArgumentException(where + ": expected a duration like 500ms, 10s, 2m, 1h, 1d or 50us, got "
                    + describe(value));
        }
        try {
            return ofUnit(Long.parseLong(m.group(1)), m.group(2));
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException(where + ": duration too long: " + describe(value));
        }
    }

    private static Duration ofUnit(long n, String unit) {
        return switch (unit) {
            case "us" -> Duration.ofNanos(Math.multiplyExact(n, 1000L));
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
    }

    private static String describe(Object value) {
        return value == null ? "nothing" : "'" + value + "'";
    }
}
