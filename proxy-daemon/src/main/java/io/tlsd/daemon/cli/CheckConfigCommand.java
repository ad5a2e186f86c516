package io.tlsd.daemon.cli;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.config.ConfigFile;
import io.tlsd.daemon.logging.DaemonLog;
import io.tlsd.daemon.metrics.DaemonMetrics;
import io.tlsd.daemon.metrics.ExpiryWarnings;
import io.tlsd.daemon.metrics.Sample;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.ConnectionInfos;
import io.tlsd.daemon.tls.KeyMaterial;
import io.tlsd.daemon.tls.OcspFetcher;
import io.tlsd.daemon.tls.OcspStaple;
import io.tlsd.daemon.tls.ClientTlsContexts;
import io.tlsd.daemon.tls.RevocationLists;
import io.tlsd.daemon.tls.ServerTlsContexts;
import io.tlsd.daemon.tunnel.TunnelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code tlsd check-config FILE}: everything a start would check — syntax, keys, types, the
 * certificate and key files (read and matched), trust files — without binding or starting anything.
 */
@Command(name = "check-config", mixinStandardHelpOptions = true,
        description = {"Check a configuration file without starting anything.",
                "Exits 0 and prints a summary when it is good; 2 with what is wrong and where when it is not."})
final class CheckConfigCommand implements Callable<Integer> {
    @Parameters(paramLabel = "FILE", description = "The YAML configuration file")
    Path file;

    /** When the certificates read expire, for the warnings the daemon would log at its start. */
    private final List<Sample> expiries = new ArrayList<>();

    @Override
    public Integer call() {
        DaemonLog.level("warn"); // what the checks log on the way (contexts made, say) is not the summary
        List<String> problems = new ArrayList<>();
        DaemonConfig config;
        try {
            config = ConfigFile.load(file);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            return TlsdCommand.EXIT_USAGE;
        }
        if (config.caFile() != null && !Files.isReadable(config.caFile())) {
            problems.add(file + ": tls.ca_file: " + config.caFile() + " is not a readable file");
        }
        checkCrls(config.crlFile(), file + ": tls.crl_file: ", problems);
        if (config.clientCertificate() != null) {
            try {
                expiries.add(DaemonMetrics.certificateExpiry("client", "", config.clientCertificate().load().leaf()));
            } catch (IllegalArgumentException e) {
                problems.add(file + ": tls.client_certificate: " + e.getMessage());
            }
        }
        if (!config.tlsGroups().isEmpty()) {
            try {
                new ClientTlsContexts(config.tlsParameters(), null); // BoringSSL checks each group name
            } catch (Exception e) {
                problems.add(file + ": tls.groups: " + config.tlsGroups() + ": " + e.getMessage());
            }
        }
        for (ListenerConfig listener : config.listeners()) {
            List<ServerTlsContexts.Identity> identities = new ArrayList<>();
            for (ListenerConfig.CertificateSpec spec : listener.certificates()) {
                try {
                    KeyMaterial material = spec.load();
                    expiries.add(DaemonMetrics.certificateExpiry("listener", listener.name(), material.leaf()));
                    identities.add(new ServerTlsContexts.Identity(spec.names(), material)); // its OCSP file: below
                    checkOcsp(spec, material, config, file + ": listener " + listener.name() + ": ", problems);
                } catch (IllegalArgumentException e) {
                    problems.add(file + ": listener " + listener.name() + ": " + e.getMessage());
                }
            }
            checkCrls(listener.clientCrlFile(), file + ": listener " + listener.name() + ": client_crl_file: ", problems);
            if (listener.clientCaFile() != null && !Files.isReadable(listener.clientCaFile())) {
                problems.add(file + ": listener " + listener.name() + ": client_ca_file "
                        + listener.clientCaFile() + " is not a readable file");
            }
            if (identities.size() == listener.certificates().size() && problems.isEmpty()) {
                try {
                    new ServerTlsContexts(identities, listener.alpn(), listener.clientAuth(), listener.clientCaFile(),
                            null, listener.allowedClients(), config.tlsParameters(), null, config.signing()); // its CRL file: above
                } catch (Exception e) {
                    problems.add(file + ": listener " + listener.name() + ": " + e.getMessage());
                }
            }
        }
        for (TunnelConfig tunnel : config.tunnels()) {
            checkTunnel(tunnel, config, problems);
        }
        List<ExpiryWarnings.Warning> expiry = ExpiryWarnings.of(expiries, Instant.now());
        for (ExpiryWarnings.Warning w : expiry) {
            if (w.expired()) {
                problems.add(file + ": " + w.message());
            }
        }
        if (!problems.isEmpty()) {
            problems.forEach(System.err::println);
            return TlsdCommand.EXIT_USAGE;
        }
        System.out.println(file + ": ok");
        System.out.println("  socket: " + config.socket() + (config.listeners().isEmpty() ? " (client role default)" : ""));
        System.out.println("  tls: " + config.tlsProtocols() + " via " + config.tlsProvider()
                + (config.tlsGroups().isEmpty() ? "" : ", groups " + config.tlsGroups()));
        System.out.println("  write rings: " + writeRings(config));
        for (ListenerConfig l : config.listeners()) {
            System.out.println("  listener " + l.name() + ": " + ConnectionInfos.addressString(l.address()) + ", " + l.certificates().size()
                    + " certificate(s), client auth " + l.clientAuth().name().toLowerCase() + ", ALPN " + l.alpn());
        }
        for (TunnelConfig t : config.tunnels()) {
            System.out.println("  tunnel " + t.name() + ": " + ConnectionInfos.addressString(t.listen()) + " → "
                    + t.target() + (t.serverRoleKeys().isEmpty() && t.clientRoleKeys().isEmpty() ? ""
                            : " (" + (t.serverRoleKeys().isEmpty() ? "client" : "server") + " role)")
                    + (t.certificates().isEmpty() ? "" : ", " + t.certificates().size() + " certificate(s) by SNI")
                    + (t.routes().isEmpty() ? "" : ", " + t.routes().size() + " route(s) by SNI"));
        }
        for (ExpiryWarnings.Warning w : expiry) {
            System.out.println("  warning: " + w.message()); // the expired ones are problems, above
        }
        return 0;
    }

    /**
     * A tunnel's files, and keys of both roles at once, which no start accepts (the file does not
     * say its role, so one role's keys alone are not a problem here).
     */
    private void checkTunnel(TunnelConfig t, DaemonConfig config, List<String> problems) {
        String where = file + ": tunnel " + t.name() + ": ";
        if (!t.clientRoleKeys().isEmpty() && !t.serverRoleKeys().isEmpty()) {
            problems.add(where + "client-role keys (" + String.join(", ", t.clientRoleKeys())
                    + ") and server-role keys (" + String.join(", ", t.serverRoleKeys()) + ") cannot go together");
        }
        for (Path f : new Path[] {t.caFile(), t.clientCaFile()}) {
            if (f != null && !Files.isReadable(f)) {
                problems.add(where + f + " is not a readable file");
            }
        }
        checkCrls(t.crlFile(), where + "crl_file: ", problems);
        checkCrls(t.clientCrlFile(), where + "client_crl_file: ", problems);
        for (ListenerConfig.CertificateSpec c : t.servedCertificates()) { // or a client-role tunnel's own
            try {
                KeyMaterial material = c.load();
                // "tunnel NAME": the file does not say whether it serves the certificate or presents it
                expiries.add(DaemonMetrics.certificateExpiry("tunnel", t.name(), material.leaf()));
                checkOcsp(c, material, config, where, problems);
            } catch (IllegalArgumentException e) {
                problems.add(where + e.getMessage());
            }
        }
    }

    /**
     * A served certificate's OCSP response that the daemon would refuse (its provider cannot staple,
     * the response is not about it or says revoked), or would not send (not current); with {@code
     * ocsp_fetch}, a certificate that names no responder (the responder is not asked here).
     */
    private static void checkOcsp(ListenerConfig.CertificateSpec spec, KeyMaterial material, DaemonConfig config,
                                  String where, List<String> problems) {
        if (spec.ocspFetch()) {
            if (!"boringssl".equals(config.tlsProvider())) {
                problems.add(where + material + ": stapling an OCSP response (ocsp_fetch) needs the boringssl TLS"
                        + " provider");
            }
            try {
                OcspFetcher.responderOf(material.chain());
            } catch (IllegalArgumentException e) {
                problems.add(where + e.getMessage());
            }
            return;
        }
        if (spec.ocspFile() == null) {
            return;
        }
        if (!"boringssl".equals(config.tlsProvider())) {
            problems.add(where + spec.ocspFile() + ": stapling an OCSP response needs the boringssl TLS provider");
        }
        try {
            OcspStaple staple = OcspStaple.read(spec.ocspFile(), material.chain());
            if (!staple.current(Instant.now())) {
                problems.add(where + spec.ocspFile() + ": the OCSP response is not current (from " + staple.thisUpdate()
                        + " until " + staple.currentUntil() + "): nothing would be stapled");
            }
        } catch (IllegalArgumentException e) {
            problems.add(where + e.getMessage());
        }
    }

    /**
     * A CRL file that cannot be read, holds no CRL, or a list past its nextUpdate (whose issuer's
     * certificates the daemon would refuse).
     */
    private static void checkCrls(Path crlFile, String where, List<String> problems) {
        if (crlFile == null) {
            return;
        }
        try {
            RevocationLists.staleLists(crlFile, RevocationLists.read(crlFile), Instant.now())
                    .forEach(stale -> problems.add(where + stale));
        } catch (IOException | GeneralSecurityException e) {
            problems.add(where + e.getMessage());
        }
    }

    /** Not a problem when unusable: the daemon then runs without rings, as this line says. */
    private static String writeRings(DaemonConfig config) {
        if (config.writeRingBytes() == 0) {
            return "off";
        }
        Path dir = config.sharedMemoryDir();
        if (!Files.isDirectory(dir) || !Files.isWritable(dir)) {
            return "off: " + dir + " is not a writable directory (writes travel through the socket)";
        }
        return "up to " + config.writeRingBytes() + " bytes per session, in " + dir;
    }
}
