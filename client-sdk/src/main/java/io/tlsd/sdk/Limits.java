package io.tlsd.sdk;

/**
 * The limits the daemon announced for this session when it accepted it.
 *
 * <p>The SDK checks the per-request sizes ({@link #maxReadBytes()}, {@link #maxWriteBytes()})
 * itself, so a mistake fails at the call site; the session-wide ones are enforced by the daemon,
 * which answers {@link Status#LIMIT_EXCEEDED}.
 *
 * <pre>{@code
 * Limits limits = client.limits();
 * byte[] chunk = conn.read(limits.maxReadBytes()).await();
 * }</pre>
 *
 * <p>Values the daemon sends as unsigned numbers beyond the range of the Java type are reported as
 * {@link Integer#MAX_VALUE} or {@link Long#MAX_VALUE}: they are effectively unlimited.
 *
 * @param maxFrameBytes largest IPC frame, in bytes, the daemon accepts (without the length prefix)
 * @param maxReadBytes largest {@code maxBytes} of a read
 * @param maxOpsInFlight operations of one session that may be unfinished at once
 * @param maxQueuedWriteBytes bytes of writes of one session that may be queued or being written
 * @param maxConnections connections one session may hold open at once
 * @param maxWriteBytes largest number of bytes in one write
 */
public record Limits(
    int maxFrameBytes,
    int maxReadBytes,
    int maxOpsInFlight,
    long maxQueuedWriteBytes,
    int maxConnections,
    int maxWriteBytes) {

  static Limits fromProto(io.tlsd.proto.v1.Limits limits) {
    return new Limits(
        unsigned(limits.getMaxFrameBytes()),
        unsigned(limits.getMaxReadBytes()),
        unsigned(limits.getMaxOpsInFlight()),
        limits.getMaxQueuedWriteBytes() < 0 ? Long.MAX_VALUE : limits.getMaxQueuedWriteBytes(),
        unsigned(limits.getMaxConnections()),
        unsigned(limits.getMaxWriteBytes()));
  }

  private static int unsigned(int uint32) {
    return uint32 < 0 ? Integer.MAX_VALUE : uint32;
  }
}
