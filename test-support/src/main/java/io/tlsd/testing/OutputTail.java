package io.tlsd.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * The last bytes a child process printed, kept for failure messages. Bounded so that a chatty or
 * streaming child can run forever without the test JVM running out of memory.
 */
final class OutputTail {
    private final byte[] ring;
    private long written;

    OutputTail(int capacity) {
        this.ring = new byte[capacity];
    }

    synchronized void append(byte[] bytes, int offset, int length) {
        for (int i = 0; i < length; i++) {
            ring[(int) (written++ % ring.length)] = bytes[offset + i];
        }
    }

    /**
     * Starts a daemon thread that copies {@code stream} into this tail until end of stream. Reading
     * continuously is what keeps the child from blocking on a full pipe.
     */
    Thread drain(InputStream stream, String threadName) {
        Thread thread = new Thread(() -> {
            byte[] buffer = new byte[8192];
            try (stream) {
                int n;
                while ((n = stream.read(buffer)) != -1) {
                    append(buffer, 0, n);
                }
            } catch (IOException e) {
                // The pipe breaks when the process is killed; what was read so far is kept.
            }
        }, threadName);
        thread.setDaemon(true);
        thread.start();
        return thread;
    }

    synchronized String text() {
        int size = (int) Math.min(written, ring.length);
        byte[] ordered = new byte[size];
        int start = (int) ((written - size) % ring.length);
        for (int i = 0; i < size; i++) {
            ordered[i] = ring[(start + i) % ring.length];
        }
        return new String(ordered, StandardCharsets.UTF_8);
    }
}
