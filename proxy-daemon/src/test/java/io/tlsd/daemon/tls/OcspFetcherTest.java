package io.tlsd.daemon.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** When the next fetch is due, and which responder a certificate names. */
class OcspFetcherTest {
    private static final Instant NOW = Instant.parse("2026-11-30T12:00:00Z");

    @TempDir
    Path dir;

    private static OcspStaple valid(Instant from, Duration validity) {
        return new OcspStaple(new byte[0], from, from.plus(validity));
    }

    @Test
    void theNextFetchIsHalfwayThroughTheValidityWithinItsBounds() {
        assertEquals(Duration.ofHours(3).plusMinutes(30), OcspFetcher.refreshIn(valid(NOW, Duration.ofHours(7)), NOW));
        assertEquals(OcspFetcher.MAX_REFRESH, OcspFetcher.refreshIn(valid(NOW, Duration.ofDays(7)), NOW),
                "a week-long response is asked for again twice a day");
        assertEquals(OcspFetcher.MIN_REFRESH, OcspFetcher.refreshIn(valid(NOW, Duration.ofSeconds(30)), NOW));
        assertEquals(OcspFetcher.MIN_REFRESH,
                OcspFetcher.refreshIn(valid(NOW.minus(Duration.ofHours(6)), Duration.ofHours(8)), NOW),
                "past its halfway point already (the responder pre-signs): soon, not at once");
    }

    @Test
    void theResponderIsTheCertificatesAuthorityInformationAccessUrl() {
        TestPki pki = TestPki.create(dir);
        Issued named = pki.issueServerWithOcspResponder("web.test", "http://ocsp.example/");
        assertEquals(URI.create("http://ocsp.example/"), OcspFetcher.responderOf(named.chain()));

        Issued unnamed = pki.issueServer("web.test");
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> OcspFetcher.responderOf(unnamed.chain()));
        assertEquals("CN=web.test,O=tlsd tests: ocsp_fetch needs the certificate to name its OCSP responder (an http"
                + " URL in its Authority Information Access), and it names none", none.getMessage());

        IllegalArgumentException noIssuer = assertThrows(IllegalArgumentException.class,
                () -> OcspFetcher.responderOf(List.of(named.certificate())));
        assertTrue(noIssuer.getMessage().contains("needs the issuer's certificate after the certificate in its chain"
                + " file"), noIssuer.getMessage());
    }
}
