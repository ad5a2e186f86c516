package io.tlsd.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A real TLS server, {@code openssl s_server} or {@code gnutls-serv}, running as a child process
 * on a free loopback port, for integration tests against an independent TLS implementation.
 *
 * <p>{@link Builder#start()} returns once the child listens on its port. {@link #close()} stops it (SIGTERM,
 * then SIGKILL after 5 s); children still running when the JVM exits are killed by a shutdown hook,
 * so a crashed test run leaves no server behind. Processes are started without a shell.
 *
 * <pre>{@code
 * try (TlsPeer peer = TlsPeer.opensslServer(pki.issueServer("localhost"), "-rev")) {
 *     connectTo("localhost", peer.port());
 * }
 *
 * // Checking bytes the peer received: keep stdout for the test instead of draining it.
 * try (TlsPeer peer = TlsPeer.openssl(server).args("-quiet", "-naccept", "1").drainStdout(false).start()) {
 *     byte[] received = peer.stdout().readAllBytes(); // ends when s_server exits after the connection
 * }
 * }</pre>
 *
 * <h2>Output</h2>
 * By default stdout and stderr are drained on background threads into one bounded buffer whose
 * last 64 KiB {@link #output()} returns, so a chatty child never blocks on a full pipe. With
 * {@link Builder#drainStdout(boolean) drainStdout(false)} stdout is left to the test through
 * {@link #stdout()}, which must then read it; stderr is still drained.
 *
 * <h2>Readiness</h2>
 * Readiness is checked in {@code /proc} (the child owns a LISTEN socket on the port), not by
 * connecting: {@code s_server -naccept 1} would count a probe connection as its one client. This
 * makes the class Linux-only, like the Debian packages it runs.
 */
public final class TlsPeer implements AutoCloseable {
    private static final String OPENSSL = "/usr/bin/openssl";
    private static final String GNUTLS_SERV = "/usr/bin/gnutls-serv";
    private static final int OUTPUT_TAIL_BYTES = 64 * 1024;
    private static final int PORT_ATTEMPTS = 5;
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);

    /** Children that {@link #close()} has not stopped yet; killed if the JVM exits first. */
    private static final Set<Process> RUNNING = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(
                () -> RUNNING.forEach(Process::destroyForcibly), "tls-peer-reaper"));
    }

    private final String description;
    private final int port;
    private final Process process;
    private final OutputTail outputTail;
    private final List<Thread> drainers;
    private final boolean stdoutDrained;

    private TlsPeer(String description, int port, Process process, OutputTail outputTail,
            List<Thread> drainers, boolean stdoutDrained) {
        this.description = description;
        this.port = port;
        this.process = process;
        this.outputTail = outputTail;
        this.drainers = drainers;
        this.stdoutDrained = stdoutDrained;
    }

    /**
     * Starts {@code openssl s_server -accept 127.0.0.1:PORT -cert C -key K -cert_chain CA -tls1_3}
     * followed by {@code extraArgs}; the server sends the leaf and the CA certificate.
     *
     * <p>Observed with OpenSSL 3.0 ("tested": pinned by this module's tests):
     * <ul>
     *   <li>{@code -quiet} relays application data raw in both directions: bytes from the client
     *       to stdout, stdin to the client. Binary-clean: 16 MiB of random bytes arrive intact
     *       either way (tested). In this mode stdin lines such as {@code Q} are not commands.
     *   <li>EOF on stdin makes s_server send {@code close_notify} and close the connection
     *       (tested). So stdin stays open until {@link #close()}; closing {@link #stdin()} is how
     *       a test makes this peer close cleanly. Careful: stdin at EOF before a client connects
     *       (e.g. {@code /dev/null}) closes every connection right after its handshake.
     *   <li>Without {@code -quiet}, s_server prints session details to stdout and treats stdin
     *       lines starting with certain letters as commands.
     *   <li>{@code -rev} answers each line with its bytes reversed and {@code \n} appended; a
     *       {@code \r} before the {@code \n} is dropped. A line {@code CLOSE} makes it send
     *       {@code close_notify} and close the connection, then wait for the next (tested).
     *   <li>{@code -naccept N} exits after N connections. Any TCP connection counts, even one
     *       that never sends a ClientHello, which is why readiness is not probed by connecting.
     *   <li>{@link #kill()} (SIGKILL) or {@link #close()} (SIGTERM; s_server does not handle it)
     *       while a connection is open: the kernel sends a FIN without {@code close_notify}
     *       ({@code openssl s_client} reports "unexpected eof while reading", tested), or an RST
     *       if the client had sent bytes s_server had not read yet. Right after a TLS 1.3
     *       handshake even the client's Finished may be unread (an RST was seen that way), so a
     *       test that wants the FIN sends a line through {@code -quiet} and waits for it in
     *       {@link #output()} before killing.
     *   <li>Protocol flags cannot be combined: an extra {@code -tls1_2} makes s_server exit with
     *       "Cannot supply multiple protocol flags". Use {@link Builder#tls12Only()} instead.
     * </ul>
     */
    public static TlsPeer opensslServer(Issued cert, String... extraArgs) {
        return openssl(cert).args(extraArgs).start();
    }

    /**
     * Starts {@code gnutls-serv --port PORT --x509certfile CHAIN --x509keyfile K
     * --priority NORMAL:-VERS-ALL:+VERS-TLS1.3} followed by {@code extraArgs}.
     *
     * <p>Observed with GnuTLS 3.7.9 ("tested": pinned by this module's tests):
     * <ul>
     *   <li>gnutls-serv has no option for the listen address: it listens on all IPv4 and IPv6
     *       addresses. The port is picked free on 127.0.0.1, where tests connect.
     *   <li>It serves any number of connections, and requests (without requiring) a client
     *       certificate unless given {@code --disable-client-cert}.
     *   <li>{@code --echo} is a line echo, not a byte echo: it buffers what it receives and sends
     *       the buffer back once it contains a {@code \n}. Bytes after the last {@code \n} wait
     *       for the next one. The buffer is a C string, so after a NUL byte nothing more is
     *       echoed on that connection. With text in {@code \n}-terminated lines, 16 MiB echo back
     *       intact in about a second (tested); random binary data does not. Without
     *       {@code --crlf} a CRLF at the very end of an echoed chunk comes back as LF
     *       ({@code "ping\r\n"} gives {@code "ping\n"}, tested); with it, bytes come back as sent.
     *   <li>It closes every connection 30 to 40 s after accepting it, active or not ("Scheduling
     *       inactive connection for close").
     *   <li>Without {@code -q} it logs each echoed line to stdout, which is drained anyway.
     * </ul>
     */
    public static TlsPeer gnutlsServer(Issued cert, String... extraArgs) {
        return gnutls(cert).args(extraArgs).start();
    }

    /** A builder for an openssl s_server, for options beyond {@link #opensslServer}. */
    public static Builder openssl(Issued cert) {
        return new Builder("openssl s_server", (port, tls12) -> new ArrayList<>(List.of(
                OPENSSL, "s_server",
                "-accept", "127.0.0.1:" + port,
                "-cert", cert.certPem().toString(),
                "-key", cert.keyPem().toString(),
                // -cert reads only the first certificate of a file; the CA comes from here.
                "-cert_chain", cert.caPem().toString(),
                tls12 ? "-tls1_2" : "-tls1_3")));
    }

    /** A builder for a gnutls-serv, for options beyond {@link #gnutlsServer}. */
    public static Builder gnutls(Issued cert) {
        return new Builder("gnutls-serv", (port, tls12) -> new ArrayList<>(List.of(
                GNUTLS_SERV,
                "--port", Integer.toString(port),
                // gnutls sends every certificate in this file, leaf first.
                "--x509certfile", cert.chainPem().toString(),
                "--x509keyfile", cert.keyPem().toString(),
                "--priority", "NORMAL:-VERS-ALL:" + (tls12 ? "+VERS-TLS1.2" : "+VERS-TLS1.3"))));
    }

    /** The loopback port the peer listens on; connect to {@code 127.0.0.1} or {@code localhost}. */
    public int port() {
        return port;
    }

    /** The child process, e.g. to wait for it to exit. */
    public Process process() {
        return process;
    }

    /** The child's stdin; for {@code s_server -quiet}, bytes written here go to the TLS client. */
    public OutputStream stdin() {
        return process.getOutputStream();
    }

    /**
     * The child's stdout, for a peer built with {@code drainStdout(false)}; the test must read it,
     * or the child blocks once the pipe is full.
     *
     * @throws IllegalStateException if stdout is being drained into {@link #output()}
     */
    public InputStream stdout() {
        if (stdoutDrained) {
            throw new IllegalStateException(
                    "stdout of " + description + " is drained into output(); build the peer with drainStdout(false)");
        }
        return process.getInputStream();
    }

    /**
     * The last 64 KiB the child printed: stdout and stderr interleaved, or stderr only when
     * stdout was left to the test. For failure messages.
     */
    public String output() {
        return outputTail.text();
    }

    /**
     * Kills the child with SIGKILL and waits for it to die: open connections end without a
     * {@code close_notify} (see {@link #opensslServer} for what a client observes).
     */
    public void kill() {
        process.destroyForcibly();
        awaitExit(STOP_GRACE);
    }

    /** Stops the child: SIGTERM, then SIGKILL if it is still running after 5 s. Idempotent. */
    @Override
    public void close() {
        try {
            if (process.isAlive()) {
                process.destroy();
                if (!awaitExit(STOP_GRACE)) {
                    process.destroyForcibly();
                    awaitExit(STOP_GRACE);
                }
            }
            // The pipes close with the process; joining makes output() complete for a report.
            for (Thread drainer : drainers) {
                drainer.join(STOP_GRACE.toMillis());
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            RUNNING.remove(process);
        }
    }

    private boolean awaitExit(Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !process.isAlive();
        }
    }

    @Override
    public String toString() {
        return description + " on 127.0.0.1:" + port + " (pid " + process.pid() + ")";
    }

    /**
     * Options for starting a {@link TlsPeer}; obtained from {@link TlsPeer#openssl} or
     * {@link TlsPeer#gnutls}.
     */
    public static final class Builder {
        private final String name;
        private final BaseCommand baseCommand;
        private final List<String> extraArgs = new ArrayList<>();
        private boolean tls12Only;
        private boolean drainStdout = true;
        private Duration readyTimeout = Duration.ofSeconds(10);

        private Builder(String name, BaseCommand baseCommand) {
            this.name = name;
            this.baseCommand = baseCommand;
        }

        /**
         * Makes the peer speak TLS 1.2 only instead of TLS 1.3 only, for tests of version
         * negotiation; the TLS 1.3 flag cannot simply be overridden through {@link #args}.
         */
        public Builder tls12Only() {
            this.tls12Only = true;
            return this;
        }

        /** Appends arguments after the built-in ones, e.g. {@code "-quiet"} or {@code "--echo"}. */
        public Builder args(String... args) {
            extraArgs.addAll(Arrays.asList(args));
            return this;
        }

        /**
         * Whether stdout is drained into {@link TlsPeer#output()} (the default) or left to the
         * test through {@link TlsPeer#stdout()}. Decided before the start because a drainer that
         * has read even one byte would corrupt what the test sees.
         */
        public Builder drainStdout(boolean drainStdout) {
            this.drainStdout = drainStdout;
            return this;
        }

        /** How long {@link #start()} waits for the child to listen; 10 s by default. */
        public Builder readyTimeout(Duration readyTimeout) {
            if (readyTimeout.isNegative() || readyTimeout.isZero()) {
                throw new IllegalArgumentException("readyTimeout <= 0");
            }
            this.readyTimeout = readyTimeout;
            return this;
        }

        /**
         * Starts the child on a free loopback port and returns once it listens. The port is
         * picked by {@link FreePorts}, so it can be taken by someone else before the child binds
         * it; then the child is restarted on a new port, up to 5 times.
         *
         * @throws IllegalStateException if the child exits or does not listen in time; the
         *     message carries its output
         */
        public TlsPeer start() {
            String lastOutput = "";
            for (int attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
                int port = FreePorts.loopback();
                List<String> command = baseCommand.build(port, tls12Only);
                command.addAll(extraArgs);
                TlsPeer peer = launch(command, port);
                if (awaitListening(peer)) {
                    return peer;
                }
                peer.close();
                lastOutput = peer.output();
                if (!isAddressInUse(lastOutput)) {
                    throw new IllegalStateException(peer.process.isAlive()
                            ? name + " did not listen on port " + port + " within " + readyTimeout
                                    + "; command " + command + "; output:\n" + lastOutput
                            : name + " exited with " + peer.process.exitValue() + " before listening; command "
                                    + command + "; output:\n" + lastOutput);
                }
            }
            throw new IllegalStateException(
                    name + " found its port taken " + PORT_ATTEMPTS + " times; last output:\n" + lastOutput);
        }

        private TlsPeer launch(List<String> command, int port) {
            Process process;
            try {
                process = new ProcessBuilder(command).start();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start " + command, e);
            }
            RUNNING.add(process);
            String description = name + " pid " + process.pid();
            OutputTail tail = new OutputTail(OUTPUT_TAIL_BYTES);
            List<Thread> drainers = new ArrayList<>();
            drainers.add(tail.drain(process.getErrorStream(), description + " stderr"));
            if (drainStdout) {
                drainers.add(tail.drain(process.getInputStream(), description + " stdout"));
            }
            return new TlsPeer(name, port, process, tail, drainers, drainStdout);
        }

        private boolean awaitListening(TlsPeer peer) {
            long deadline = System.nanoTime() + readyTimeout.toNanos();
            try {
                while (System.nanoTime() < deadline && peer.process.isAlive()) {
                    if (ListeningSockets.isListening(peer.process.pid(), peer.port)) {
                        return true;
                    }
                    Thread.sleep(10);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read /proc to see whether " + peer + " listens", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return false;
        }

        /** The command line before the caller's extra arguments. */
        private interface BaseCommand {
            List<String> build(int port, boolean tls12Only);
        }

        private static boolean isAddressInUse(String output) {
            // openssl: "Address already in use"; gnutls-serv: "bind() failed: Address already in use".
            return output.contains("in use");
        }
    }
}
