package io.tlsd.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * The established connections whose latency is measured: each one a JDK TLS socket on its own
 * thread, sending a small message on a fixed schedule and waiting for its echo.
 *
 * <p>A message held up behind a stalled loop delays the next ones of its connection too; measuring
 * those from their actual send time would hide exactly the stalls this benchmark is about
 * (coordinated omission). So a message sent late <em>because the previous echo came back late</em>
 * is timed from when it was due. One sent late only because its own thread woke up late (the
 * client shares the machine) is timed from when it was sent: that delay is not the daemon's.
 */
final class PingClients implements AutoCloseable {
    private static final int MESSAGE_BYTES = 32;

    private final List<SSLSocket> sockets = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final List<Latencies> latencies = new ArrayList<>();
    private final List<Latencies> rawLatencies = new ArrayList<>();
    private final long intervalNanos;
    private volatile boolean running = true;
    /** Messages due in [windowStart, windowEnd) are recorded. */
    private volatile long windowStart = Long.MAX_VALUE;
    private volatile long windowEnd = Long.MAX_VALUE;
    private volatile Throwable failure;

    /** Connects and handshakes {@code count} sockets; {@link #start()} begins the pings. */
    PingClients(SSLContext tls, InetSocketAddress server, int count, long intervalNanos) throws IOException {
        this.intervalNanos = intervalNanos;
        for (int i = 0; i < count; i++) {
            SSLSocket socket = (SSLSocket) tls.getSocketFactory().createSocket(server.getAddress(), server.getPort());
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(30_000);
            socket.setEnabledProtocols(new String[] {"TLSv1.3"});
            socket.startHandshake();
            sockets.add(socket);
            latencies.add(new Latencies());
            rawLatencies.add(new Latencies());
        }
    }

    void start() {
        for (int i = 0; i < sockets.size(); i++) {
            SSLSocket socket = sockets.get(i);
            Latencies recorder = latencies.get(i);
            Latencies raw = rawLatencies.get(i);
            Thread thread = new Thread(() -> pingLoop(socket, recorder, raw), "bench-ping-" + i);
            thread.setDaemon(true);
            threads.add(thread);
            thread.start();
        }
    }

    private void pingLoop(SSLSocket socket, Latencies recorder, Latencies raw) {
        byte[] message = new byte[MESSAGE_BYTES];
        byte[] echo = new byte[MESSAGE_BYTES];
        try {
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            // Spread the connections over the interval so they do not ping in lockstep.
            long due = System.nanoTime() + ThreadLocalRandom.current().nextLong(intervalNanos);
            long previousDone = 0;
            while (running) {
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait);
                    continue;
                }
                long sent = System.nanoTime();
                out.write(message);
                out.flush();
                if (in.readNBytes(echo, 0, MESSAGE_BYTES) != MESSAGE_BYTES) {
                    throw new IOException("the echo ended early");
                }
                long done = System.nanoTime();
                if (due - windowStart >= 0 && due - windowEnd < 0) {
                    boolean heldUpByEcho = previousDone - due > 0;
                    recorder.record(done - (heldUpByEcho ? due : sent));
                    raw.record(done - sent);
                }
                previousDone = done;
                due += intervalNanos;
            }
        } catch (IOException e) {
            if (running) {
                failure = e;
            }
        }
    }

    /** Records the messages due from now for {@code nanos}. */
    void recordWindow(long nanos) {
        long now = System.nanoTime();
        windowEnd = now + nanos;
        windowStart = now;
    }

    /** Latencies corrected for coordinated omission (see above), and plainly from each send. */
    record Result(Latencies.Summary corrected, Latencies.Summary fromSend) {
    }

    /**
     * Stops pinging (once the messages of the window are answered) and returns what was recorded.
     * Each recorder is read only after its thread has ended.
     */
    Result stop() throws InterruptedException {
        long wait = windowEnd - System.nanoTime();
        if (wait > 0) {
            Thread.sleep(wait / 1_000_000 + 1);
        }
        running = false;
        for (Thread thread : threads) {
            thread.join(35_000);
        }
        if (failure != null) {
            throw new IllegalStateException("an established connection failed: " + failure, failure);
        }
        return new Result(Latencies.summarise(latencies), Latencies.summarise(rawLatencies));
    }

    @Override
    public void close() {
        running = false;
        for (SSLSocket socket : sockets) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
