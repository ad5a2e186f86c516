package io.tlsd.daemon.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.bouncycastle.asn1.ocsp.OCSPObjectIdentifiers;
import org.bouncycastle.cert.ocsp.OCSPReq;
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

    @Test
    void aFailureIsTriedAgainBeforeTheStapledResponseRunsOut() {
        Duration backoff = Duration.ofHours(1);
        Duration floor = Duration.ofSeconds(5);
        assertEquals(backoff, OcspFetcher.retryIn(backoff, null, NOW, floor), "nothing stapled: the back-off");
        OcspStaple ending = valid(NOW.minus(Duration.ofDays(1)), Duration.ofDays(1).plusMinutes(30));
        assertEquals(Duration.ofMinutes(15), OcspFetcher.retryIn(backoff, ending, NOW, floor),
                "30 min left: halfway through them");
        assertEquals(Duration.ofMinutes(10), OcspFetcher.retryIn(Duration.ofMinutes(10), ending, NOW, floor),
                "a shorter back-off as it is");
        OcspStaple lasting = valid(NOW.minus(Duration.ofHours(1)), Duration.ofDays(1));
        assertEquals(backoff, OcspFetcher.retryIn(backoff, lasting, NOW, floor), "23 h left: the back-off");
        OcspStaple almostOver = valid(NOW.minus(Duration.ofDays(1)), Duration.ofDays(1).plusSeconds(4));
        assertEquals(floor, OcspFetcher.retryIn(backoff, almostOver, NOW, floor), "4 s left: not sooner than 5 s");
        OcspStaple over = valid(NOW.minus(Duration.ofDays(2)), Duration.ofDays(1));
        assertEquals(backoff, OcspFetcher.retryIn(backoff, over, NOW, floor), "run out: the back-off");
    }

    /** A JDK HTTP server on loopback as an OCSP responder; its handler threads stop with it. */
    private record Responder(HttpServer server, ExecutorService threads) implements AutoCloseable {
        static Responder start() throws IOException {
            HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            ExecutorService threads = Executors.newCachedThreadPool();
            server.setExecutor(threads);
            server.createContext("/", exchange -> exchange.sendResponseHeaders(503, -1));
            server.start();
            return new Responder(server, threads);
        }

        String url() {
            return "http://127.0.0.1:" + server.getAddress().getPort() + "/";
        }

        /** From now on every request is answered by {@code handler}. */
        void answer(HttpHandler handler) {
            server.removeContext("/");
            server.createContext("/", handler);
        }

        /** From now on every request is answered with {@code body}, and counted. */
        void answer(byte[] body, AtomicInteger requests) {
            answer(exchange -> {
                requests.incrementAndGet();
                exchange.getRequestBody().readAllBytes();
                reply(exchange, body);
            });
        }

        @Override
        public void close() {
            server.stop(0);
            threads.shutdownNow();
        }
    }

    /** Answers {@code exchange} with {@code body}, status 200. */
    private static void reply(HttpExchange exchange, byte[] body) throws IOException {
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    /** Runs {@code action} on a thread of its own, {@code millis} from now; the thread, started. */
    private static Thread after(long millis, Runnable action) {
        Thread t = new Thread(() -> {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            action.run();
        });
        t.start();
        return t;
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
        AtomicInteger requests = new AtomicInteger();
        try (Responder stalling = Responder.start(); Responder good = Responder.start()) {
            stalling.answer(exchange -> {
                exchange.sendResponseHeaders(200, 0); // headers, then a byte, then nothing for long
                exchange.getResponseBody().write(0x30);
                exchange.getResponseBody().flush();
                try {
                    Thread.sleep(60_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                exchange.close();
            });
            Issued stalled = pki.issueServerWithOcspResponder("stalled.test", stalling.url());
            Issued served = pki.issueServerWithOcspResponder("served.test", good.url());
            good.answer(Files.readAllBytes(pki.ocspResponse(served, Duration.ofDays(1), false)), requests);
            try (OcspFetcher fetcher = new OcspFetcher(Duration.ofSeconds(5), Duration.ofSeconds(30))) {
                long start = System.nanoTime();
                OcspFetcher.Fetched first = fetcher.fetched(stalled.chain());
                OcspFetcher.Fetched second = fetcher.fetched(served.chain());
                await(() -> second.current() != null, "the second certificate's response");
                long took = System.nanoTime() - start;
                assertTrue(took < Duration.ofMillis(2500).toNanos(),
                        "fetched beside the stalled one, not after its 5 s deadline: " + took / 1_000_000 + " ms");
                assertEquals(null, first.current());
                assertEquals(1, requests.get());
                assertTrue(second.currentUntil().isAfter(Instant.now()));
            }
        }
    }

    /**
     * A start waits for the first answers: a slow responder's (500 ms) is there when the wait
     * ends; a stalled one's wait ends with its fetch, at the fetch's timeout (or a second after);
     * a certificate fetched before does not wait; closing the fetcher ends a wait.
     */
    @Test
    void theFirstFetchesAreWaitedForUpToATimeoutAndASecond() throws Exception {
        TestPki pki = TestPki.create(dir);
        AtomicInteger requests = new AtomicInteger();
        try (Responder slow = Responder.start(); Responder stalling = Responder.start()) {
            Issued web = pki.issueServerWithOcspResponder("web.test", slow.url());
            byte[] good = Files.readAllBytes(pki.ocspResponse(web, Duration.ofDays(1), false));
            slow.answer(exchange -> {
                requests.incrementAndGet();
                exchange.getRequestBody().readAllBytes();
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                reply(exchange, good);
            });
            CountDownLatch release = new CountDownLatch(1);
            stalling.answer(exchange -> {
                try {
                    release.await(); // no answer until the test ends
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                exchange.close();
            });
            Issued stalled = pki.issueServerWithOcspResponder("stalled.test", stalling.url());
            try (OcspFetcher fetcher = new OcspFetcher(Duration.ofSeconds(3), Duration.ofMinutes(10))) {
                long start = System.nanoTime();
                OcspFetcher.Fetched answered = fetcher.fetched(web.chain());
                fetcher.awaitFirstFetches(List.of(answered));
                assertTrue(answered.current() != null, "stapled from the first handshake on");
                assertTrue(System.nanoTime() - start >= Duration.ofMillis(500).toNanos());

                start = System.nanoTime();
                OcspFetcher.Fetched unanswered = fetcher.fetched(stalled.chain());
                fetcher.awaitFirstFetches(List.of(unanswered, answered));
                long waited = System.nanoTime() - start;
                assertEquals(null, unanswered.current());
                assertTrue(waited >= Duration.ofMillis(2900).toNanos() && waited < Duration.ofMillis(4500).toNanos(),
                        "until the fetch failed at its timeout (3 s), a second more at most: " + waited / 1_000_000
                                + " ms");

                start = System.nanoTime();
                fetcher.awaitFirstFetches(List.of(fetcher.fetched(web.chain())));
                assertTrue(System.nanoTime() - start < Duration.ofMillis(100).toNanos(), "fetched before: no wait");
                assertEquals(1, requests.get());

                Issued other = pki.issueServerWithOcspResponder("other.test", stalling.url());
                OcspFetcher.Fetched waiting = fetcher.fetched(other.chain());
                start = System.nanoTime();
                Thread closer = after(300, fetcher::close);
                fetcher.awaitFirstFetches(List.of(waiting));
                assertTrue(System.nanoTime() - start < Duration.ofMillis(2500).toNanos(), "close() ended the wait");
                closer.join();
            } finally {
                release.countDown();
            }
        }
    }

    /**
     * A drain ends the waits for first fetches at once, those under way and those to come, and the
     * fetch goes on: its answer is stapled when it comes.
     */
    @Test
    void endingTheFirstFetchWaitsLetsTheFetchGoOn() throws Exception {
        TestPki pki = TestPki.create(dir);
        try (Responder slow = Responder.start()) {
            Issued web = pki.issueServerWithOcspResponder("web.test", slow.url());
            Issued api = pki.issueServerWithOcspResponder("api.test", slow.url());
            byte[] webGood = Files.readAllBytes(pki.ocspResponse(web, Duration.ofDays(1), false));
            byte[] apiGood = Files.readAllBytes(pki.ocspResponse(api, Duration.ofDays(1), false));
            AtomicInteger requests = new AtomicInteger();
            slow.answer(exchange -> {
                exchange.getRequestBody().readAllBytes();
                try {
                    Thread.sleep(1500);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                reply(exchange, requests.getAndIncrement() == 0 ? webGood : apiGood);
            });
            try (OcspFetcher fetcher = new OcspFetcher(Duration.ofSeconds(5), Duration.ofMinutes(10))) {
                OcspFetcher.Fetched waiting = fetcher.fetched(web.chain());
                long start = System.nanoTime();
                Thread drain = after(200, fetcher::endFirstFetchWaits);
                fetcher.awaitFirstFetches(List.of(waiting));
                long waited = System.nanoTime() - start;
                drain.join();
                assertTrue(waited < Duration.ofMillis(1000).toNanos(), "ended by the drain: " + waited / 1_000_000 + " ms");
                assertEquals(null, waiting.current(), "not answered yet");

                start = System.nanoTime();
                OcspFetcher.Fetched later = fetcher.fetched(api.chain());
                fetcher.awaitFirstFetches(List.of(later));
                assertTrue(System.nanoTime() - start < Duration.ofMillis(500).toNanos(), "no wait after the drain began");

                await(() -> waiting.current() != null && later.current() != null, "both fetched all the same");
            }
        }
    }

    @Test
    void anAnswerTooLargeOrWithBytesAfterItIsRefused() throws Exception {
        TestPki pki = TestPki.create(dir);
        Issued web = pki.issueServer("web.test");
        byte[] response = Files.readAllBytes(pki.ocspResponse(web, Duration.ofDays(1), false));
        X509Certificate leaf = web.certificate();
        X509Certificate issuer = web.caCertificate();
        assertTrue(OcspStaple.parse(response, "it", leaf, issuer).current(Instant.now()), "the response as it is");
        IllegalArgumentException trailing = assertThrows(IllegalArgumentException.class,
                () -> OcspStaple.parse(Arrays.copyOf(response, response.length + 1), "it", leaf, issuer));
        assertEquals("it: bytes after the response, or an encoding other than DER", trailing.getMessage());
        IllegalArgumentException large = assertThrows(IllegalArgumentException.class,
                () -> OcspStaple.parse(new byte[OcspStaple.MAX_BYTES + 1], "it", leaf, issuer));
        assertTrue(large.getMessage().startsWith("it: over 16 KiB"), large.getMessage());

        // the download of a longer answer stops at the limit
        OcspFetcher.BoundedBody body = new OcspFetcher.BoundedBody(10);
        AtomicBoolean cancelled = new AtomicBoolean();
        body.onSubscribe(new Flow.Subscription() {
            @Override
            public void request(long n) {
            }

            @Override
            public void cancel() {
                cancelled.set(true);
            }
        });
        body.onNext(List.of(ByteBuffer.allocate(6)));
        body.onNext(List.of(ByteBuffer.allocate(6)));
        assertTrue(cancelled.get());
        ExecutionException failed = assertThrows(ExecutionException.class,
                () -> body.getBody().toCompletableFuture().get());
        assertEquals("an answer of more than 10 bytes", failed.getCause().getMessage());
    }

    @Test
    void aCertificateServedNoMoreIsFetchedNoMore() throws Exception {
        TestPki pki = TestPki.create(dir);
        AtomicInteger requests = new AtomicInteger();
        try (Responder responder = Responder.start()) {
            Issued web = pki.issueServerWithOcspResponder("web.test", responder.url());
            responder.answer(new byte[] {1}, requests); // fails: asked again after 100, 200, 400, 800 ms…
            try (OcspFetcher fetcher = new OcspFetcher(Duration.ofSeconds(5), Duration.ofMillis(100))) {
                OcspFetcher.Fetched fetched = fetcher.fetched(web.chain());
                assertSame(fetched, fetcher.fetched(web.chain()), "one per certificate");
                await(() -> requests.get() >= 2, "a retry");
                fetcher.retain(List.of());
                int asked = requests.get();
                Thread.sleep(1500); // two or three more requests, were it still fetched
                assertTrue(requests.get() <= asked + 1, "at most the one under way: " + (requests.get() - asked));
                assertNotSame(fetched, fetcher.fetched(web.chain()), "served again: fetched anew");
            }
        }
    }

    @Test
    void aReloadAsksAgainAtOnceAfterAFailure() throws Exception {
        TestPki pki = TestPki.create(dir);
        AtomicInteger requests = new AtomicInteger();
        try (Responder responder = Responder.start()) {
            Issued web = pki.issueServerWithOcspResponder("web.test", responder.url());
            responder.answer(new byte[] {1}, requests); // fails
            try (OcspFetcher fetcher = new OcspFetcher(Duration.ofSeconds(5), Duration.ofMinutes(10))) {
                OcspFetcher.Fetched fetched = fetcher.fetched(web.chain());
                await(() -> fetcher.waitsAfterAFailure(fetched), "the first fetch's failure, the next in 10 min");
                responder.answer(Files.readAllBytes(pki.ocspResponse(web, Duration.ofDays(1), false)), requests);
                fetcher.retain(List.of(fetched));
                await(() -> fetched.current() != null, "the response, asked for again by the reload");
                assertEquals(3, requests.get(), "a GET and a POST (the GET's answer was no response), then a POST");
                fetcher.retain(List.of(fetched));
                fetcher.retain(List.of(fetched));
                Thread.sleep(300);
                assertEquals(3, requests.get(), "a certificate whose fetch went well is not asked again");
            }
        }
    }

    @Test
    void aReloadWhileAFetchRunsAsksAgainRightAfterItFailsWithoutASecondChain() throws Exception {
        TestPki pki = TestPki.create(dir);
        AtomicInteger requests = new AtomicInteger();
        CountDownLatch inSecond = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (Responder responder = Responder.start()) {
            Issued web = pki.issueServerWithOcspResponder("web.test", responder.url());
            byte[] good = Files.readAllBytes(pki.ocspResponse(web, Duration.ofDays(1), false));
            responder.answer(exchange -> {
                int n = requests.incrementAndGet();
                exchange.getRequestBody().readAllBytes();
                if (n == 3) { // the one a first reload asks for (after a GET and a POST): it hangs while more come
                    inSecond.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                byte[] body = n <= 3 ? new byte[] {1} : good; // the first three fail
                reply(exchange, body);
            });
            try (OcspFetcher fetcher = new OcspFetcher(Duration.ofSeconds(5), Duration.ofMinutes(10))) {
                OcspFetcher.Fetched fetched = fetcher.fetched(web.chain());
                await(() -> fetcher.waitsAfterAFailure(fetched), "the first failure, the next in 10 min");
                fetcher.retain(List.of(fetched)); // asks again now: the second request, which hangs
                assertTrue(inSecond.await(10, TimeUnit.SECONDS));
                fetcher.retain(List.of(fetched)); // while it runs: right after it, should it fail
                fetcher.retain(List.of(fetched));
                release.countDown();
                await(() -> fetched.current() != null, "the fourth request, right after the third failed");
                Thread.sleep(300);
                assertEquals(4, requests.get(), "one chain of fetches, not one per reload");
            }
        }
    }

    @Test
    void theRequestIsAGetWithTheRequestInTheUrl() throws Exception {
        TestPki pki = TestPki.create(dir);
        AtomicReference<String> method = new AtomicReference<>();
        AtomicReference<String> path = new AtomicReference<>();
        try (Responder responder = Responder.start()) {
            Issued web = pki.issueServerWithOcspResponder("web.test", responder.url() + "ocsp");
            byte[] good = Files.readAllBytes(pki.ocspResponse(web, Duration.ofDays(1), false));
            responder.answer(exchange -> {
                method.set(exchange.getRequestMethod());
                path.set(exchange.getRequestURI().getPath()); // decoded
                reply(exchange, good);
            });
            try (OcspFetcher fetcher = new OcspFetcher(Duration.ofSeconds(5), Duration.ofSeconds(30))) {
                OcspFetcher.Fetched fetched = fetcher.fetched(web.chain());
                await(() -> fetched.current() != null, "the response");
            }
            assertEquals("GET", method.get(), "RFC 5019: cacheable");
            assertTrue(path.get().startsWith("/ocsp/"), path.get());
            OCSPReq request = new OCSPReq(Base64.getDecoder().decode(path.get().substring("/ocsp/".length())));
            assertEquals(web.certificate().getSerialNumber(), request.getRequestList()[0].getCertID().getSerialNumber());
            assertEquals(null, request.getExtension(OCSPObjectIdentifiers.id_pkix_ocsp_nonce), "no nonce");
        }
    }

    @Test
    void aResponderThatTakesPostsOnlyOrHasAQueryIsAskedWithAPost() throws Exception {
        TestPki pki = TestPki.create(dir);
        List<String> methods = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        try (Responder responder = Responder.start()) {
            for (String path : List.of("ocsp", "ocsp?tenant=a")) {
                methods.clear();
                Issued web = pki.issueServerWithOcspResponder("web.test", responder.url() + path);
                byte[] good = Files.readAllBytes(pki.ocspResponse(web, Duration.ofDays(1), false));
                responder.answer(exchange -> {
                    methods.add(exchange.getRequestMethod());
                    if (!exchange.getRequestMethod().equals("POST")) {
                        exchange.sendResponseHeaders(405, -1); // as a responder behind a server that takes POSTs only
                        exchange.close();
                        return;
                    }
                    exchange.getRequestBody().readAllBytes();
                    reply(exchange, good);
                });
                try (OcspFetcher fetcher = new OcspFetcher(Duration.ofSeconds(5), Duration.ofSeconds(30))) {
                    OcspFetcher.Fetched fetched = fetcher.fetched(web.chain());
                    await(() -> fetched.current() != null, "the response");
                }
                assertEquals(path.contains("?") ? List.of("POST") : List.of("GET", "POST"), methods, path);
            }
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
