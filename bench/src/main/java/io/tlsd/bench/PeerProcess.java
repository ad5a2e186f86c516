package io.tlsd.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A process under test (tlsd, stunnel4, HAProxy) with its output in a log file; started and
 * waited for until its ports accept, killed on close.
 */
final class PeerProcess implements AutoCloseable {
    final String name;
    final Process process;
    final Path log;

    private PeerProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    static PeerProcess start(String name, Path dir, List<String> command, int... ports)
            throws IOException, InterruptedException {
        Path log = dir.resolve(name + ".log");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        PeerProcess peer = new PeerProcess(name, p, log);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (int port : ports) {
            while (!accepts(port)) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    peer.close();
                    throw new IOException(name + " did not start listening on " + port + " (" + String.join(" ", command)
                            + "):\n" + Files.readString(log, StandardCharsets.UTF_8));
                }
                Thread.sleep(50);
            }
        }
        return peer;
    }

    /** Starts a daemon that serves a Unix socket and waits until the socket file exists. */
    static PeerProcess startWithSocket(String name, Path dir, List<String> command, Path socket)
            throws IOException, InterruptedException {
        Path log = dir.resolve(name + ".log");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        PeerProcess peer = new PeerProcess(name, p, log);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(socket)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                peer.close();
                throw new IOException(name + " did not create " + socket + ":\n" + Files.readString(log));
            }
            Thread.sleep(50);
        }
        Thread.sleep(100);
        return peer;
    }

    /** Heap in use after a full GC, in KiB, through {@code jcmd} (a Java peer only; -1 if unknown). */
    long heapUsedAfterGcKib() throws IOException, InterruptedException {
        jcmd("GC.run");
        String info = jcmd("GC.heap_info");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("heap\\s+total \\d+K, used (\\d+)K").matcher(info);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    private String jcmd(String command) throws IOException, InterruptedException {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid()), command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }

    static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    long pid() {
        return process.pid();
    }

    /** Resident set size in KiB, from /proc (0 when it cannot be read). */
    long rssKib() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }

    /** The unit of /proc's CPU times (USER_HZ; 100 on Linux). */
    static final double CLOCK_TICKS_PER_SECOND = 100;

    /** CPU time (user + system) in clock ticks, from /proc/PID/stat, including all threads. */
    long cpuTicks() {
        try {
            return statTicks(Files.readString(Path.of("/proc", Long.toString(pid()), "stat")));
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** utime + stime, in clock ticks, from the text of a process's or a thread's /proc stat file. */
    static long statTicks(String stat) {
        // after "(comm) ": state is field 3; utime and stime are fields 14 and 15
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
