package io.tlsd.daemon.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.ipc.AllowedPeers;
import io.tlsd.daemon.logging.DaemonLog;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy;
import io.tlsd.daemon.tls.AllowedIdentities;
import io.tlsd.daemon.transport.ProxySources;
import io.tlsd.daemon.tunnel.TunnelConfig;
import io.tlsd.daemon.tunnel.TunnelSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigFileTest {
    @TempDir
    Path dir;

    private Path write(String yaml) throws Exception {
        return Files.writeString(dir.resolve("tlsd.yaml"), yaml);
    }

    private String error(String yaml) throws Exception {
        Path file = write(yaml);
        return assertThrows(IllegalArgumentException.class, () -> ConfigFile.load(file)).getMessage();
    }

    @Test
    void fullFileIsRead() throws Exception {
        DaemonConfig c = ConfigFile.load(write("""
                socket: /run/tlsd/x.sock
                transport: nio
                worker_threads: 3
                tls:
                  ca_file: ca.pem
                  protocols: [TLSv1.3, TLSv1.2]
                  ticket_key_rotation: 30m
                timeouts:
                  connect: 500ms
                  handshake: 2s
                limits:
                  max_ops_in_flight: 10
                  max_write_bytes: 64KiB
                  connection_buffer_bytes: 1MiB
                listeners:
                  - name: api
                    address: 127.0.0.1:8443
                    certificates:
                      - cert: a.pem
                        key: a.key
                      - names: ["*.example.com"]
                        pkcs12: b.p12
                        passphrase_file: b.pass
                    alpn: [h2]
                    client_auth: required
                    client_ca_file: clients.pem
                    handshake_timeout: 3s
                    backlog: 5
                """));
        assertEquals(Path.of("/run/tlsd/x.sock"), c.socket());
        assertEquals("nio", c.transport());
        assertEquals(3, c.workerThreads());
        assertEquals(dir.resolve("ca.pem"), c.caFile(), "relative paths are relative to the file");
        assertEquals(List.of("TLSv1.3", "TLSv1.2"), c.tlsProtocols());
        assertEquals(Duration.ofMinutes(30), c.ticketKeyRotation());
        assertEquals(Duration.ofMillis(500), c.connectTimeout());
        assertEquals(10, c.limits().maxOpsInFlight());
        assertEquals(64 << 10, c.limits().maxWriteBytes());
        assertEquals(1 << 20, c.limits().connectionBufferBytes());
        ListenerConfig l = c.listeners().get(0);
        assertEquals("api", l.name());
        assertEquals(8443, l.address().getPort());
        assertEquals(2, l.certificates().size());
        assertEquals(List.of("*.example.com"), l.certificates().get(1).names());
        assertEquals(dir.resolve("b.p12"), l.certificates().get(1).pkcs12());
        assertEquals(ClientAuthPolicy.REQUIRED, l.clientAuth());
        assertEquals(Duration.ofSeconds(3), l.handshakeTimeout());
        assertEquals(5, l.backlog());
    }

    @Test
    void emptyFileMeansDefaults() throws Exception {
        assertEquals(DaemonConfig.builder().build().limits(), ConfigFile.load(write("")).limits());
    }

    @Test
    void unknownKeyIsNamedWithItsPath() throws Exception {
        String msg = error("limits:\n  max_ops: 3\n");
        assertTrue(msg.contains("unknown key 'limits.max_ops'"), msg);
        assertTrue(msg.contains("max_ops_in_flight"), "lists the known keys: " + msg);
    }

    @Test
    void durationsTakeHoursAndDays() throws Exception {
        DaemonConfig config = ConfigFile.load(write("tls:\n  ticket_key_rotation: 1h\ntimeouts:\n  drain: 1d\n"));
        assertEquals(Duration.ofHours(1), config.ticketKeyRotation());
        assertEquals(Duration.ofDays(1), config.drainTimeout());
        assertEquals(Duration.ofMinutes(90), ConfigFile.parseDuration("90m", "x"));
        assertTrue(error("timeouts:\n  connect: 99999999999999999999s\n").contains("timeouts.connect: duration too long"));
        assertTrue(error("timeouts:\n  connect: 9999999999999999us\n").contains("timeouts.connect: duration too long"));
    }

    @Test
    void aListenerMayNameTheProcessesThatAcceptOnIt() throws Exception {
        String listener = "listeners:\n  - name: web\n    address: 127.0.0.1:8443\n    certificates:\n"
                + "      - {cert: /c.pem, key: /k.pem}\n";
        DaemonConfig c = ConfigFile.load(write(listener + "    allowed_peers: {uids: [1000], gids: [2000]}\n"));
        assertEquals(AllowedPeers.of(List.of(1000), List.of(2000)), c.listeners().get(0).allowedPeers());
        assertEquals(null, ConfigFile.load(write(listener)).listeners().get(0).allowedPeers());
        String msg = error(listener + "    allowed_peers: {}\n");
        assertTrue(msg.contains("listener web: allowed_peers lists no uid or gid"), msg);
        msg = error(listener + "    allowed_peers: {users: [1]}\n");
        assertTrue(msg.contains("listeners[0] (web).allowed_peers.users"), msg);
    }

    @Test
    void listenersAndServerTunnelsMayAcceptAProxyHeader() throws Exception {
        DaemonConfig c = ConfigFile.load(write("listeners:\n  - name: web\n    address: 127.0.0.1:8443\n"
                + "    certificates:\n      - {cert: /c.pem, key: /k.pem}\n    accept_proxy_protocol: true\n"
                + "tunnels:\n  - name: in\n    listen: 127.0.0.1:9443\n    target: 127.0.0.1:80\n"
                + "    cert: /c.pem\n    key: /k.pem\n    accept_proxy_protocol: true\n"));
        assertEquals(ProxySources.ANY, c.listeners().get(0).acceptProxyProtocol());
        assertEquals(ProxySources.ANY, c.tunnels().get(0).acceptProxyProtocol());
        assertEquals(List.of("accept_proxy_protocol"), c.tunnels().get(0).serverRoleKeys(),
                "a client-role tunnel refuses it");
    }

    @Test
    void proxyHeadersMayBeTakenFromTheListedBalancersOnly() throws Exception {
        String listener = "listeners:\n  - name: web\n    address: 127.0.0.1:8443\n    certificates:\n"
                + "      - {cert: /c.pem, key: /k.pem}\n";
        DaemonConfig c = ConfigFile.load(write(listener + "    accept_proxy_protocol: true\n"
                + "    proxy_protocol_sources: [10.0.0.0/8, \"2001:db8::7\"]\n"
                + "tunnels:\n  - name: in\n    listen: 127.0.0.1:9443\n    target: 127.0.0.1:80\n"
                + "    cert: /c.pem\n    key: /k.pem\n    accept_proxy_protocol: true\n"
                + "    proxy_protocol_sources: [192.0.2.1]\n"));
        assertEquals(ProxySources.of(List.of("10.0.0.0/8", "2001:db8::7")), c.listeners().get(0).acceptProxyProtocol());
        assertEquals(ProxySources.of(List.of("192.0.2.1")), c.tunnels().get(0).acceptProxyProtocol());
        assertEquals(null, ConfigFile.load(write(listener)).listeners().get(0).acceptProxyProtocol());

        String msg = error(listener + "    proxy_protocol_sources: [10.0.0.0/8]\n");
        assertTrue(msg.contains("listeners[0] (web).proxy_protocol_sources: needs accept_proxy_protocol: true"), msg);
        msg = error(listener + "    accept_proxy_protocol: true\n    proxy_protocol_sources: [lb.internal]\n");
        assertTrue(msg.contains("listeners[0] (web).proxy_protocol_sources: \"lb.internal\" is no IP address"), msg);
        msg = error(listener + "    accept_proxy_protocol: true\n    proxy_protocol_sources: []\n");
        assertTrue(msg.contains("proxy_protocol_sources: lists no address"), msg);
    }

    @Test
    void maxSessionsPerUidIsOffByDefault() throws Exception {
        assertEquals(0, ConfigFile.load(write("")).maxSessionsPerUid());
        assertEquals(16, ConfigFile.load(write("max_sessions_per_uid: 16\n")).maxSessionsPerUid());
        assertEquals(0, ConfigFile.load(write("max_sessions_per_uid: 0\n")).maxSessionsPerUid());
        String msg = error("max_sessions_per_uid: 70000\n");
        assertTrue(msg.contains("max_sessions_per_uid 70000 is not in 0..65536"), msg);
    }

    @Test
    void tcpKeepaliveIsOnByDefaultAndCanBeTurnedOff() throws Exception {
        assertEquals(Duration.ofMinutes(1), ConfigFile.load(write("")).tcpKeepalive().idle());
        assertEquals(Duration.ofMinutes(5), ConfigFile.load(write("tcp_keepalive: 5m\n")).tcpKeepalive().idle());
        assertFalse(ConfigFile.load(write("tcp_keepalive: 0\n")).tcpKeepalive().enabled());
        String msg = error("tcp_keepalive: 500ms\n");
        assertTrue(msg.contains("tcp_keepalive: 500ms is neither 0 (off) nor between 1s and 32767s"), msg);
    }

    @Test
    void wrongTypesSayWhatWasExpected() throws Exception {
        assertTrue(error("worker_threads: many\n").contains("worker_threads: expected a positive integer, got 'many'"));
        assertTrue(error("timeouts:\n  connect: 10\n").contains("timeouts.connect: expected a duration like 500ms"));
        assertTrue(error("limits:\n  max_write_bytes: lots\n").contains("limits.max_write_bytes: expected a size"));
        assertTrue(error("transport: carrier-pigeon\n").contains("unknown transport 'carrier-pigeon'"));
        String flag = error("tunnels:\n  - listen: :8080\n    target: example.com:443\n    access_log: often\n");
        assertTrue(flag.contains("tunnels[0] (tunnel-1).access_log: expected true or false, got 'often'"), flag);
    }

    @Test
    void logLevelAndFormat() throws Exception {
        DaemonConfig c = ConfigFile.load(write("log_level: debug\nlog_format: json\n"));
        assertEquals("debug", c.logLevel());
        assertEquals(DaemonLog.Format.JSON, c.logFormat());
        assertEquals(DaemonLog.Format.TEXT, ConfigFile.load(write("")).logFormat());
        assertTrue(error("log_format: xml\n").contains("log_format: unknown log format 'xml' (text or json)"));
        assertTrue(error("log_level: loud\n").contains("unknown log level 'loud' (error, warn, info, debug)"));
    }

    @Test
    void aClientTunnelsOwnTrustCertificateAndAlpn() throws Exception {
        DaemonConfig c = ConfigFile.load(write("""
                tunnels:
                  - name: partner
                    listen: 127.0.0.1:8080
                    target: api.partner.example:443
                    ca_file: partner-ca.pem
                    cert: sidecar.pem
                    key: sidecar.key
                    alpn: [h2]
                """));
        TunnelConfig t = c.tunnels().get(0);
        assertEquals(Path.of("partner-ca.pem"), t.caFile().getFileName());
        assertEquals(Path.of("sidecar.pem"), t.certificate().certChain().getFileName());
        assertEquals(List.of("h2"), t.alpn());
        assertTrue(t.hasOwnTrustOrIdentity());
        t.checkRole(false);
        assertEquals("tunnel partner: ca_file applies to client-role tunnels only",
                assertThrows(IllegalArgumentException.class, () -> t.checkRole(true)).getMessage());
    }

    @Test
    void aServerTunnelsCertificatesBySni() throws Exception {
        DaemonConfig c = ConfigFile.load(write("""
                tunnels:
                  - name: web
                    listen: :8443
                    target: 127.0.0.1:8080
                    certificates:
                      - cert: default.pem
                        key: default.key
                      - names: [api.example.com, "*.api.example.com"]
                        cert: api.pem
                        key: api.key
                        passphrase_file: api.pass
                """));
        TunnelConfig t = c.tunnels().get(0);
        assertNull(t.certificate());
        assertEquals(2, t.servedCertificates().size());
        assertEquals(List.of(), t.servedCertificates().get(0).names());
        assertEquals(List.of("api.example.com", "*.api.example.com"), t.servedCertificates().get(1).names());
        assertEquals(Path.of("api.pass"), t.servedCertificates().get(1).passphraseFile().getFileName());
        t.checkRole(true);
        assertEquals("tunnel web: certificates applies to server-role tunnels only",
                assertThrows(IllegalArgumentException.class, () -> t.checkRole(false)).getMessage());

        DaemonConfig routed = ConfigFile.load(write("""
                tunnels:
                  - name: web
                    listen: :8443
                    target: 127.0.0.1:8080
                    cert: a.pem
                    key: a.key
                    routes:
                      - names: [api.example.com, "*.api.example.com"]
                        target: 127.0.0.1:9090
                """));
        TunnelConfig r = routed.tunnels().get(0);
        assertEquals(List.of(new TunnelConfig.Route(List.of("api.example.com", "*.api.example.com"), "127.0.0.1:9090")),
                r.routes());
        assertEquals("tunnel web: routes applies to server-role tunnels only",
                assertThrows(IllegalArgumentException.class, () -> r.checkRole(false)).getMessage());
        String twice = error("tunnels:\n  - listen: :8443\n    target: 127.0.0.1:8080\n    cert: a.pem\n    key: a.key\n"
                + "    routes:\n      - names: [a.test]\n        target: 127.0.0.1:1\n"
                + "      - names: [b.test, A.test]\n        target: 127.0.0.1:2\n");
        assertTrue(twice.contains("tunnels[0] (tunnel-1).routes[1].names: 'A.test' is in an earlier route too"), twice);
        for (String bad : List.of("'*'", ".x", "'a.*.test'", "api.test.", "'*foo.test'")) {
            String message = error("tunnels:\n  - listen: :8443\n    target: 127.0.0.1:8080\n    cert: a.pem\n"
                    + "    key: a.key\n    routes:\n      - names: [" + bad + "]\n        target: 127.0.0.1:1\n");
            assertTrue(message.contains("tunnels[0] (tunnel-1).routes[0].names: '"), bad + ": " + message);
            assertTrue(message.contains("is not a host name"), bad + ": " + message);
        }
        String repeated = error("tunnels:\n  - listen: :8443\n    target: 127.0.0.1:8080\n    cert: a.pem\n"
                + "    key: a.key\n    routes:\n      - names: [a.test, A.TEST]\n        target: 127.0.0.1:1\n");
        assertTrue(repeated.contains("routes[0].names: 'A.TEST' is there twice"), repeated);
        String badTarget = error("tunnels:\n  - listen: :8443\n    target: 127.0.0.1:8080\n    cert: a.pem\n"
                + "    key: a.key\n    routes:\n      - names: [a.test]\n        target: nowhere\n");
        assertTrue(badTarget.contains("tunnels[0] (tunnel-1).routes[0].target: "), badTarget);

        String both = error("tunnels:\n  - listen: :8443\n    target: 127.0.0.1:8080\n    cert: a.pem\n    key: a.key\n"
                + "    certificates:\n      - cert: b.pem\n        key: b.key\n");
        assertTrue(both.contains("tunnels[0] (tunnel-1): give either certificates, or cert and key (or pkcs12)"), both);
        String empty = error("tunnels:\n  - listen: :8443\n    target: 127.0.0.1:8080\n    certificates: []\n");
        assertTrue(empty.contains("tunnels[0] (tunnel-1).certificates: expected a non-empty list"), empty);
        String stray = error("tunnels:\n  - listen: :8443\n    target: 127.0.0.1:8080\n    passphrase_file: p\n"
                + "    certificates:\n      - cert: b.pem\n        key: b.key\n");
        assertTrue(stray.contains("tunnels[0] (tunnel-1): passphrase_file goes with cert and key (or pkcs12); "
                + "in certificates, give it for each certificate"), stray);
    }

    @Test
    void revocationListsGoWithTheirTrustAnchors() throws Exception {
        DaemonConfig c = ConfigFile.load(write("""
                tls:
                  ca_file: ca.pem
                  crl_file: ca.crl
                listeners:
                  - address: :8443
                    certificates:
                      - cert: a.pem
                        key: a.key
                    client_auth: required
                    client_ca_file: clients.pem
                    client_crl_file: clients.crl
                tunnels:
                  - name: partner
                    listen: :8080
                    target: api.partner.example:443
                    ca_file: partner.pem
                    crl_file: partner.crl
                  - name: sidecar
                    listen: :8444
                    target: 127.0.0.1:8080
                    cert: a.pem
                    key: a.key
                    client_auth: optional
                    client_ca_file: clients.pem
                    client_crl_file: clients.crl
                """));
        assertEquals(Path.of("ca.crl"), c.crlFile().getFileName());
        assertEquals(Path.of("clients.crl"), c.listeners().get(0).clientCrlFile().getFileName());
        TunnelConfig partner = c.tunnels().get(0);
        assertEquals(Path.of("partner.crl"), partner.crlFile().getFileName());
        assertEquals("tunnel partner: ca_file, crl_file apply to client-role tunnels only",
                assertThrows(IllegalArgumentException.class, () -> partner.checkRole(true)).getMessage());
        TunnelConfig sidecar = c.tunnels().get(1);
        assertEquals(Path.of("clients.crl"), sidecar.clientCrlFile().getFileName());
        assertEquals("tunnel sidecar: client_auth, client_ca_file, client_crl_file apply to server-role tunnels only",
                assertThrows(IllegalArgumentException.class, () -> sidecar.checkRole(false)).getMessage());

        String listener = error("listeners:\n  - address: :8443\n    certificates:\n      - cert: a.pem\n"
                + "        key: a.key\n    client_crl_file: clients.crl\n");
        assertTrue(listener.contains("listener default: client_crl_file needs client_ca_file"), listener);
        String tunnel = error("tunnels:\n  - listen: :8443\n    target: 127.0.0.1:8080\n    cert: a.pem\n"
                + "    key: a.key\n    client_crl_file: clients.crl\n");
        assertTrue(tunnel.contains("tunnel tunnel-1: client_crl_file needs client_ca_file"), tunnel);
    }

    @Test
    void ocspFilesGoWithServedCertificates() throws Exception {
        DaemonConfig c = ConfigFile.load(write("""
                listeners:
                  - address: :8443
                    certificates:
                      - cert: a.pem
                        key: a.key
                        ocsp_file: a.ocsp
                tunnels:
                  - name: sidecar
                    listen: :8444
                    target: 127.0.0.1:8080
                    cert: a.pem
                    key: a.key
                    ocsp_file: a.ocsp
                """));
        assertEquals(Path.of("a.ocsp"), c.listeners().get(0).certificates().get(0).ocspFile().getFileName());
        TunnelConfig sidecar = c.tunnels().get(0);
        assertEquals(Path.of("a.ocsp"), sidecar.certificate().ocspFile().getFileName());
        sidecar.checkRole(true);
        assertEquals("tunnel sidecar: ocsp_file applies to server-role tunnels only",
                assertThrows(IllegalArgumentException.class, () -> sidecar.checkRole(false)).getMessage());
        String client = error("tls:\n  client_certificate:\n    cert: a.pem\n    key: a.key\n    ocsp_file: a.ocsp\n");
        assertTrue(client.contains("tls.client_certificate.ocsp_file: OCSP responses are stapled to served"
                + " certificates only"), client);
        String alone = error("tunnels:\n  - listen: :8443\n    target: 127.0.0.1:8080\n    ocsp_file: a.ocsp\n"
                + "    certificates:\n      - cert: b.pem\n        key: b.key\n");
        assertTrue(alone.contains("tunnels[0] (tunnel-1): ocsp_file goes with cert and key (or pkcs12); in certificates,"
                + " give it for each certificate"), alone);
    }

    @Test
    void ocspFetchGoesWithServedCertificatesAndNotWithAnOcspFile() throws Exception {
        DaemonConfig c = ConfigFile.load(write("""
                listeners:
                  - address: :8443
                    certificates:
                      - cert: a.pem
                        key: a.key
                        ocsp_fetch: true
                tunnels:
                  - name: sidecar
                    listen: :8444
                    target: 127.0.0.1:8080
                    cert: a.pem
                    key: a.key
                    ocsp_fetch: true
                """));
        assertTrue(c.listeners().get(0).certificates().get(0).ocspFetch());
        TunnelConfig sidecar = c.tunnels().get(0);
        assertTrue(sidecar.certificate().ocspFetch());
        assertEquals("tunnel sidecar: ocsp_fetch applies to server-role tunnels only",
                assertThrows(IllegalArgumentException.class, () -> sidecar.checkRole(false)).getMessage());
        String both = error("listeners:\n  - address: :8443\n    certificates:\n      - cert: a.pem\n        key: a.key\n"
                + "        ocsp_file: a.ocsp\n        ocsp_fetch: true\n");
        assertTrue(both.contains("give either ocsp_file, or ocsp_fetch: true"), both);
        String client = error("tls:\n  client_certificate:\n    cert: a.pem\n    key: a.key\n    ocsp_fetch: true\n");
        assertTrue(client.contains("tls.client_certificate.ocsp_fetch: OCSP responses are stapled to served"
                + " certificates only"), client);
        String notAFlag = error("tunnels:\n  - listen: :8443\n    target: 127.0.0.1:8080\n    cert: a.pem\n"
                + "    key: a.key\n    ocsp_fetch: yes please\n");
        assertTrue(notAFlag.contains("ocsp_fetch: expected true or false"), notAFlag);
    }

    @Test
    void allowedClientsNeedARequiredClientCertificate() throws Exception {
        DaemonConfig c = ConfigFile.load(write("""
                listeners:
                  - address: :8443
                    certificates:
                      - cert: a.pem
                        key: a.key
                    client_auth: required
                    client_ca_file: ca.pem
                    allowed_clients:
                      common_names: [billing]
                      uris: ["spiffe://example.org/billing"]
                tunnels:
                  - name: sidecar
                    listen: :8444
                    target: 127.0.0.1:8080
                    cert: a.pem
                    key: a.key
                    client_auth: required
                    client_ca_file: ca.pem
                    allowed_clients: {dns_names: [billing.internal]}
                """));
        assertEquals(new AllowedIdentities(List.of("billing"), List.of(), List.of("spiffe://example.org/billing")),
                c.listeners().get(0).allowedClients());
        TunnelConfig sidecar = c.tunnels().get(0);
        assertEquals(List.of("billing.internal"), sidecar.allowedClients().dnsNames());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> sidecar.checkRole(false)).getMessage()
                .contains("allowed_clients"));
        TunnelConfig out = ConfigFile.load(write("tunnels:\n  - name: out\n    listen: :8080\n    target: backend:443\n"
                + "    allowed_servers: {uris: [\"spiffe://example.org/backend\"]}\n")).tunnels().get(0);
        assertEquals(List.of("spiffe://example.org/backend"), out.allowedServers().uris());
        assertTrue(out.hasOwnTrustOrIdentity());
        assertEquals("tunnel out: allowed_servers applies to client-role tunnels only",
                assertThrows(IllegalArgumentException.class, () -> out.checkRole(true)).getMessage());
        String optional = error("listeners:\n  - address: :8443\n    certificates:\n      - cert: a.pem\n"
                + "        key: a.key\n    client_auth: optional\n    client_ca_file: ca.pem\n"
                + "    allowed_clients: {common_names: [billing]}\n");
        assertTrue(optional.contains("listener default: allowed_clients needs client_auth: required"), optional);
        String empty = error("listeners:\n  - address: :8443\n    certificates:\n      - cert: a.pem\n"
                + "        key: a.key\n    client_auth: required\n    client_ca_file: ca.pem\n    allowed_clients: {}\n");
        assertTrue(empty.contains("listeners[0] (default).allowed_clients: no common_names, dns_names or uris: it"
                + " would let no one through"), empty);
    }

    @Test
    void allowedPeers() throws Exception {
        DaemonConfig c = ConfigFile.load(write("allowed_peers:\n  uids: [1000, 1001]\n  gids: [2000]\n"));
        assertEquals(AllowedPeers.of(List.of(1000, 1001), List.of(2000)), c.allowedPeers());
        assertEquals(AllowedPeers.ANYONE, ConfigFile.load(write("")).allowedPeers());
        assertTrue(error("allowed_peers:\n  uids: [alice]\n").contains(
                "allowed_peers.uids: expected a numeric id from 0 to 2147483647, got 'alice'"));
        assertTrue(error("allowed_peers:\n  uids: [3000000000]\n").contains("from 0 to 2147483647, got '3000000000'"));
        assertTrue(error("allowed_peers:\n  gids: [-1]\n").contains("got '-1'"));
        for (String empty : List.of("allowed_peers: {}\n", "allowed_peers:\n  uids: []\n", "allowed_peers:\n  uids: ~\n")) {
            assertTrue(error(empty).contains("allowed_peers lists no uid or gid; leave it out"), empty);
        }
        assertTrue(error("allowed_peers:\n  uids: 1000\n").contains("allowed_peers.uids: expected a list of numeric ids"));
        assertTrue(error("allowed_peers:\n  users: [1000]\n").contains("unknown key 'allowed_peers.users'"));
    }

    @Test
    void listenerProblemsNameTheListener() throws Exception {
        String msg = error("""
                listeners:
                  - name: web
                    address: 127.0.0.1:notaport
                    certificates:
                      - cert: a.pem
                        key: a.key
                """);
        assertTrue(msg.contains("listeners[0] (web).address"), msg);
        String auth = error("""
                listeners:
                  - name: web
                    address: :8443
                    certificates:
                      - cert: a.pem
                        key: a.key
                    client_auth: required
                """);
        assertTrue(auth.contains("listener web: client_auth required needs client_ca_file"), auth);
        String half = error("""
                listeners:
                  - address: :8443
                    certificates:
                      - cert: a.pem
                """);
        assertTrue(half.contains("listeners[0] (default).certificates[0]: needs cert and key, or pkcs12"), half);
    }

    @Test
    void connectionLimitsOfListenersAndTunnels() throws Exception {
        DaemonConfig c = ConfigFile.load(write("""
                listeners:
                  - name: small
                    address: :8443
                    certificates:
                      - cert: a.pem
                        key: a.key
                    backlog: 5
                    max_pending_connections: 10
                    max_pending_connections_per_client: 3
                  - name: unlimited
                    address: :8444
                    certificates:
                      - cert: a.pem
                        key: a.key
                    max_pending_connections: 0
                  - name: default
                    address: :8445
                    certificates:
                      - cert: a.pem
                        key: a.key
                tunnels:
                  - listen: 127.0.0.1:8080
                    target: example.com:443
                    max_connections: 7
                    max_connections_per_client: 2
                  - listen: 127.0.0.1:8081
                    target: example.com:443
                """));
        assertEquals(10, c.listeners().get(0).maxPendingConnections());
        assertEquals(3, c.listeners().get(0).maxPendingConnectionsPerClient());
        assertEquals(0, c.listeners().get(1).maxPendingConnectionsPerClient(), "none unless set");
        assertEquals(2, c.tunnels().get(0).maxConnectionsPerClient());
        assertEquals(0, c.tunnels().get(1).maxConnectionsPerClient());
        assertEquals(0, c.listeners().get(1).maxPendingConnections());
        assertEquals(ListenerConfig.DEFAULT_MAX_PENDING_CONNECTIONS, c.listeners().get(2).maxPendingConnections());
        assertEquals(7, c.tunnels().get(0).maxConnections());
        assertEquals(TunnelSettings.DEFAULT_MAX_CONNECTIONS, c.tunnels().get(1).maxConnections());

        String negative = error("tunnels:\n  - listen: :8080\n    target: example.com:443\n    max_connections: -1\n");
        assertTrue(negative.contains("tunnels[0] (tunnel-1).max_connections: expected 0 or a positive integer, got '-1'"),
                negative);
        String twice = error("""
                tunnels:
                  - listen: 127.0.0.1:8080
                    target: example.com:443
                    name: tunnel-2
                  - listen: 127.0.0.1:8081
                    target: example.com:443
                """);
        assertTrue(twice.contains("two tunnels are named 'tunnel-2'"), twice);
        String backlog = error("""
                listeners:
                  - address: :8443
                    certificates:
                      - cert: a.pem
                        key: a.key
                    backlog: 64
                    max_pending_connections: 16
                """);
        assertTrue(backlog.contains("listener default: backlog 64 is more than max_pending_connections 16"), backlog);
    }

    @Test
    void sendBuffer() throws Exception {
        assertEquals(1 << 20, ConfigFile.load(write("send_buffer: 1MiB\n")).sendBufferBytes());
        assertEquals(0, ConfigFile.load(write("")).sendBufferBytes(), "the kernel's autotuning by default");
        assertEquals(65536, ConfigFile.parseSizeOrZero("65536", "--send-buffer"));
        String msg = error("send_buffer: lots\n");
        assertTrue(msg.contains("send_buffer: expected a size like 65536, 64KiB or 1MiB"), msg);
    }

    @Test
    void metricsAddress() throws Exception {
        assertEquals(9464, ConfigFile.load(write("metrics: 127.0.0.1:9464\n")).metrics().getPort());
        assertEquals(null, ConfigFile.load(write("")).metrics(), "off by default");
        String msg = error("metrics: localhost\n");
        assertTrue(msg.contains("metrics: expected HOST:PORT"), msg);
    }

    @Test
    void zeroMeansNoneWhereTheReferenceSaysSo() throws Exception {
        DaemonConfig c = ConfigFile.load(write("""
                handshake_threads: 0
                shared_memory:
                  write_ring_bytes: 0
                """));
        assertEquals(0, c.handshakeThreads());
        assertEquals(0, c.writeRingBytes());
        assertTrue(error("handshake_threads: -1\n").contains("handshake_threads: expected 0 or a positive integer"));
    }

    @Test
    void handshakesInFlightAreLearnedPerTargetUnlessConfigured() throws Exception {
        assertEquals(DaemonConfig.ADAPTIVE_HANDSHAKES, ConfigFile.load(write("")).maxHandshakesInFlight());
        assertEquals(DaemonConfig.ADAPTIVE_HANDSHAKES,
                ConfigFile.load(write("max_handshakes_in_flight: adaptive\n")).maxHandshakesInFlight());
        assertEquals(0, ConfigFile.load(write("max_handshakes_in_flight: 0\n")).maxHandshakesInFlight());
        assertEquals(2, ConfigFile.load(write("max_handshakes_in_flight: 2\n")).maxHandshakesInFlight());
        for (String bad : List.of("-2", "fast", "1.5")) {
            assertTrue(error("max_handshakes_in_flight: " + bad + "\n")
                    .contains("max_handshakes_in_flight: expected adaptive, 0 (no limit) or a positive integer"), bad);
        }
    }

    @Test
    void workerBusyPollIsADurationInMicroseconds() throws Exception {
        assertEquals(java.time.Duration.ZERO, ConfigFile.load(write("")).workerBusyPoll());
        assertEquals(java.time.Duration.ofNanos(200_000),
                ConfigFile.load(write("worker_busy_poll: 200us\n")).workerBusyPoll());
        assertEquals(java.time.Duration.ZERO, ConfigFile.load(write("worker_busy_poll: 0\n")).workerBusyPoll());
        assertEquals(java.time.Duration.ZERO, ConfigFile.load(write("worker_busy_poll: 0us\n")).workerBusyPoll());
        assertTrue(error("worker_busy_poll: 2ms\n").contains("is not in 0..1ms"));
        assertTrue(error("worker_busy_poll: 1us\n").contains("below 2us"));
        assertTrue(error("worker_busy_poll: fast\n").contains("worker_busy_poll: expected a duration like 500ms"));
    }

    @Test
    void sharedMemoryIsRead() throws Exception {
        DaemonConfig c = ConfigFile.load(write("""
                shared_memory:
                  dir: /run/shm
                  write_ring_bytes: 1MiB
                """));
        assertEquals(java.nio.file.Path.of("/run/shm"), c.sharedMemoryDir());
        assertEquals(1 << 20, c.writeRingBytes());
        DaemonConfig defaults = ConfigFile.load(write(""));
        assertEquals(java.nio.file.Path.of("/dev/shm"), defaults.sharedMemoryDir());
        assertEquals(4 << 20, defaults.writeRingBytes());
        assertTrue(error("shared_memory:\n  size: 1\n").contains("unknown key 'shared_memory.size'"));
        assertTrue(error("shared_memory:\n  write_ring_bytes: 2GiB\n").contains("is not in 0..1GiB"));
    }

    @Test
    void brokenYamlIsReportedWithTheFile() throws Exception {
        String msg = error("limits: [unclosed\n");
        assertTrue(msg.startsWith(dir.resolve("tlsd.yaml") + ": not valid YAML"), msg);
    }
}
