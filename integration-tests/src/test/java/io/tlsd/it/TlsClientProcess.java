package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A real TLS client (openssl s_client, gnutls-cli, curl) run as a child process. */
final class TlsClientProcess implements AutoCloseable {
    private static final Pattern SUBJECT = Pattern.compile("subject=.*CN ?= ?([^,\\s/]+)");
    final Process process;
    private final CompletableFuture<String> stdout;
    private final CompletableFuture<String> stderr;

    private TlsClientProcess(List<String> command) throws IOException {
        process = new ProcessBuilder(command).start();
        stdout = drain(process.getInputStream());
        stderr = drain(process.getErrorStream());
    }

    static TlsClientProcess start(String... command) throws IOException {
        return new TlsClientProcess(List.of(command));
    }

    /** {@code openssl s_client -connect 127.0.0.1:PORT -CAfile CA -verify_return_error} plus extra args. */
    static TlsClientProcess opensslClient(int port, java.nio.file.Path ca, String... extra) throws IOException {
        List<String> command = new ArrayList<>(List.of("openssl", "s_client", "-connect", "127.0.0.1:" + port,
                "-CAfile", ca.toString(), "-verify_return_error"));
        command.addAll(List.of(extra));
        return new TlsClientProcess(command);
    }

    /** The CN of the server certificate in openssl s_client's output ({@code subject=… CN = name}); fails without one. */
    static String servedCommonName(String stdout) {
        Matcher m = SUBJECT.matcher(stdout);
        if (!m.find()) {
            fail("no subject in openssl's output:\n" + stdout);
        }
        return m.group(1);
    }

    private static CompletableFuture<String> drain(InputStream in) {
        return CompletableFuture.supplyAsync(() -> {
            try (in) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                in.transferTo(out);
                return out.toString(StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "<" + e + ">";
            }
        });
    }

    void send(String text) throws IOException {
        OutputStream in = process.getOutputStream();
        in.write(text.getBytes(StandardCharsets.UTF_8));
        in.flush();
    }

    void closeStdin() throws IOException {
        process.getOutputStream().close();
    }

    /** Waits for the exit; returns the exit code. */
    int await() throws InterruptedException {
        assertTrue(process.waitFor(30, TimeUnit.SECONDS), "the client did not exit; stderr: " + stderrNow());
        return process.exitValue();
    }

    String stdout() throws Exception {
        return stdout.get(30, TimeUnit.SECONDS);
    }

    String stderr() throws Exception {
        return stderr.get(30, TimeUnit.SECONDS);
    }

    private String stderrNow() {
        return stderr.getNow("(still running)");
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
