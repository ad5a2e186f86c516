package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.config.ConfigFile;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reloads while clients connect: a server tunnel switches certificates and backends (between one
 * backend and a route by SNI name, so between serving directly and reading the ClientHello first)
 * thirty times while four JDK TLS clients connect in a loop; every client gets through, to the old
 * settings or the new, and never a mix of failure.
 */
@Timeout(60)
class ReloadUnderLoadTest {
    @TempDir
    Path dir;

    @Test
    void everyClientGetsThroughWhileTheTunnelIsReloadedAgainAndAgain() throws Exception {
        TestPki pki = ServerDaemonFixture.pki(dir);
        Issued first = pki.issueServer("first.test", "localhost");
        Issued second = pki.issueServer("second.test", "localhost");
        TrustManagerFactory trust = pki.trustManagers();
        Path config = dir.resolve("server.yaml");
        try (GreetingBackend web = new GreetingBackend("hello from web");
             GreetingBackend api = new GreetingBackend("hello from api")) {
            Files.writeString(config, sidecar(first, web.port(), api.port(), false));
            try (TlsdDaemon daemon = TlsdDaemon.start(load(config))) {
                int port = daemon.tunnelAddress("sidecar").getPort();
                AtomicBoolean stop = new AtomicBoolean();
                AtomicInteger connections = new AtomicInteger();
                Set<String> seen = ConcurrentHashMap.newKeySet();
                Map<String, Throwable> failures = new ConcurrentHashMap<>();
                ExecutorService clients = Executors.newFixedThreadPool(4);
                List<Future<?>> running = new ArrayList<>();
                for (int c = 0; c < 4; c++) {
                    running.add(clients.submit(() -> {
                        while (!stop.get()) {
                            try {
                                seen.add(connect(trust, port));
                                connections.incrementAndGet();
                            } catch (Exception e) {
                                failures.put(Thread.currentThread().getName() + " #" + connections.get(), e);
                            }
                        }
                    }));
                }
                for (int i = 0; i < 30; i++) {
                    boolean odd = i % 2 == 1;
                    Files.writeString(config, sidecar(odd ? second : first, web.port(), api.port(), odd));
                    daemon.reload(load(config));
                    Thread.sleep(30);
                }
                stop.set(true);
                for (Future<?> f : running) {
                    f.get(10, TimeUnit.SECONDS);
                }
                clients.shutdown();
                assertEquals(Map.of(), failures, "failed connections, of " + connections.get());
                assertEquals(Set.of("first.test hello from web", "second.test hello from api"), seen,
                        "each connection got one reload's certificate with that reload's backend, of "
                                + connections.get());
                assertTrue(connections.get() > 30, connections.get() + " connections");
            }
        }
    }

    /** The tunnel serving {@code cert}, to {@code web}, or (with {@code routed}) to {@code api} for SNI localhost. */
    private String sidecar(Issued cert, int web, int api, boolean routed) {
        return """
                socket: none
                tunnels:
                  - name: sidecar
                    listen: 127.0.0.1:0
                    target: 127.0.0.1:%d
                    cert: %s
                    key: %s
                """.formatted(web, cert.chainPem(), cert.keyPem())
                + (routed ? """
                    routes:
                      - names: [localhost]
                        target: 127.0.0.1:%d
                """.formatted(api) : "");
    }

    private static DaemonConfig load(Path config) {
        return ConfigFile.load(config).toBuilder().role(DaemonConfig.Role.SERVER).build();
    }

    /**
     * One connection with SNI localhost: "CN line", the served certificate's CN and the backend's
     * line. A new context each time, so that no session resumes with the certificate of a
     * handshake before.
     */
    private static String connect(TrustManagerFactory trust, int port) throws Exception {
        SSLContext tls = SSLContext.getInstance("TLSv1.3");
        tls.init(null, trust.getTrustManagers(), null);
        try (SSLSocket socket = (SSLSocket) tls.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(10_000);
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setServerNames(List.of(new SNIHostName("localhost")));
            parameters.setEndpointIdentificationAlgorithm("HTTPS");
            socket.setSSLParameters(parameters);
            socket.startHandshake();
            X509Certificate served = (X509Certificate) socket.getSession().getPeerCertificates()[0];
            String cn = served.getSubjectX500Principal().getName().replaceFirst("^CN=([^,]+).*", "$1");
            String line = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
            return cn + " " + line;
        }
    }
}
