package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tlsd check-config} on good and broken files, as an operator runs it. */
class CheckConfigTest {
    @TempDir
    static Path dir;
    static Issued good;
    static Issued other;

    @BeforeAll
    static void pki() throws Exception {
        TestPki pki = TestPki.create(Files.createDirectories(dir.resolve("pki")));
        good = pki.issueServer("localhost", "localhost");
        other = pki.issueServer("other", "other");
    }

    private static Path file(String name, String yaml) throws Exception {
        return Files.writeString(dir.resolve(name), yaml);
    }

    private static String listener(Path cert, Path key) {
        return "listeners:\n  - name: web\n    address: 127.0.0.1:0\n    certificates:\n      - cert: " + cert
                + "\n        key: " + key + "\n";
    }

    @Test
    void goodFilePrintsASummaryAndExitsZero() throws Exception {
        Path f = file("good.yaml", listener(good.chainPem(), good.keyPem()));
        var run = ConnectCommandTest.tlsd("", "check-config", f.toString());
        assertEquals(0, run.exitCode(), run.stderr());
        assertTrue(run.stdout().contains(f + ": ok"), run.stdout());
        assertTrue(run.stdout().contains("listener web: 127.0.0.1"), run.stdout());
        assertFalse(run.stderr().contains(" INFO "), "what the checks log on the way stays out: " + run.stderr());
        assertTrue(run.stdout().contains("  warning: certificate " + good.certificate().getSubjectX500Principal().getName()
                + " (listener web) expires at "), "the test certificates live two days: " + run.stdout());
    }

    @Test
    void unknownKeyIsReportedWithItsPath() throws Exception {
        Path f = file("typo.yaml", "limits:\n  max_op_in_flight: 5\n");
        var run = ConnectCommandTest.tlsd("", "check-config", f.toString());
        assertEquals(2, run.exitCode());
        assertTrue(run.stderr().contains(f + ": unknown key 'limits.max_op_in_flight'"), run.stderr());
    }

    @Test
    void tunnelsAreListedAndTheirMistakesReported() throws Exception {
        Path ok = file("tunnels.yaml", "tunnels:\n  - name: partner\n    listen: 127.0.0.1:8080\n"
                + "    target: api.partner.test:443\n    ca_file: " + good.caPem() + "\n"
                + "  - name: web\n    listen: 127.0.0.1:8443\n    target: 127.0.0.1:8080\n    certificates:\n"
                + "      - cert: " + good.chainPem() + "\n        key: " + good.keyPem() + "\n"
                + "      - names: [other]\n        cert: " + other.chainPem() + "\n        key: " + other.keyPem() + "\n");
        var run = ConnectCommandTest.tlsd("", "check-config", ok.toString());
        assertEquals(0, run.exitCode(), run.stderr());
        assertTrue(run.stdout().contains("tunnel partner: 127.0.0.1:8080 → api.partner.test:443 (client role)"),
                run.stdout());
        assertTrue(run.stdout().contains("tunnel web: 127.0.0.1:8443 → 127.0.0.1:8080 (server role), 2 certificate(s)"
                + " by SNI"), run.stdout());
        // the test certificates live two days: the warning the daemon would log at its start
        assertTrue(run.stdout().contains("  warning: certificate " + other.certificate().getSubjectX500Principal().getName()
                + " (tunnel web) expires at "), run.stdout());

        Path mixed = file("mixed.yaml", "tunnels:\n  - name: both\n    listen: 127.0.0.1:8080\n"
                + "    target: api.partner.test:443\n    servername: api.partner.test\n    proxy_protocol: true\n"
                + "  - name: lost\n    listen: 127.0.0.1:8081\n    target: 127.0.0.1:80\n"
                + "    cert: " + good.chainPem() + "\n    key: " + dir.resolve("nope.key") + "\n"
                + "    ca_file: " + dir.resolve("nope.pem") + "\n"
                + "  - name: sni\n    listen: 127.0.0.1:8082\n    target: 127.0.0.1:80\n    certificates:\n"
                + "      - cert: " + good.chainPem() + "\n        key: " + good.keyPem() + "\n"
                + "      - names: [other]\n        cert: " + other.chainPem() + "\n        key: " + good.keyPem() + "\n");
        run = ConnectCommandTest.tlsd("", "check-config", mixed.toString());
        assertEquals(2, run.exitCode(), run.stdout());
        assertTrue(run.stderr().contains(mixed + ": tunnel both: client-role keys (servername) and server-role keys"
                + " (proxy_protocol) cannot go together"), run.stderr());
        assertTrue(run.stderr().contains(mixed + ": tunnel lost: " + dir.resolve("nope.pem") + " is not a readable file"),
                run.stderr());
        assertTrue(run.stderr().contains(mixed + ": tunnel lost: ") && run.stderr().contains("nope.key"), run.stderr());
        // every certificate of a tunnel that picks one by SNI is read
        assertTrue(run.stderr().contains(mixed + ": tunnel sni: the private key does not belong to the certificate"
                + " CN=other,"), run.stderr());
    }

    @Test
    void missingKeyFileIsReported() throws Exception {
        Path f = file("missing.yaml", listener(good.chainPem(), dir.resolve("nope.key")));
        var run = ConnectCommandTest.tlsd("", "check-config", f.toString());
        assertEquals(2, run.exitCode());
        assertTrue(run.stderr().contains("listener web") && run.stderr().contains("nope.key"), run.stderr());
        assertTrue(run.stderr().contains(dir.resolve("nope.key") + ": cannot read the key: no such file"),
                run.stderr());

        Path noCert = file("missing-cert.yaml", listener(dir.resolve("nope.pem"), good.keyPem()));
        run = ConnectCommandTest.tlsd("", "check-config", noCert.toString());
        assertEquals(2, run.exitCode());
        assertTrue(run.stderr().contains(dir.resolve("nope.pem") + ": cannot read: no such file"), run.stderr());
    }

    @Test
    void keyThatDoesNotMatchItsCertificateIsReported() throws Exception {
        Path f = file("mismatch.yaml", listener(good.chainPem(), other.keyPem()));
        var run = ConnectCommandTest.tlsd("", "check-config", f.toString());
        assertEquals(2, run.exitCode(), run.stdout());
        assertTrue(run.stderr().contains("listener web"), run.stderr());
    }

    @Test
    void revocationListsThatCannotBeReadAreReported() throws Exception {
        Path notACrl = good.chainPem();
        Path f = file("crls.yaml", "tls:\n  crl_file: " + notACrl + "\n"
                + "tunnels:\n  - name: partner\n    listen: 127.0.0.1:8080\n    target: api.partner.test:443\n"
                + "    crl_file: " + dir.resolve("nope.crl") + "\n");
        var run = ConnectCommandTest.tlsd("", "check-config", f.toString());
        assertEquals(2, run.exitCode(), run.stdout());
        assertTrue(run.stderr().contains(f + ": tls.crl_file: " + notACrl + ": not a certificate revocation list"
                + " (PEM or DER)"), run.stderr());
        assertTrue(run.stderr().contains(f + ": tunnel partner: crl_file: cannot read " + dir.resolve("nope.crl")
                + ": no such file"), run.stderr());
    }

    @Test
    void groupsArePrintedAndAnUnknownOneIsReported() throws Exception {
        Path ok = file("groups.yaml", "tls:\n  groups: [X25519, P-256]\n");
        var good = ConnectCommandTest.tlsd("", "check-config", ok.toString());
        assertEquals(0, good.exitCode(), good.stderr());
        assertTrue(good.stdout().contains("groups [X25519, P-256]"), good.stdout());
        Path bad = file("bad-groups.yaml", "tls:\n  groups: [X25519, P-999]\n");
        var run = ConnectCommandTest.tlsd("", "check-config", bad.toString());
        assertEquals(2, run.exitCode(), run.stdout());
        assertTrue(run.stderr().contains("tls.groups") && run.stderr().contains("P-999"), run.stderr());
    }

    @Test
    void writeRingsSayWhereOrWhyNot() throws Exception {
        Path shm = Files.createDirectory(dir.resolve("shm"));
        Path on = file("rings.yaml", "shared_memory:\n  dir: " + shm + "\n  write_ring_bytes: 1MiB\n");
        var good = ConnectCommandTest.tlsd("", "check-config", on.toString());
        assertEquals(0, good.exitCode(), good.stderr());
        assertTrue(good.stdout().contains("write rings: up to 1048576 bytes per session, in " + shm), good.stdout());
        Path missing = file("no-shm.yaml", "shared_memory:\n  dir: " + dir.resolve("nowhere") + "\n");
        var off = ConnectCommandTest.tlsd("", "check-config", missing.toString());
        assertEquals(0, off.exitCode(), "the daemon starts without rings: " + off.stderr());
        assertTrue(off.stdout().contains("write rings: off: " + dir.resolve("nowhere") + " is not a writable directory"),
                off.stdout());
        Path zero = file("zero.yaml", "shared_memory:\n  write_ring_bytes: 0\n");
        assertTrue(ConnectCommandTest.tlsd("", "check-config", zero.toString()).stdout().contains("write rings: off\n"));
    }
}
