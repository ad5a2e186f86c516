package io.tlsd.daemon.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * When the next fetch is due, which responder a certificate names, and what the fetcher does with
 * responders that stall, answer too much, or answer well (JDK HTTP servers on loopback, serving
 * responses the test CA signs).
 */
@Timeout(30)
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

    /** A responder on loopback answering every request with {@code answer}. */
    private static HttpServer responder(HttpHandler answer) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/", answer);
        server.start();
        return server;
    }

    private static String url(HttpServer server) {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/";
    }

    /** From now on {@code server} answers every request with {@code body}, counting them. */
    private static void answer(HttpServer server, byte[] body, AtomicInteger requests) {
        server.removeContext("/");
        server.createContext("/", answering(body, requests));
    }

    private static HttpHandler answering(byte[] body, AtomicInteger requests) {
        return exchange -> {
            requests.incrementAndGet();
            exchange.getRequestBody().readAllBytes();
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        };
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for: " + what);
            Thread.sleep(20);
        }
    }

    @Test
    void aResponderThatStallsHoldsUpNoOtherCertificate() throws Exception {
        TestPki pki = TestPki.create(dir);
        HttpServer stalling = responder(exchange -> {
            exchange.sendResponseHeaders(200, 0); // headers, then a byte, then nothing for long
            exchange.getResponseBody().write(0x30);
            exchange.getResponseBody().flush();
            try {
                Thread.sleep(20_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            exchange.close();
        });
        AtomicInteger requests = new AtomicInteger();
        HttpServer good = responder(exchange -> { });
        Issued stalled = pki.issueServerWithOcspResponder("stalled.test", url(stalling));
        Issued served = pki.issueServerWithOcspResponder("served.test", url(good));
        answer(good, Files.readAllBytes(pki.ocspResponse(served, Duration.ofDays(1), false)), requests);
        try (OcspFetcher fetcher = new OcspFetcher(Duration.ofMillis(300), Duration.ofSeconds(30))) {
            OcspFetcher.Fetched first = fetcher.fetched(stalled.chain());
            OcspFetcher.Fetched second = fetcher.fetched(served.chain());
            await(() -> second.current() != null, "the second certificate's response");
            assertEquals(null, first.current());
            assertEquals(1, requests.get());
            assertTrue(second.currentUntil().isAfter(Instant.now()));
        } finally {
            stalling.stop(0);
            good.stop(0);
        }
    }

    @Test
    void anAnswerTooLargeOrWithBytesAfterItIsNotStapledAndAskedForAgain() throws Exception {
        TestPki pki = TestPki.create(dir);
        AtomicInteger requests = new AtomicInteger();
        HttpServer server = responder(exchange -> { });
        Issued web = pki.issueServerWithOcspResponder("web.test", url(server));
        byte[] response = Files.readAllBytes(pki.ocspResponse(web, Duration.ofDays(1), false));
        for (byte[] answer : List.of(new byte[OcspFetcher.MAX_RESPONSE_BYTES + 1],
                Arrays.copyOf(response, response.length + 1))) {
            requests.set(0);
            answer(server, answer, requests);
            try (OcspFetcher fetcher = new OcspFetcher(Duration.ofSeconds(5), Duration.ofMillis(100))) {
                OcspFetcher.Fetched fetched = fetcher.fetched(web.chain());
                await(() -> requests.get() >= 3, "retries");
                assertEquals(null, fetched.current());
            }
        }
        server.stop(0);
    }

    @Test
    void aCertificateServedNoMoreIsFetchedNoMore() throws Exception {
        TestPki pki = TestPki.create(dir);
        AtomicInteger requests = new AtomicInteger();
        HttpServer server = responder(exchange -> { });
        Issued web = pki.issueServerWithOcspResponder("web.test", url(server));
        answer(server, new byte[] {1}, requests); // fails: asked again every 100 ms
        try (OcspFetcher fetcher = new OcspFetcher(Duration.ofSeconds(5), Duration.ofMillis(100))) {
            OcspFetcher.Fetched fetched = fetcher.fetched(web.chain());
            assertSame(fetched, fetcher.fetched(web.chain()), "one per certificate");
            await(() -> requests.get() >= 2, "a retry");
            fetcher.retain(List.of());
            Thread.sleep(300); // a fetch under way ends
            int asked = requests.get();
            Thread.sleep(500);
            assertEquals(asked, requests.get(), "no more requests");
            assertNotSame(fetched, fetcher.fetched(web.chain()), "served again: fetched anew");
        } finally {
            server.stop(0);
        }
    }

    @Test
    void aReloadAsksAgainAtOnceAfterAFailure() throws Exception {
        TestPki pki = TestPki.create(dir);
        AtomicInteger requests = new AtomicInteger();
        HttpServer server = responder(exchange -> { });
        Issued web = pki.issueServerWithOcspResponder("web.test", url(server));
        answer(server, new byte[] {1}, requests); // fails
        try (OcspFetcher fetcher = new OcspFetcher(Duration.ofSeconds(5), Duration.ofMinutes(10))) {
            OcspFetcher.Fetched fetched = fetcher.fetched(web.chain());
            await(() -> requests.get() == 1, "the first fetch");
            Thread.sleep(200); // its failure scheduled the next in 10 minutes
            answer(server, Files.readAllBytes(pki.ocspResponse(web, Duration.ofDays(1), false)), requests);
            fetcher.retain(List.of(fetched));
            await(() -> fetched.current() != null, "the response, asked for again by the reload");
            assertEquals(2, requests.get());
            fetcher.retain(List.of(fetched));
            Thread.sleep(300);
            assertEquals(2, requests.get(), "a certificate whose fetch went well is not asked again");
        } finally {
            server.stop(0);
        }
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
                + " or https URL in its Authority Information Access), and it names none", none.getMessage());
        Issued hostless = pki.issueServerWithOcspResponder("web.test", "http:ocsp");
        assertThrows(IllegalArgumentException.class, () -> OcspFetcher.responderOf(hostless.chain()));

        IllegalArgumentException noIssuer = assertThrows(IllegalArgumentException.class,
                () -> OcspFetcher.responderOf(List.of(named.certificate())));
        assertTrue(noIssuer.getMessage().contains("needs the issuer's certificate after the certificate in its chain"
                + " file"), noIssuer.getMessage());
    }
}
