package io.tlsd.daemon.tls;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.ref.WeakReference;
import java.math.BigInteger;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.ASN1IA5String;
import org.bouncycastle.asn1.x509.AccessDescription;
import org.bouncycastle.asn1.x509.AuthorityInformationAccess;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.bouncycastle.cert.ocsp.CertificateID;
import org.bouncycastle.cert.ocsp.OCSPException;
import org.bouncycastle.cert.ocsp.OCSPReqBuilder;
import org.bouncycastle.cert.ocsp.OCSPResp;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fetches the OCSP responses of served certificates from their CA's responder and keeps them
 * fresh ({@code ocsp_fetch}), as nginx's {@code ssl_stapling on} and HAProxy's {@code ocsp-update
 * on} do: the responder is the one the certificate names (its Authority Information Access, an
 * {@code http} or {@code https} URL); the request carries no nonce, so that the responder can
 * answer it from a pre-signed response, and it is a GET with the request in the URL (RFC 5019:
 * what an HTTP cache in front of the responder can answer), or a POST where that URL would be over
 * 255 bytes, the responder's URL has a query, or the responder answered a GET with an error. No redirects are followed; a proxy is used only as the
 * JVM's {@code http.proxyHost} and {@code https.proxyHost} properties say. An answer must come
 * whole within {@link #TIMEOUT} and be at most {@link OcspStaple#MAX_BYTES}.
 *
 * <p>The first fetch starts when a certificate is first served; a start or a reload waits for it
 * before the certificate serves, a fetch's timeout and a second at most ({@link
 * #awaitFirstFetches}), and handshakes go without a staple until one arrives. A response is
 * checked as an {@code ocsp_file} is ({@link OcspStaple}: signed by the issuer or a responder it
 * certified, about this certificate, "good", current) and then stapled; the next fetch is due
 * halfway through its validity, at least {@link #MIN_REFRESH} and at most {@link #MAX_REFRESH}
 * later. A fetch that fails (the responder does not answer, answers an error, or a response
 * that does not check) is tried again after {@link #FIRST_RETRY}, twice as long after each failure up to {@link
 * #MAX_RETRY}, and the last good response is stapled meanwhile, while it is current; so is an
 * answer saying "unknown" (a certificate the responder does not know yet, or a glitch), or one
 * older than the last answer taken ("revoked" included: a cache's "good" is not taken after it),
 * while the response stapled, if any, is current. An answer saying "revoked" stops the stapling at
 * once (a client then asks the responder itself, and learns it), and is asked again after {@link
 * #MAX_RETRY}.
 *
 * <p>Contexts built again for the same certificate (a reload) share its {@link Fetched}, response
 * and schedule; the daemon says which certificates it serves after each start and reload ({@link
 * #retain}): the others are fetched no more (nor is one that no context holds, once it is
 * collected), and those whose last fetch failed are asked again at once (or, if a fetch of theirs
 * is under way and fails, right after it). The fetches run on threads of their own, started with
 * the first, up to {@link #FETCHERS} at once (each certificate's one at a time), so that a
 * responder that stalls holds up no other certificate's fetch unless that many stall at once.
 *
 * <p>Thread safety: every method may be called from any thread.
 */
public final class OcspFetcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OcspFetcher.class);

    static final Duration FIRST_RETRY = Duration.ofSeconds(5);
    static final Duration MAX_RETRY = Duration.ofHours(1);
    static final Duration MIN_REFRESH = Duration.ofMinutes(1);
    static final Duration MAX_REFRESH = Duration.ofHours(12);
    /** For the connection, and for the whole answer from the request on. */
    static final Duration TIMEOUT = Duration.ofSeconds(10);
    /** Fetches at once, each on a thread of its own. */
    static final int FETCHERS = 4;

    private final Duration timeout;
    private final Duration firstRetry;
    /** How long after a certificate is first asked for {@link #awaitFirstFetches} waits for it. */
    private final Duration firstFetchWait;
    /** The certificates fetched for, held weakly: by the contexts that staple their responses. */
    private final Map<Key, WeakReference<Fetched>> fetched = new HashMap<>();
    /** Created with the first certificate; guarded by {@link #fetched}. */
    private ScheduledExecutorService executor;
    /** Created by the first fetch; guarded by {@link #httpLock}. */
    private HttpClient http;
    private final Object httpLock = new Object();
    /** Guarded by {@link #fetched}. */
    private boolean closed;
    /** Set by {@link #endFirstFetchWaits()}: nothing waits for a first fetch any more. */
    private volatile boolean waitsEnded;

    public OcspFetcher() {
        this(TIMEOUT, FIRST_RETRY);
    }

    /** With another timeout and first retry: for tests. */
    OcspFetcher(Duration timeout, Duration firstRetry) {
        this.timeout = timeout;
        this.firstRetry = firstRetry;
        this.firstFetchWait = timeout.plusSeconds(1);
    }

    private record Key(X500Principal issuer, BigInteger serial, URI responder) {
    }

    /**
     * The fetched response of {@code chain}'s leaf: the same for the same certificate while a
     * context holds it; a new one starts fetching at once.
     *
     * @param chain the leaf, then its issuer (which checking a response needs)
     * @throws IllegalArgumentException naming the certificate, if the chain lacks the issuer or the
     *     certificate names no responder
     */
    public Fetched fetched(List<X509Certificate> chain) {
        X509Certificate leaf = chain.get(0);
        String subject = leaf.getSubjectX500Principal().getName();
        URI responder = responderOf(chain);
        X509Certificate issuer = chain.get(1);
        Key key = new Key(issuer.getSubjectX500Principal(), leaf.getSerialNumber(), responder);
        synchronized (fetched) {
            if (closed) {
                throw new IllegalStateException("closed");
            }
            WeakReference<Fetched> known = fetched.get(key);
            Fetched f = known == null ? null : known.get();
            if (f != null) {
                return f;
            }
            f = new Fetched(subject, leaf, issuer, responder);
            WeakReference<Fetched> ref = new WeakReference<>(f);
            f.key = key;
            f.ref = ref;
            fetched.put(key, ref);
            if (executor == null) {
                AtomicInteger threads = new AtomicInteger();
                executor = Executors.newScheduledThreadPool(FETCHERS, r -> {
                    Thread t = new Thread(r, "tlsd-ocsp-" + threads.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
            }
            executor.execute(() -> fetch(key, ref, firstRetry, 0));
            return f;
        }
    }

    /**
     * Waits until each of {@code certificates} has had its first fetch (answered, failed or
     * "revoked"), but for each no longer than a fetch's timeout and a second after it was first
     * asked for: so that a start or a reload staples from its first handshake on wherever the
     * responder answers in time (a strict client of a must-staple certificate fails a handshake
     * without). Up to {@link #FETCHERS} fetches run at once: a responder that stalls holds up the
     * certificates queued behind its fetch only when that many stall at once. A certificate that
     * was fetched for before (kept across a reload) does not wait. Logs those still without a response to staple; {@link #close()}
     * and {@link #endFirstFetchWaits()} end the waits.
     *
     * @throws InterruptedException if interrupted while waiting
     */
    public void awaitFirstFetches(Collection<Fetched> certificates) throws InterruptedException {
        for (Fetched f : certificates) {
            if (waitsEnded) {
                return;
            }
            long left = f.askedAt + firstFetchWait.toNanos() - System.nanoTime();
            if (left > 0 && !f.firstFetch.await(left, TimeUnit.NANOSECONDS)) {
                log.warn("{}: no answer from its OCSP responder {} within {} of asking; its handshakes go without"
                        + " a staple until one comes", f.subject, f.responder, words(firstFetchWait));
            }
        }
    }

    /** {@link #awaitFirstFetches} of the fetched responses {@code contexts} staple, before they serve. */
    public void awaitFirstFetchesOf(Collection<ServerTlsContexts> contexts) throws InterruptedException {
        List<Fetched> all = new ArrayList<>();
        contexts.forEach(c -> all.addAll(c.ocspFetched()));
        awaitFirstFetches(all);
    }

    /**
     * The certificates served now are {@code served} (after a start, and after a reload whether
     * it succeeded or not): the others are fetched no more; those whose last fetch failed (or said
     * "revoked") are asked again now, rather than after their back-off (one whose fetch is under
     * way right after it, if it fails): an operator who fixed the responder, or its address, sends
     * SIGHUP.
     */
    public void retain(Collection<Fetched> served) {
        Set<Fetched> keep = Collections.newSetFromMap(new IdentityHashMap<>());
        keep.addAll(served);
        synchronized (fetched) {
            if (closed) {
                return;
            }
            fetched.values().removeIf(ref -> {
                Fetched f = ref.get();
                if (f == null || keep.contains(f)) {
                    return f == null;
                }
                f.released = true;
                if (f.pending != null) {
                    f.pending.cancel(false);
                }
                log.info("{}: served no more; its OCSP response is fetched no more", f.subject);
                return true;
            });
            for (Fetched f : keep) {
                if (f.running) {
                    f.askAgain = true; // the fetch under way may have begun before the responder was fixed
                } else if (f.failing && f.pending != null) {
                    f.pending.cancel(false); // and should it start all the same, its generation is stale
                    f.pending = null;
                    long generation = ++f.generation;
                    log.info("{}: asking its OCSP responder {} again now (reload)", f.subject, f.responder);
                    Key key = f.key;
                    WeakReference<Fetched> ref = f.ref;
                    Duration retry = f.pendingRetry;
                    executor.execute(() -> fetch(key, ref, retry, generation));
                }
            }
        }
    }

    /**
     * The OCSP responder {@code chain}'s leaf names (Authority Information Access): its first
     * {@code http} or {@code https} URL.
     *
     * @param chain the leaf, then its issuer (which checking a response needs)
     * @throws IllegalArgumentException naming the certificate, if it names none, or the chain lacks
     *     the issuer
     */
    public static URI responderOf(List<X509Certificate> chain) {
        X509Certificate cert = chain.get(0);
        String subject = cert.getSubjectX500Principal().getName();
        OcspStaple.issuer(subject, chain);
        try {
            X509CertificateHolder holder = new JcaX509CertificateHolder(cert);
            Extension aia = holder.getExtension(Extension.authorityInfoAccess);
            if (aia != null) {
                for (AccessDescription ad : AuthorityInformationAccess.getInstance(aia.getParsedValue())
                        .getAccessDescriptions()) {
                    GeneralName location = ad.getAccessLocation();
                    if (ad.getAccessMethod().equals(AccessDescription.id_ad_ocsp)
                            && location.getTagNo() == GeneralName.uniformResourceIdentifier) {
                        URI uri = new URI(ASN1IA5String.getInstance(location.getName()).getString());
                        if (("http".equalsIgnoreCase(uri.getScheme()) || "https".equalsIgnoreCase(uri.getScheme()))
                                && uri.getHost() != null) {
                            return uri;
                        }
                    }
                }
            }
        } catch (CertificateEncodingException | URISyntaxException | IllegalArgumentException e) {
            throw new IllegalArgumentException(subject + ": cannot read its OCSP responder's address: " + e.getMessage());
        }
        throw new IllegalArgumentException(subject + ": ocsp_fetch needs the certificate to name its OCSP responder"
                + " (an http or https URL in its Authority Information Access), and it names none");
    }

    /** Fetches once for {@code ref}'s certificate, unless it is served no more, and schedules the next. */
    private void fetch(Key key, WeakReference<Fetched> ref, Duration retry, long generation) {
        Fetched f = ref.get();
        synchronized (fetched) {
            if (f == null || f.released) {
                fetched.remove(key, ref);
                if (f != null) {
                    f.firstFetch.countDown();
                }
                return;
            }
            if (f.generation != generation) {
                return; // a reload asked again meanwhile: that fetch is the one that goes on
            }
            f.running = true;
            f.pending = null;
        }
        OcspStaple last = f.current;
        // unless it goes well: a failure, tried again after the back-off
        Duration next = retryIn(retry, last, Instant.now(), firstRetry);
        Duration nextRetry = min(retry.multipliedBy(2), MAX_RETRY);
        boolean good = false;
        try {
            OcspStaple staple = f.fetch(http(), timeout);
            Instant newest = f.newest;
            if (newest != null && staple.thisUpdate().isBefore(newest)
                    && (last == null || last.current(Instant.now()))) {
                throw new IllegalArgumentException("an answer older than the last one (from " + staple.thisUpdate()
                        + ", against " + newest + ")");
            }
            f.current = staple;
            f.newest = staple.thisUpdate();
            good = true;
            next = refreshIn(staple, Instant.now());
            nextRetry = firstRetry;
            log.info("{}: OCSP response from {}: good, from {} until {}; stapled; the next fetch in {}", f.subject,
                    f.responder, staple.thisUpdate(), staple.currentUntil(), words(next));
        } catch (OcspStaple.NotGood e) {
            if (e.revoked()) {
                f.current = null;
                // an older "good" (a cache's) is not taken after it; one dated ahead counts from now
                Instant ahead = Instant.now().plus(OcspStaple.CLOCK_SKEW);
                f.newest = e.thisUpdate().isAfter(ahead) ? ahead : e.thisUpdate();
                next = MAX_RETRY;
                nextRetry = firstRetry;
                log.error("{}: OCSP response from {}: {}; stapling none; asking again in {}", f.subject, f.responder,
                        e.getMessage(), words(next));
            } else {
                failed(f, e, last, next);
            }
        } catch (IOException | RuntimeException | LinkageError | AssertionError e) {
            if (!isClosed()) { // else the daemon stops: the fetch under way was cut short
                failed(f, e, last, next);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            if (!isClosed()) { // not from close(): a failure as any other
                failed(f, e, last, next);
            }
        } catch (Error e) {
            f.failures.increment();
            log.error("{}: fetching its OCSP response failed: {}; trying again in {}", f.subject, e, words(next));
            throw e; // scheduled again all the same, below
        } finally {
            // whatever happened above, the chain goes on (or ends with the fetcher, or the certificate)
            Duration retryAfter = nextRetry;
            f.firstFetch.countDown();
            synchronized (fetched) {
                f.running = false;
                if (!closed && !f.released) {
                    Duration delay = f.askAgain && !good ? Duration.ZERO : next;
                    f.askAgain = false;
                    // the task holds the certificate weakly only: key and ref, not f
                    f.pending = executor.schedule(() -> fetch(key, ref, retryAfter, generation), delay.toMillis(),
                            TimeUnit.MILLISECONDS);
                    f.pendingRetry = retryAfter;
                    f.failing = !good;
                }
            }
        }
    }

    private static void failed(Fetched f, Throwable e, OcspStaple last, Duration next) {
        f.failures.increment();
        boolean keeps = last != null && last.current(Instant.now());
        log.warn("{}: cannot fetch its OCSP response from {}: {}; {}; trying again in {}", f.subject, f.responder,
                reason(e), keeps ? "stapling the last one, current until " + last.currentUntil() : "stapling none",
                words(next));
    }

    /** Whether {@code f}'s last fetch failed and the next waits: for tests. */
    boolean waitsAfterAFailure(Fetched f) {
        synchronized (fetched) {
            return f.failing && f.pending != null;
        }
    }

    private boolean isClosed() {
        synchronized (fetched) {
            return closed;
        }
    }

    /** Halfway through the response's validity, within {@link #MIN_REFRESH} and {@link #MAX_REFRESH} from {@code now}. */
    static Duration refreshIn(OcspStaple staple, Instant now) {
        Duration validity = Duration.between(staple.thisUpdate(), staple.currentUntil());
        Duration in = Duration.between(now, staple.thisUpdate().plus(validity.dividedBy(2)));
        return in.compareTo(MIN_REFRESH) < 0 ? MIN_REFRESH : min(in, MAX_REFRESH);
    }

    /**
     * The wait after a failed fetch: the {@code backoff}, but while the stapled response {@code
     * last} is current no more than half of what is left of it (and no less than {@code floor}),
     * so that a responder that recovers before the response runs out is asked again in time.
     */
    static Duration retryIn(Duration backoff, OcspStaple last, Instant now, Duration floor) {
        if (last == null || !last.current(now)) {
            return backoff;
        }
        Duration half = Duration.between(now, last.currentUntil()).dividedBy(2);
        return min(backoff, half.compareTo(floor) < 0 ? floor : half);
    }

    /** The first message in {@code e}'s causes, else what its class says. */
    private static String reason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                return t.getMessage();
            }
        }
        // the JDK's HttpClient says nothing more when the responder refuses the connection
        return e instanceof ConnectException ? "cannot connect" : e.getClass().getSimpleName();
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private static String words(Duration d) {
        long s = d.toSeconds();
        return s < 1 ? d.toMillis() + " ms" : s < 120 ? s + " s" : s < 7200 ? s / 60 + " min" : s / 3600 + " h";
    }

    private HttpClient http() {
        synchronized (httpLock) {
            if (http == null) {
                http = HttpClient.newBuilder()
                        .version(HttpClient.Version.HTTP_1_1) // no h2c upgrade: responders are simple HTTP servers
                        .connectTimeout(timeout)
                        .followRedirects(HttpClient.Redirect.NEVER)
                        .build();
            }
            return http;
        }
    }

    /**
     * Ends the waits for first fetches, those under way and those to come, while fetching goes on
     * (answers are stapled as they come): a daemon that drains does not wait for a reload that
     * waits for a responder.
     */
    public void endFirstFetchWaits() {
        synchronized (fetched) {
            waitsEnded = true;
            fetched.values().forEach(ref -> {
                Fetched f = ref.get();
                if (f != null) {
                    f.firstFetch.countDown();
                }
            });
        }
    }

    /** Stops fetching. */
    @Override
    public void close() {
        synchronized (fetched) {
            closed = true;
            if (executor != null) {
                executor.shutdownNow();
            }
        }
        endFirstFetchWaits(); // nothing fetches any more: nobody waits for it
    }

    /** One certificate's response, as fetched last. */
    public static final class Fetched {
        private final String subject;
        private final X509Certificate leaf;
        private final X509Certificate issuer;
        private final URI responder;
        private final byte[] request;
        private volatile OcspStaple current;
        /** Set by {@link #retain}: served no more, fetched no more. */
        private volatile boolean released;
        /** Both set once, before the first fetch; guarded by the fetcher's map. */
        private Key key;
        private WeakReference<Fetched> ref;
        /**
         * The next fetch, its back-off, whether the last one failed, whether one is under way, and
         * which chain of fetches is the certificate's (a reload that asks again starts another);
         * guarded by the fetcher's map.
         */
        private ScheduledFuture<?> pending;
        private Duration pendingRetry;
        private boolean failing;
        private boolean running;
        /** Set by a reload while a fetch runs: should it fail, the next one is at once. */
        private boolean askAgain;
        private long generation;
        /** The thisUpdate of the newest answer taken, "revoked" included; only its fetches use it, one at a time. */
        private Instant newest;
        /** Its responder answered a GET with an error: POSTs only; only its fetches use it, one at a time. */
        private boolean postOnly;
        private final LongAdder failures = new LongAdder();
        /** When it was first asked for ({@link System#nanoTime()}), and the end of its first fetch. */
        private final long askedAt = System.nanoTime();
        private final CountDownLatch firstFetch = new CountDownLatch(1);

        private Fetched(String subject, X509Certificate leaf, X509Certificate issuer, URI responder) {
            this.subject = subject;
            this.leaf = leaf;
            this.issuer = issuer;
            this.responder = responder;
            try {
                CertificateID id = new CertificateID(new JcaDigestCalculatorProviderBuilder().build()
                        .get(CertificateID.HASH_SHA1), new JcaX509CertificateHolder(issuer), leaf.getSerialNumber());
                this.request = new OCSPReqBuilder().addRequest(id).build().getEncoded();
            } catch (OperatorCreationException | OCSPException | CertificateEncodingException | IOException e) {
                throw new IllegalArgumentException(subject + ": cannot make its OCSP request: " + e.getMessage(), e);
            }
        }

        /** The response to staple, checked when it came; null before the first and after a "revoked". */
        public OcspStaple current() {
            return current;
        }

        /** Until when {@link #current()} is current; the epoch without one. */
        public Instant currentUntil() {
            OcspStaple staple = current;
            return staple == null ? Instant.EPOCH : staple.currentUntil();
        }

        /** The fetches that failed so far (a "revoked" answer is no failure). */
        public long failures() {
            return failures.sum();
        }

        /** Where the responses come from. */
        public URI responder() {
            return responder;
        }

        /**
         * The URL of a GET with the request in it (RFC 5019, section 5: what HTTP caches in front of
         * a responder can answer, as nginx asks), or null where a POST is asked for: a URL over 255
         * bytes, or a responder URL with a query or a fragment.
         */
        URI getUrl() {
            if (responder.getRawQuery() != null || responder.getRawFragment() != null) {
                return null;
            }
            String base = responder.toString();
            String url = base + (base.endsWith("/") ? "" : "/")
                    + URLEncoder.encode(Base64.getEncoder().encodeToString(request), StandardCharsets.US_ASCII);
            return url.length() > 255 ? null : URI.create(url);
        }

        /**
         * Asks the responder: with a GET ({@link #getUrl}) unless it answered one with an error
         * before, then with a POST (some responders, or the servers in front of them, take POSTs
         * only); a GET answered with an error is asked again as a POST at once.
         */
        private OcspStaple fetch(HttpClient http, Duration timeout) throws IOException, InterruptedException {
            URI get = postOnly ? null : getUrl();
            HttpResponse<byte[]> response = null;
            if (get != null) {
                response = send(http, HttpRequest.newBuilder(get).GET(), timeout);
                if (response.statusCode() != 200 || !successful(response.body())) {
                    postOnly = true;
                    log.info("{}: {} answered a GET with {}; asking with POSTs from now on", subject, responder,
                            response.statusCode() != 200 ? "HTTP status " + response.statusCode() : "an error");
                    response = null;
                }
            }
            if (response == null) {
                response = send(http, HttpRequest.newBuilder(responder)
                        .header("Content-Type", "application/ocsp-request")
                        .POST(HttpRequest.BodyPublishers.ofByteArray(request)), timeout);
            }
            if (response.statusCode() != 200) {
                throw new IOException("HTTP status " + response.statusCode());
            }
            OcspStaple staple = OcspStaple.parse(response.body(), "its answer", leaf, issuer);
            if (!staple.current(Instant.now())) {
                throw new IllegalArgumentException("a response that is not current (from " + staple.thisUpdate()
                        + " until " + staple.currentUntil() + ")");
            }
            return staple;
        }

        private static boolean successful(byte[] der) {
            try {
                return der != null && new OCSPResp(der).getStatus() == OCSPResp.SUCCESSFUL;
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }

        /** One exchange, its whole answer within {@code timeout}. */
        private static HttpResponse<byte[]> send(HttpClient http, HttpRequest.Builder request, Duration timeout)
                throws IOException, InterruptedException {
            // the request's timeout ends with the headers (JDK 17): the whole answer has a deadline here
            CompletableFuture<HttpResponse<byte[]>> call = http.sendAsync(
                    request.timeout(timeout).header("Accept", "application/ocsp-response").build(),
                    info -> info.statusCode() == 200
                            ? new BoundedBody(OcspStaple.MAX_BYTES) : HttpResponse.BodySubscribers.replacing(null));
            try {
                return call.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                call.cancel(true); // closing: not to leave the exchange open
                throw e;
            } catch (TimeoutException e) {
                call.cancel(true);
                throw new IOException("no whole answer within " + timeout.toSeconds() + " s");
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                throw cause instanceof IOException io ? io : new IOException(reason(cause), cause);
            }
        }
    }

    /** Collects a body of at most {@code max} bytes; a longer one fails, and its download stops. */
    static final class BoundedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final int max;
        private final CompletableFuture<byte[]> body = new CompletableFuture<>();
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private Flow.Subscription subscription;

        BoundedBody(int max) {
            this.max = max;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            this.subscription = subscription;
            subscription.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            for (ByteBuffer item : items) {
                if (body.isDone()) {
                    return;
                }
                if (bytes.size() + item.remaining() > max) {
                    subscription.cancel();
                    body.completeExceptionally(new IOException("an answer of more than " + max + " bytes"));
                    return;
                }
                byte[] chunk = new byte[item.remaining()];
                item.get(chunk);
                bytes.write(chunk, 0, chunk.length);
            }
        }

        @Override
        public void onError(Throwable failure) {
            body.completeExceptionally(failure);
        }

        @Override
        public void onComplete() {
            body.complete(bytes.toByteArray());
        }
    }
}
