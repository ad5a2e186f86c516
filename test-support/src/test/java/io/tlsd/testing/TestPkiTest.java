package io.tlsd.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TestPkiTest {
    @TempDir
    Path dir;

    @Test
    void opensslVerifiesServerCertificatesOfBothKeyTypesForServerUse() throws Exception {
        TestPki pki = TestPki.create(dir);
        for (KeyType keyType : KeyType.values()) {
            Issued server = pki.issueServer(keyType, "localhost", "localhost", "127.0.0.1");
            String result = OpensslCommand.run("verify", "-purpose", "sslserver",
                    "-CAfile", pki.caPem().toString(), server.certPem().toString());
            assertEquals(server.certPem() + ": OK", result.strip(), keyType.toString());
        }
    }

    @Test
    void opensslVerifiesClientCertificatesForClientUse() throws Exception {
        TestPki pki = TestPki.create(dir);
        Issued client = pki.issueClient("sdk-test");
        String result = OpensslCommand.run("verify", "-purpose", "sslclient",
                "-CAfile", pki.caPem().toString(), client.certPem().toString());
        assertEquals(client.certPem() + ": OK", result.strip());
    }

    @Test
    void opensslChecksCertificatesAgainstTheCrl() throws Exception {
        TestPki pki = TestPki.create(dir);
        Issued good = pki.issueClient("good");
        Issued revoked = pki.issueClient("revoked");
        String crl = pki.crl(java.time.Duration.ofDays(1), revoked).toString();
        assertEquals(good.certPem() + ": OK", OpensslCommand.run("verify", "-crl_check", "-CAfile",
                pki.caPem().toString(), "-CRLfile", crl, good.certPem().toString()).strip());
        OpensslCommand.Result result = OpensslCommand.runAllowingFailure("verify", "-crl_check", "-CAfile",
                pki.caPem().toString(), "-CRLfile", crl, revoked.certPem().toString());
        assertNotEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("certificate revoked"), result.output());
        OpensslCommand.Result stale = OpensslCommand.runAllowingFailure("verify", "-crl_check", "-CAfile",
                pki.caPem().toString(), "-CRLfile", pki.crl(java.time.Duration.ofHours(-1)).toString(),
                good.certPem().toString());
        assertTrue(stale.output().contains("CRL has expired"), stale.output());
    }

    @Test
    void opensslReadsTheOcspResponses() throws Exception {
        TestPki pki = TestPki.create(dir);
        Issued server = pki.issueServer("localhost");
        for (boolean revoked : new boolean[] {false, true}) {
            String out = OpensslCommand.run("ocsp", "-respin", pki.ocspResponse(server, java.time.Duration.ofDays(1),
                    revoked).toString(), "-issuer", pki.caPem().toString(), "-cert", server.certPem().toString(),
                    "-CAfile", pki.caPem().toString());
            assertTrue(out.contains("Response verify OK"), out);
            assertTrue(out.contains(server.certPem() + ": " + (revoked ? "revoked" : "good")), out);
        }
    }

    @Test
    void certificateFromAnotherCaFailsVerification() throws Exception {
        // Both in one directory: their files must not overwrite each other.
        TestPki trusted = TestPki.create(dir);
        Issued trustedServer = trusted.issueServer("localhost");
        TestPki stranger = TestPki.untrusted(dir);
        Issued server = stranger.issueServer("localhost");
        assertNotEquals(trusted.caPem(), stranger.caPem());
        assertNotEquals(trustedServer.certPem(), server.certPem());
        OpensslCommand.run("verify", "-CAfile", trusted.caPem().toString(), trustedServer.certPem().toString());
        OpensslCommand.Result result = OpensslCommand.runAllowingFailure("verify",
                "-CAfile", trusted.caPem().toString(), server.certPem().toString());
        assertNotEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("unable to get local issuer certificate"), result.output());
    }

    @Test
    void ipLiteralsBecomeIpSansAndEverythingElseDnsSans() throws Exception {
        Issued server = TestPki.create(dir).issueServer("server", "localhost", "127.0.0.1", "::1", "db.internal");
        Set<String> sans = server.certificate().getSubjectAlternativeNames().stream()
                .map(entry -> (entry.get(0).equals(2) ? "DNS:" : "IP:") + entry.get(1))
                .collect(Collectors.toSet());
        assertEquals(Set.of("DNS:localhost", "IP:127.0.0.1", "IP:0:0:0:0:0:0:0:1", "DNS:db.internal"), sans);
    }

    @Test
    void serverNameIsTheOnlySanWhenNoneAreGiven() throws Exception {
        Issued server = TestPki.create(dir).issueServer("localhost");
        assertEquals(List.of(List.of(2, "localhost")), List.copyOf(server.certificate().getSubjectAlternativeNames()));
    }

    @Test
    void filesHoldPkcs8KeyLeafAndChainAndValidityIsTheDocumentedWindow() throws Exception {
        TestPki pki = TestPki.create(dir);
        Issued server = pki.issueServer(KeyType.RSA_2048, "localhost");
        X509Certificate leaf = server.certificate();

        assertTrue(Files.readString(server.keyPem()).startsWith("-----BEGIN PRIVATE KEY-----"));
        assertEquals(1, count(server.certPem()));
        assertEquals(2, count(server.chainPem()));
        assertEquals(List.of(leaf, pki.caCertificate()), server.chain());
        assertEquals("RSA", server.privateKey().getAlgorithm());
        assertEquals("EC", pki.issueClient("c").privateKey().getAlgorithm());
        leaf.verify(pki.caCertificate().getPublicKey());

        Instant now = Instant.now();
        Duration backdate = Duration.between(leaf.getNotBefore().toInstant(), now);
        Duration lifetime = Duration.between(now, leaf.getNotAfter().toInstant());
        assertTrue(backdate.compareTo(Duration.ofMinutes(59)) > 0 && backdate.compareTo(Duration.ofMinutes(61)) < 0, backdate::toString);
        assertTrue(lifetime.compareTo(Duration.ofHours(47)) > 0 && lifetime.compareTo(Duration.ofHours(49)) < 0, lifetime::toString);
    }

    @Test
    void serialsAreRandomAndFilesAreNeverReused() {
        TestPki pki = TestPki.create(dir);
        Issued first = pki.issueServer("localhost");
        Issued second = pki.issueServer("localhost");
        assertNotEquals(first.certificate().getSerialNumber(), second.certificate().getSerialNumber());
        assertNotEquals(first.certPem(), second.certPem());
        assertTrue(first.certificate().getSerialNumber().signum() > 0);
    }

    private static long count(Path pem) throws Exception {
        return Files.readAllLines(pem, StandardCharsets.US_ASCII).stream()
                .filter(line -> line.equals("-----BEGIN CERTIFICATE-----"))
                .count();
    }
}
