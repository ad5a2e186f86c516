package io.tlsd.it;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.sdk.TlsdClient;
import io.tlsd.testing.TestPki;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** A real server daemon in this JVM with the given listeners, its socket in a temporary directory. */
final class ServerDaemonFixture implements AutoCloseable {
    final TlsdDaemon daemon;

    ServerDaemonFixture(Path dir, List<ListenerConfig> listeners) throws Exception {
        this(dir, listeners, java.util.function.UnaryOperator.identity());
    }

    /** With {@code settings} applied to the fixture's configuration before the daemon starts. */
    ServerDaemonFixture(Path dir, List<ListenerConfig> listeners,
                        java.util.function.UnaryOperator<DaemonConfig.Builder> settings) throws Exception {
        this.daemon = TlsdDaemon.start(settings.apply(DaemonConfig.builder()
                .role(DaemonConfig.Role.SERVER)
                .socket(Files.createDirectories(dir.resolve("run")).resolve("server-" + System.nanoTime() + ".sock"))
                .listeners(listeners)
                .workerThreads(2))
                .build());
    }

    static InetSocketAddress anyLoopbackPort() {
        return new InetSocketAddress("127.0.0.1", 0);
    }

    static ListenerConfig listener(String name, ListenerConfig.CertificateSpec... certs) {
        return new ListenerConfig(name, anyLoopbackPort(), List.of(certs), List.of(),
                io.tlsd.daemon.tls.ServerTlsContexts.ClientAuthPolicy.NONE, null, Duration.ofSeconds(10), 64, ListenerConfig.DEFAULT_MAX_PENDING_CONNECTIONS);
    }

    static ListenerConfig.CertificateSpec pem(io.tlsd.testing.Issued issued, String... names) {
        return ListenerConfig.CertificateSpec.pem(List.of(names), issued.chainPem(), issued.keyPem(), null);
    }

    int port(String listener) {
        return daemon.listenerAddress(listener).getPort();
    }

    Path socket() {
        return daemon.socketPath();
    }

    TlsdClient app() throws Exception {
        return TlsdClient.builder().socket(socket()).appName("server-it").build();
    }

    @Override
    public void close() {
        daemon.close();
    }

    static TestPki pki(Path dir) {
        try {
            return TestPki.create(Files.createDirectories(dir.resolve("pki")));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
