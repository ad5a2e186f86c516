package io.tlsd.daemon.tls;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.DelegatingSslContext;
import io.netty.handler.ssl.OpenSslAsyncPrivateKeyMethod;
import io.netty.handler.ssl.OpenSslContextOption;
import io.netty.handler.ssl.OpenSslServerSessionContext;
import io.netty.handler.ssl.OpenSslX509KeyManagerFactory;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.DomainWildcardMappingBuilder;
import io.netty.util.Mapping;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import io.tlsd.daemon.tls.signing.KeyKind;
import io.tlsd.daemon.tls.signing.KeySigner;
import io.tlsd.daemon.tls.signing.SigningPolicy;
import io.tlsd.daemon.tls.signing.SigningPolicy.Placement;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS contexts of one listener of the server role: one per certificate, chosen by the name
 * the client asks for (SNI, exact or {@code *.wildcard}), with a default for clients that ask for
 * none or for a name nobody serves.
 *
 * <p>Each certificate's private-key operations run where the {@link SigningPolicy} puts them: in
 * BoringSSL on the event loop, or through a {@link KeySigner} off it (netty-tcnative's
 * asynchronous private-key method: the handshake pauses, the loop serves other connections, and
 * Netty's {@code SslHandler} resumes the handshake on the connection's own loop when the signature
 * arrives). With the "jdk" TLS provider the JDK's engine signs on the loop whatever the policy.
 */
public final class ServerTlsContexts {
    private static final Logger log = LoggerFactory.getLogger(ServerTlsContexts.class);

    /** Whether and how clients must present a certificate. */
    public enum ClientAuthPolicy { NONE, OPTIONAL, REQUIRED }

    /**
     * A certificate the listener serves.
     *
     * @param names SNI names it answers (exact or "*.example.com"); empty for the default
     * @param material the key and chain
     * @param ocspFile its OCSP response (DER) to staple ({@link OcspStaple}); null for none
     * @param ocspFetched its OCSP response as fetched from its responder, to staple; null for none
     */
    public record Identity(List<String> names, KeyMaterial material, Path ocspFile, OcspFetcher.Fetched ocspFetched) {
        public Identity {
            names = List.copyOf(names);
            if (ocspFile != null && ocspFetched != null) {
                throw new IllegalArgumentException("an OCSP response from a file, or fetched; not both");
            }
        }

        /** With an OCSP response from a file (or none). */
        public Identity(List<String> names, KeyMaterial material, Path ocspFile) {
            this(names, material, ocspFile, null);
        }

        /** Without an OCSP response. */
        public Identity(List<String> names, KeyMaterial material) {
            this(names, material, null, null);
        }
    }

    /** Where one identity's key operations run, for logs and tests. */
    public record KeyPlacement(Identity identity, KeyKind kind, Placement placement) {
    }

    private final SslContext defaultContext;
    private final Mapping<String, SslContext> byName;
    /** Whether there are several certificates, so that a client's SNI name picks one. */
    private final boolean choosesByName;
    private final List<KeyPlacement> placements = new ArrayList<>();
    private final List<Stapled> staples = new ArrayList<>();
    /** The client CRL file and how many lists it has, for {@link #describe()}; null without one. */
    private String clientCrls;
    private List<X509CRL> clientRevocationLists = List.of();

    /** Same as the full constructor with the {@code auto} signing policy. */
    public ServerTlsContexts(List<Identity> identities, List<String> alpn, ClientAuthPolicy clientAuth,
                             Path clientCaFile, TlsParameters tls, TicketKeys tickets)
            throws SSLException {
        this(identities, alpn, clientAuth, clientCaFile, tls, tickets,
                SigningPolicy.auto());
    }

    /** Same as the full constructor without a CRL file. */
    public ServerTlsContexts(List<Identity> identities, List<String> alpn, ClientAuthPolicy clientAuth,
                             Path clientCaFile, TlsParameters tls, TicketKeys tickets,
                             SigningPolicy signing)
            throws SSLException {
        this(identities, alpn, clientAuth, clientCaFile, null, null, tls, tickets, signing);
    }

    /**
     * @param identities at least one; the first without names (else the first) is the default
     * @param clientCaFile trust anchors for client certificates; required unless policy is NONE
     * @param clientCrlFile revocation lists that client certificates are checked against
     *     ({@link RevocationLists}, strictly); null for none; needs {@code clientCaFile}
     * @param allowedClients which verified client certificates get in; null for any; needs
     *     {@code clientAuth} REQUIRED
     * @param signing where each certificate's private-key operations run
     */
    public ServerTlsContexts(List<Identity> identities, List<String> alpn, ClientAuthPolicy clientAuth,
                             Path clientCaFile, Path clientCrlFile, AllowedIdentities allowedClients, TlsParameters tls,
                             TicketKeys tickets, SigningPolicy signing)
            throws SSLException {
        if (identities.isEmpty()) {
            throw new IllegalArgumentException("a listener needs at least one certificate");
        }
        if (clientAuth != ClientAuthPolicy.NONE && clientCaFile == null) {
            throw new IllegalArgumentException("client authentication " + clientAuth.name().toLowerCase()
                    + " needs a client CA file");
        }
        if (clientCrlFile != null && clientCaFile == null) {
            throw new IllegalArgumentException("a client CRL file needs a client CA file");
        }
        if (allowedClients != null && clientAuth != ClientAuthPolicy.REQUIRED) {
            throw new IllegalArgumentException("allowed_clients needs client_auth: required");
        }
        X509ExtendedTrustManager clientTrust = null;
        if (clientCrlFile != null || allowedClients != null) {
            X509ExtendedTrustManager verified = clientCrlFile != null ? clientTrust(clientCaFile, clientCrlFile)
                    : anchorsOnly(clientCaFile);
            clientTrust = allowedClients == null ? verified : allowedClients.after(verified);
        }
        byte[] sessionIdContext = sessionIdContext(clientAuth, clientCaFile, clientCrlFile, allowedClients);
        choosesByName = identities.size() > 1;
        Identity fallback = identities.stream().filter(i -> i.names().isEmpty()).findFirst().orElse(identities.get(0));
        defaultContext = build(fallback, alpn, clientAuth, clientCaFile, clientTrust, sessionIdContext, tls, tickets,
                signing);
        DomainWildcardMappingBuilder<SslContext> mapping = new DomainWildcardMappingBuilder<>(defaultContext);
        for (Identity identity : identities) {
            if (identity.names().isEmpty()) {
                continue;
            }
            // the default has names when every certificate has: built once
            SslContext ctx = identity == fallback ? defaultContext : build(identity, alpn, clientAuth, clientCaFile,
                    clientTrust, sessionIdContext, tls, tickets, signing);
            for (String name : identity.names()) {
                mapping.add(name, ctx);
            }
        }
        byName = mapping.build();
    }

    /** Client certificates checked against the anchors of {@code caFile} and the lists of {@code crlFile}. */
    private X509ExtendedTrustManager clientTrust(Path caFile, Path crlFile) throws SSLException {
        List<X509Certificate> anchors = KeyMaterial.readCertificates(caFile); // IllegalArgumentException naming it
        List<X509CRL> crls;
        try {
            crls = RevocationLists.read(crlFile);
        } catch (GeneralSecurityException | IOException e) {
            throw new SSLException(e.getMessage(), e); // it names the file
        }
        RevocationLists.staleLists(crlFile, crls, Instant.now()).forEach(log::warn);
        clientRevocationLists = List.copyOf(crls);
        clientCrls = crlFile + " (" + crls.size() + (crls.size() == 1 ? " list)" : " lists)");
        try {
            return RevocationLists.trustManager(anchors, crls, crlFile);
        } catch (GeneralSecurityException e) {
            throw new SSLException("cannot use the client CA file " + caFile + ": " + e.getMessage(), e);
        }
    }

    /** The JDK's PKIX trust manager over the anchors of {@code caFile}, for client certificates. */
    private static X509ExtendedTrustManager anchorsOnly(Path caFile) throws SSLException {
        List<X509Certificate> anchors = KeyMaterial.readCertificates(caFile); // IllegalArgumentException naming it
        try {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            for (int i = 0; i < anchors.size(); i++) {
                store.setCertificateEntry("anchor-" + i, anchors.get(i));
            }
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(store);
            return RevocationLists.x509(factory);
        } catch (GeneralSecurityException | IOException e) {
            throw new SSLException("cannot use the client CA file " + caFile + ": " + e, e);
        }
    }

    /**
     * What a session must have been verified under to be resumed: the client-certificate policy,
     * the allowed clients, and the bytes of the client-CA and client-CRL files. BoringSSL does not verify a client again
     * when it resumes its session, Netty gives every server context the same session id context,
     * and the ticket keys are shared by every listener and tunnel and kept across reloads; without
     * this a session begun where no certificate was asked for would resume where one is required,
     * and a client would resume after a reload that revoked its certificate.
     *
     * @return 32 bytes, BoringSSL's most
     */
    private static byte[] sessionIdContext(ClientAuthPolicy clientAuth, Path caFile, Path crlFile,
                                           AllowedIdentities allowedClients) throws SSLException {
        try {
            MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
            sha256.update(clientAuth.name().getBytes(StandardCharsets.US_ASCII));
            byte[] allowed = allowedClients == null ? new byte[0] : allowedClients.encoded();
            sha256.update(ByteBuffer.allocate(4).putInt(allowed.length).array());
            sha256.update(allowed);
            for (Path file : new Path[] {caFile, crlFile}) {
                byte[] bytes = file == null ? new byte[0] : Files.readAllBytes(file);
                sha256.update(ByteBuffer.allocate(5).put((byte) (file == null ? 0 : 1)).putInt(bytes.length).array());
                sha256.update(bytes);
            }
            return sha256.digest();
        } catch (IOException | GeneralSecurityException e) {
            throw new SSLException("cannot read " + caFile + " or " + crlFile + ": " + e, e);
        }
    }

    private SslContext build(Identity identity, List<String> alpn, ClientAuthPolicy clientAuth,
                             Path clientCaFile, X509ExtendedTrustManager clientTrust, byte[] sessionIdContext,
                             TlsParameters tls, TicketKeys tickets, SigningPolicy signing)
            throws SSLException {
        KeyMaterial material = identity.material();
        X509Certificate[] chain = material.chain().toArray(new X509Certificate[0]);
        SslProvider sslProvider = tls.sslProvider();
        KeyKind kind = KeyKind.of(material.leaf().getPublicKey());
        // Only BoringSSL can pause a handshake for a signature; the JDK's engine signs in place.
        Placement placement = sslProvider == SslProvider.OPENSSL
                ? signing.placementFor(kind, material.key())
                : Placement.ON_LOOP;
        if (sslProvider != SslProvider.OPENSSL && signing.mode() == SigningPolicy.Mode.OFF_LOOP) {
            log.warn("{}: signing stays on the event loop: the {} TLS provider cannot sign off it", material, tls.provider());
        }
        SslContextBuilder builder;
        if (placement == Placement.OFF_LOOP) {
            // Keyless: BoringSSL gets only the chain; every operation goes to the signer.
            KeySigner signer = signing.signers().forKey(material.key(), material.leaf());
            builder = SslContextBuilder.forServer(keylessKeyManagers(chain))
                    .option(OpenSslContextOption.ASYNC_PRIVATE_KEY_METHOD, new AsyncKeyMethod(signer));
        } else {
            builder = SslContextBuilder.forServer(material.key(), chain);
        }
        placements.add(new KeyPlacement(identity, kind, placement));
        log.info("{}: {} key, private-key operations {}", material, kind,
                placement == Placement.ON_LOOP ? "on the event loop" : "on the signer threads");
        tls.applyTo(builder)
                .clientAuth(switch (clientAuth) {
                    case NONE -> ClientAuth.NONE;
                    case OPTIONAL -> ClientAuth.OPTIONAL;
                    case REQUIRED -> ClientAuth.REQUIRE;
                });
        if (clientTrust != null) {
            builder.trustManager(clientTrust);
        } else if (clientCaFile != null) {
            builder.trustManager(clientCaFile.toFile());
        }
        Supplier<OcspStaple> stapling = null;
        if (identity.ocspFile() != null) {
            if (sslProvider != SslProvider.OPENSSL) {
                throw new IllegalArgumentException(identity.ocspFile() + ": stapling an OCSP response needs the boringssl"
                        + " TLS provider");
            }
            OcspStaple staple = OcspStaple.read(identity.ocspFile(), material.chain());
            staples.add(new Stapled(material.leaf(), staple::currentUntil, null));
            if (!staple.current(Instant.now())) {
                log.warn("{}: the OCSP response is not current (from {} until {}): stapling none until the file is"
                        + " renewed (then SIGHUP)", identity.ocspFile(), staple.thisUpdate(), staple.currentUntil());
            } else {
                builder.enableOcsp(true);
                stapling = () -> staple;
            }
        } else if (identity.ocspFetched() != null) {
            OcspFetcher.Fetched fetched = identity.ocspFetched();
            if (sslProvider != SslProvider.OPENSSL) {
                throw new IllegalArgumentException(material + ": stapling an OCSP response (ocsp_fetch) needs the"
                        + " boringssl TLS provider");
            }
            staples.add(new Stapled(material.leaf(), fetched::currentUntil, fetched::failures));
            builder.enableOcsp(true);
            stapling = fetched::current;
        }
        if (!alpn.isEmpty()) {
            builder.applicationProtocolConfig(ClientTlsContexts.alpnConfig(alpn));
        }
        SslContext ctx = builder.build();
        if (ctx.sessionContext() instanceof OpenSslServerSessionContext sessions
                && !sessions.setSessionIdContext(sessionIdContext)) {
            throw new SSLException("BoringSSL refused the session id context");
        }
        if (tickets != null) {
            tickets.attach(ctx);
        }
        return stapling == null ? ctx : new Stapling(ctx, stapling);
    }

    private static OpenSslX509KeyManagerFactory keylessKeyManagers(X509Certificate[] chain) throws SSLException {
        try {
            return OpenSslX509KeyManagerFactory.newKeyless(chain);
        } catch (IOException | GeneralSecurityException e) {
            throw new SSLException("cannot use the certificate chain without its key: " + e.getMessage(), e);
        }
    }

    /** Where each certificate's key operations run, in the order the contexts were built. */
    public List<KeyPlacement> placements() {
        return Collections.unmodifiableList(placements);
    }

    /**
     * The leaf certificates served, each once (the default one is also built into the SNI
     * mapping when every certificate has names), in the order the contexts were built.
     */
    public List<X509Certificate> leaves() {
        return placements.stream().map(p -> p.identity().material().leaf()).distinct().toList();
    }

    /** The certificates served, e.g. "CN=api.test until 2027-11-30T12:00:00Z": for logs. */
    public String describe() {
        return placements.stream()
                .map(p -> p.identity().material().leaf())
                .map(leaf -> leaf.getSubjectX500Principal().getName() + " until " + leaf.getNotAfter().toInstant())
                .collect(Collectors.joining(", ")) + (clientCrls == null ? "" : ", client CRLs " + clientCrls);
    }

    /**
     * A certificate with an OCSP response ({@code ocsp_file} or {@code ocsp_fetch}), and until when
     * the response is current (now: a fetched one changes); one past it is not sent, and the epoch
     * means none yet. {@code fetchFailures}: the fetches that failed so far; null for a file's.
     */
    public record Stapled(X509Certificate leaf, Supplier<Instant> currentUntil, LongSupplier fetchFailures) {
    }

    /** The certificates with an OCSP response, in the order the contexts were built. */
    public List<Stapled> staples() {
        return Collections.unmodifiableList(staples);
    }

    /** The responses fetched for these contexts' certificates ({@code ocsp_fetch}). */
    public List<OcspFetcher.Fetched> ocspFetched() {
        return placements.stream().map(p -> p.identity().ocspFetched()).filter(Objects::nonNull).distinct().toList();
    }

    /**
     * Staples the response of the moment to every engine {@code ctx} makes (enableOcsp must be
     * on), while it is current: a file's that goes stale before the next reload is no longer sent.
     */
    private static final class Stapling extends DelegatingSslContext {
        private final Supplier<OcspStaple> response;

        Stapling(SslContext ctx, Supplier<OcspStaple> response) {
            super(ctx);
            this.response = response;
        }

        @Override
        protected void initEngine(SSLEngine engine) {
            OcspStaple staple = response.get();
            if (staple != null && engine instanceof ReferenceCountedOpenSslEngine openssl
                    && System.currentTimeMillis() < staple.currentUntil().toEpochMilli()) {
                openssl.setOcspResponse(staple.der());
            }
        }
    }

    /** The revocation lists client certificates are checked against; empty for none. */
    public List<X509CRL> clientRevocationLists() {
        return clientRevocationLists;
    }

    /** For Netty's {@code SniHandler}: name → context, falling back to the default. */
    public Mapping<String, SslContext> mapping() {
        return byName;
    }

    /**
     * Whether there are several certificates, so that a client's SNI name picks one through
     * {@link #mapping()}; if not, {@link #defaultContext()} serves every client.
     */
    public boolean choosesByName() {
        return choosesByName;
    }

    public SslContext defaultContext() {
        return defaultContext;
    }

    /**
     * netty-tcnative's asynchronous private-key method over a {@link KeySigner}. The returned
     * future completes on whichever thread the signer finishes on; netty-tcnative then hands the
     * result to BoringSSL and {@code SslHandler} resumes the handshake on the channel's event loop
     * (its task runner re-enters through {@code ctx.executor().execute}).
     */
    private static final class AsyncKeyMethod implements OpenSslAsyncPrivateKeyMethod {
        private static final long LOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

        private final KeySigner signer;
        private final AtomicLong lastLogged = new AtomicLong(System.nanoTime() - LOG_EVERY_NANOS);

        AsyncKeyMethod(KeySigner signer) {
            this.signer = signer;
        }

        @Override
        public Future<byte[]> sign(SSLEngine engine, int signatureAlgorithm, byte[] input) {
            return bridge(() -> signer.sign(signatureAlgorithm, input), "signing");
        }

        @Override
        public Future<byte[]> decrypt(SSLEngine engine, byte[] input) {
            return bridge(() -> signer.decrypt(input), "decryption");
        }

        private Future<byte[]> bridge(Supplier<CompletableFuture<byte[]>> operation, String what) {
            Promise<byte[]> promise = ImmediateEventExecutor.INSTANCE.newPromise();
            CompletableFuture<byte[]> result;
            try {
                result = operation.get();
                if (result == null) {
                    result = CompletableFuture.failedFuture(new NullPointerException(signer + " returned no future"));
                }
            } catch (RuntimeException e) {
                result = CompletableFuture.failedFuture(e);
            }
            result.whenComplete((bytes, failure) -> {
                if (failure == null) {
                    promise.trySuccess(bytes);
                    return;
                }
                Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                        ? failure.getCause() : failure;
                logFailure(what, cause);
                promise.tryFailure(cause);
            });
            return promise;
        }

        /** The handshake failure is logged without the cause; say it here, but not for every one of a flood. */
        private void logFailure(String what, Throwable cause) {
            long now = System.nanoTime();
            long last = lastLogged.get();
            if (now - last >= LOG_EVERY_NANOS && lastLogged.compareAndSet(last, now)) {
                log.warn("{} with {} failed (handshake aborted; logged at most every 10 s): {}",
                        what, signer, cause.toString());
            }
        }
    }
}
