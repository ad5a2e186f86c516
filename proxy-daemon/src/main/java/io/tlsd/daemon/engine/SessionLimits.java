package io.tlsd.daemon.engine;

import io.tlsd.proto.v1.Limits;

/**
 * The bounds that keep one application from using more than its share of the daemon. Announced
 * to the application in {@code Welcome.limits}, except the per-connection plaintext buffer,
 * which only governs when the daemon stops reading a TLS socket.
 *
 * @param maxWriteBytes largest {@code Write.data}
 * @param maxReadBytes largest {@code Read.max_bytes}
 * @param maxOpsInFlight unfinished operations of one session
 * @param maxQueuedWriteBytes write bytes of one session waiting or being written
 * @param maxConnections connections one session may hold
 * @param connectionBufferBytes decrypted bytes buffered per connection before reading pauses
 * @param maxBufferedReadBytes decrypted bytes buffered over all the session's connections before
 *     reading pauses on each that has not filled its own buffer (until the application reads)
 */
public record SessionLimits(
        int maxWriteBytes,
        int maxReadBytes,
        int maxOpsInFlight,
        long maxQueuedWriteBytes,
        int maxConnections,
        int connectionBufferBytes,
        long maxBufferedReadBytes) {

    /** The default of {@code max_buffered_read_bytes}: as for writes, 64 MiB. */
    public static final long DEFAULT_MAX_BUFFERED_READ_BYTES = 64L << 20;

    /** With the default {@code max_buffered_read_bytes}. */
    public SessionLimits(int maxWriteBytes, int maxReadBytes, int maxOpsInFlight, long maxQueuedWriteBytes,
                         int maxConnections, int connectionBufferBytes) {
        this(maxWriteBytes, maxReadBytes, maxOpsInFlight, maxQueuedWriteBytes, maxConnections, connectionBufferBytes,
                DEFAULT_MAX_BUFFERED_READ_BYTES);
    }

    /** Room for the protobuf envelope around the largest write. */
    private static final int FRAME_OVERHEAD = 1024;

    public static final SessionLimits DEFAULTS =
            new SessionLimits(1 << 20, 1 << 20, 1024, 64L << 20, 1024, 256 << 10);

    public SessionLimits {
        requirePositive(maxWriteBytes, "maxWriteBytes");
        requirePositive(maxReadBytes, "maxReadBytes");
        requirePositive(maxOpsInFlight, "maxOpsInFlight");
        requirePositive(maxQueuedWriteBytes, "maxQueuedWriteBytes");
        requirePositive(maxConnections, "maxConnections");
        requirePositive(connectionBufferBytes, "connectionBufferBytes");
        requirePositive(maxBufferedReadBytes, "maxBufferedReadBytes");
        if (maxWriteBytes > (64 << 20)) {
            throw new IllegalArgumentException("maxWriteBytes > 64 MiB");
        }
    }

    /** As the configuration file's keys say them: "max_write_bytes 1048576, …", for logs. */
    public String describe() {
        return "max_write_bytes " + maxWriteBytes + ", max_read_bytes " + maxReadBytes + ", max_ops_in_flight "
                + maxOpsInFlight + ", max_queued_write_bytes " + maxQueuedWriteBytes + ", max_connections "
                + maxConnections + ", connection_buffer_bytes " + connectionBufferBytes + ", max_buffered_read_bytes "
                + maxBufferedReadBytes;
    }

    private static void requirePositive(long value, String name) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " <= 0");
        }
    }

    /** Largest frame the daemon accepts, excluding its 4-byte length prefix. */
    public int maxFrameBytes() {
        return maxWriteBytes + FRAME_OVERHEAD;
    }

    public Limits toProto() {
        return Limits.newBuilder()
                .setMaxFrameBytes(maxFrameBytes())
                .setMaxReadBytes(maxReadBytes)
                .setMaxOpsInFlight(maxOpsInFlight)
                .setMaxQueuedWriteBytes(maxQueuedWriteBytes)
                .setMaxConnections(maxConnections)
                .setMaxWriteBytes(maxWriteBytes)
                .build();
    }
}
