package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.config.ConfigFile;
import io.tlsd.it.tunnel.LogCapture;
import io.tlsd.testing.FreePorts;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TestPki;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ocsp_fetch}: the daemon asks the OCSP responder a served certificate names (a real
 * {@code openssl ocsp} responder on loopback, reading an OpenSSL CA index) and staples its answer,
 * which {@code openssl s_client -status} shows; a responder that is down at first is asked again
 * until it answers; a "revoked" answer is not stapled; a certificate that names no responder stops
 * the start; a reload that turns it off stops it; listeners and {@code tlsd server --ocsp-fetch}
 * fetch too.
 */
@Timeout(90)
class OcspFetchTest {
    private static final Duration T = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    TestPki pki;
    Path index;

    @BeforeEach
    void setUp() throws IOException {
        pki = ServerDaemonFixture.pki(dir);
        index = Files.writeString(dir.resolve("index.txt"), "");
    }

    /**
     * A certificate for web.test naming a responder that answers for it: "good", or "revoked". Its
     * port is in the certificate before the responder starts (which reads its index only then), so
     * one taken meanwhile is tried again with another.
     */
    private Issued serving(boolean revoked, Responder[] responder) throws Exception {
        for (int attempt = 1; ; attempt++) {
            int port = FreePorts.loopback();
            Issued web = pki.issueServerWithOcspResponder("web.test", "http://127.0.0.1:" + port + "/");
            Files.writeString(index, TestPki.opensslIndexLine(web, revoked));
            try {
                responder[0] = Responder.start(pki, index, port);
                return web;
            } catch (IllegalStateException e) {
                if (!e.getMessage().contains("in use") || attempt == 5) {
                    throw e;
                }
            }
        }
    }

    @Test
    void theResponderNamedByTheCertificateIsAskedAndItsAnswerStapled() throws Exception {
        Responder[] started = new Responder[1];
        Issued web = serving(false, started);
        try (Responder responder = started[0]) {
            try (LogCapture log = LogCapture.start();
                 GreetingBackend backend = new GreetingBackend("hello");
                 TlsdDaemon daemon = start(backend, web)) {
                int port = daemon.tunnelAddress("sidecar").getPort();
                // the start waited for the first answer: the first handshake has it
                String stapled = status(port);
                assertTrue(stapled.contains("Cert Status: good"), stapled);
                assertTrue(stapled.contains("OCSP Response Status: successful"), stapled);
                awaitLog(log, "CN=web.test,O=tlsd tests: OCSP response from " + responder.url() + ": good, from ");
                assertTrue(ocspMetric(daemon) > System.currentTimeMillis() / 1000, "until when it is current");

                // a reload builds the contexts again: the response goes on being stapled, not fetched again
                daemon.reload();
                assertTrue(status(port).contains("Cert Status: good"));
                assertEquals(1, log.text().split("OCSP response from", -1).length - 1, log.text());

                // a reload that turns it off: nothing stapled, nothing fetched
                Path config = dir.resolve("server.yaml");
                Files.writeString(config, Files.readString(config).replace("ocsp_fetch: true", "ocsp_fetch: false"));
                daemon.reload(ConfigFile.load(config).toBuilder().role(DaemonConfig.Role.SERVER).build());
                awaitLog(log, "CN=web.test,O=tlsd tests: served no more; its OCSP response is fetched no more");
                assertTrue(status(port).contains("OCSP response: no response sent"));
            }
        }
    }

    @Test
    void aListenerStaplesTheResponseItFetched() throws Exception {
        Responder[] started = new Responder[1];
        Issued web = serving(false, started);
        Path config = Files.writeString(dir.resolve("listener.yaml"), """
                socket: %s
                listeners:
                  - name: web
                    address: 127.0.0.1:0
                    certificates:
                      - cert: %s
                        key: %s
                        ocsp_fetch: true
                """.formatted(dir.resolve("server.sock"), web.chainPem(), web.keyPem()));
        try (Responder responder = started[0];
             TlsdDaemon daemon = TlsdDaemon.start(ConfigFile.load(config).toBuilder().role(DaemonConfig.Role.SERVER)
                     .build())) {
            int port = daemon.listenerAddress("web").getPort();
            // the start waited for the first answer: the first handshake has it
            try (TlsClientProcess client = TlsClientProcess.opensslClient(port, pki.caPem(),
                    "-servername", "web.test", "-status")) {
                client.closeStdin(); // after the handshake: the listener holds the connection for an ACCEPT
                assertEquals(0, client.await(), client.stderr());
                assertTrue(client.stdout().contains("Cert Status: good"), client.stdout());
            }
        }
    }

    @Test
    void aResponderThatIsDownIsAskedAgainUntilItAnswers() throws Exception {
        for (int attempt = 1; ; attempt++) {
            try {
                responderDownThenUp();
                return;
            } catch (IllegalStateException e) { // its port, free when the certificate was made, was taken
                if (!e.getMessage().contains("in use") || attempt == 3) {
                    throw e;
                }
            }
        }
    }

    private void responderDownThenUp() throws Exception {
        int responderPort = FreePorts.loopback();
        Issued web = pki.issueServerWithOcspResponder("web.test", "http://127.0.0.1:" + responderPort + "/");
        Files.writeString(index, TestPki.opensslIndexLine(web, false));
        try (LogCapture log = LogCapture.start();
             GreetingBackend backend = new GreetingBackend("hello");
             TlsdDaemon daemon = start(backend, web)) {
            awaitLog(log, "CN=web.test,O=tlsd tests: cannot fetch its OCSP response from http://127.0.0.1:"
                    + responderPort + "/: ");
            assertTrue(log.text().contains("; stapling none; trying again in 5 s"), log.text());
            int port = daemon.tunnelAddress("sidecar").getPort();
            assertTrue(status(port).contains("OCSP response: no response sent"), "none until it answers");
            assertTrue(ocspMetric(daemon) == 0, "none yet: the epoch");
            assertTrue(daemon.metricSamples().stream()
                    .filter(m -> m.name().equals("tlsd_ocsp_fetch_failures_total") && m.labels().get("name").equals("sidecar"))
                    .mapToLong(io.tlsd.daemon.metrics.Sample::value).findFirst().orElseThrow() >= 1, "counted");
            try (Responder responder = Responder.start(pki, index, responderPort)) {
                assertTrue(awaitStatus(port, "Cert Status: good").contains("OCSP Response Status: successful"));
            }
        }
    }

    @Test
    void aRevokedAnswerIsNotStapledAndACertificateWithoutAResponderStopsTheStart() throws Exception {
        Responder[] started = new Responder[1];
        Issued web = serving(true, started);
        try (Responder responder = started[0]) {
            try (LogCapture log = LogCapture.start();
                 GreetingBackend backend = new GreetingBackend("hello");
                 TlsdDaemon daemon = start(backend, web)) {
                awaitLog(log, "the response says the certificate CN=web.test,O=tlsd tests is revoked; stapling none;"
                        + " asking again in 60 min");
                assertTrue(status(daemon.tunnelAddress("sidecar").getPort()).contains("OCSP response: no response sent"));
            }
            try (GreetingBackend backend = new GreetingBackend("hello")) {
                Issued plain = pki.issueServer("web.test", "web.test");
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> start(backend, plain).close());
                assertTrue(e.getMessage().contains("CN=web.test,O=tlsd tests: ocsp_fetch needs the certificate to name"
                        + " its OCSP responder"), e.getMessage());
                ConnectCommandTest.Run check = ConnectCommandTest.tlsd("", "check-config",
                        dir.resolve("server.yaml").toString());
                assertEquals(2, check.exitCode(), check.stdout());
                assertTrue(check.stderr().contains("ocsp_fetch needs the certificate to name its OCSP responder"),
                        check.stderr());
            }
        }
    }

    @Test
    void theServerCommandFetchesWithOcspFetch() throws Exception {
        Responder[] started = new Responder[1];
        Issued web = serving(false, started);
        int port = FreePorts.loopback();
        try (Responder responder = started[0];
             GreetingBackend backend = new GreetingBackend("hello");
             DaemonProcess daemon = DaemonProcess.start(dir.resolve("server.log"), "server",
                     "--listen", "127.0.0.1:" + port, "--target", "127.0.0.1:" + backend.port(),
                     "--cert", web.chainPem().toString(), "--key", web.keyPem().toString(), "--ocsp-fetch")) {
            daemon.awaitLogLine("listening");
            String text = Files.readString(daemon.log);
            int answer = text.indexOf("OCSP response from " + responder.url() + ": good");
            assertTrue(answer >= 0 && answer < text.indexOf("listening"), "fetched before it listens:\n" + text);
            assertTrue(status(port).contains("Cert Status: good"));
        }
    }

    private TlsdDaemon start(GreetingBackend backend, Issued web) throws Exception {
        Path config = Files.writeString(dir.resolve("server.yaml"), """
                socket: none
                tunnels:
                  - name: sidecar
                    listen: 127.0.0.1:0
                    target: 127.0.0.1:%d
                    cert: %s
                    key: %s
                    ocsp_fetch: true
                """.formatted(backend.port(), web.chainPem(), web.keyPem()));
        return TlsdDaemon.start(ConfigFile.load(config).toBuilder().role(DaemonConfig.Role.SERVER).build());
    }

    private static void awaitLog(LogCapture log, String fragment) throws InterruptedException {
        assertNotNull(log.awaitLine(fragment, T), () -> "no log line with: " + fragment + "\nin:\n" + log.text());
    }

    /** Asks with {@code openssl s_client -status} until the output has {@code expected}. */
    private String awaitStatus(int port, String expected) throws Exception {
        long deadline = System.nanoTime() + T.toNanos();
        while (true) {
            String out = status(port);
            if (out.contains(expected) || System.nanoTime() > deadline) {
                assertTrue(out.contains(expected), out);
                return out;
            }
            Thread.sleep(200);
        }
    }

    private String status(int port) throws Exception {
        return OcspStaplingTest.status(pki.caPem(), port, "web.test");
    }

    private static long ocspMetric(TlsdDaemon daemon) {
        return OcspStaplingTest.ocspMetric(daemon);
    }

    /**
     * {@code openssl ocsp} as a responder for {@code pki}'s certificates, signing with a delegated
     * responder certificate, answering from {@code index} (read again when it changes), its
     * responses current for 5 minutes.
     */
    private static final class Responder implements AutoCloseable {
        private static final Pattern ACCEPT = Pattern.compile("ACCEPT \\S*:(\\d+)");
        private final Process process;
        private final int port;

        private Responder(Process process, int port) {
            this.process = process;
            this.port = port;
        }

        /** On {@code port} (every address: {@code openssl ocsp} takes no host). */
        static Responder start(TestPki pki, Path index, int port) throws Exception {
            Issued signer = pki.issueOcspResponder("ocsp responder");
            List<String> command = new ArrayList<>(List.of("openssl", "ocsp", "-index", index.toString(),
                    "-port", Integer.toString(port), "-rsigner", signer.certPem().toString(),
                    "-rkey", signer.keyPem().toString(), "-CA", pki.caPem().toString(), "-nmin", "5",
                    "-ignore_err"));
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            CompletableFuture<Integer> bound = new CompletableFuture<>();
            StringBuilder output = new StringBuilder();
            Thread reader = new Thread(() -> {
                try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = lines.readLine()) != null; ) {
                        synchronized (output) {
                            output.append(line).append('\n');
                        }
                        Matcher m = ACCEPT.matcher(line);
                        if (m.find()) {
                            bound.complete(Integer.parseInt(m.group(1)));
                        }
                    }
                } catch (IOException e) {
                    // the process ended
                }
                bound.completeExceptionally(new IllegalStateException("openssl ocsp ended: " + output));
            }, "openssl-ocsp-output");
            reader.setDaemon(true);
            reader.start();
            try {
                return new Responder(process, bound.get(10, TimeUnit.SECONDS));
            } catch (ExecutionException e) {
                process.destroyForcibly();
                throw (IllegalStateException) e.getCause(); // its output: "… Address already in use …"
            } catch (Exception e) {
                process.destroyForcibly();
                throw e;
            }
        }

        String url() {
            return "http://127.0.0.1:" + port + "/";
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }
}
