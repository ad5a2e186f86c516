package io.tlsd.it.tunnel;

import io.tlsd.testing.FreePorts;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * stunnel4 in the foreground with a configuration the test writes, accepting on a free port of
 * 127.0.0.1. {@link #start} returns once stunnel logged that the service is bound (debug level
 * 6); {@link #close()} sends SIGTERM, then SIGKILL after 5 s.
 */
final class Stunnel implements AutoCloseable {
    private static final String EXECUTABLE = Files.isExecutable(Path.of("/usr/bin/stunnel4"))
            ? "/usr/bin/stunnel4" : "stunnel4";
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(10);
    private static final int PORT_ATTEMPTS = 5;

    private final Process process;
    private final int port;
    private final StringBuffer output = new StringBuffer();
    private final Thread drainer;

    private Stunnel(Process process, int port) {
        this.process = process;
        this.port = port;
        this.drainer = new Thread(() -> {
            byte[] buffer = new byte[4096];
            try (InputStream in = process.getInputStream()) {
                int n;
                while ((n = in.read(buffer)) != -1) {
                    output.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // the process died
            }
        }, "stunnel-output-" + port);
        drainer.setDaemon(true);
        drainer.start();
    }

    /**
     * Starts stunnel with one service named {@code service} whose options are {@code serviceLines}
     * (everything but {@code accept}, which this class adds).
     */
    static Stunnel start(Path dir, String service, String... serviceLines) throws IOException, InterruptedException {
        String lastOutput = "";
        for (int attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
            int port = FreePorts.loopback();
            Path config = dir.resolve("stunnel-" + service + "-" + port + ".conf");
            Files.writeString(config, "foreground = yes\n"
                    + "pid =\n"
                    + "debug = 6\n"
                    + "[" + service + "]\n"
                    + "accept = 127.0.0.1:" + port + "\n"
                    + String.join("\n", serviceLines) + "\n");
            Process process = new ProcessBuilder(EXECUTABLE, config.toString()).redirectErrorStream(true).start();
            Stunnel stunnel = new Stunnel(process, port);
            if (stunnel.awaitBound()) {
                return stunnel;
            }
            stunnel.close();
            lastOutput = stunnel.output();
            if (!lastOutput.contains("in use")) {
                throw new IllegalStateException("stunnel did not start; output:\n" + lastOutput);
            }
        }
        throw new IllegalStateException("stunnel found its port taken " + PORT_ATTEMPTS + " times:\n" + lastOutput);
    }

    private boolean awaitBound() throws InterruptedException {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline && process.isAlive()) {
            if (output.indexOf(") bound to 127.0.0.1:" + port) >= 0) {
                return true;
            }
            Thread.sleep(10);
        }
        return false;
    }

    int port() {
        return port;
    }

    String output() {
        return output.toString();
    }

    /** SIGTERM, then SIGKILL if stunnel is still running 5 s later. Idempotent. */
    @Override
    public void close() {
        try {
            if (process.isAlive()) {
                process.destroy();
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                }
            }
            drainer.join(2_000);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
