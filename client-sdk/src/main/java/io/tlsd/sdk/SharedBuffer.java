package io.tlsd.sdk;

import io.tlsd.proto.v1.Request;
import io.tlsd.sdk.internal.CompletionDecoder;
import io.tlsd.sdk.internal.Session;
import io.tlsd.sdk.internal.SharedBufferArea;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Memory shared with the daemon, for writes without a copy: fill {@link #buffer()} in place, then
 * {@link TlsConnection#write(SharedBuffer, int, int)} sends its bytes as they are, because tlsd
 * reads them straight out of this memory. Other writes copy their bytes (into the client's write
 * ring or its socket) before they return; for an application that sends the same bytes many
 * times, or builds its output in place, a shared buffer saves that copy (see the SDK bulk rows in
 * docs/benchmarks.md).
 *
 * <pre>{@code
 * TlsdClient client = TlsdClient.builder().sharedBufferBytes(1 << 20).build();
 * try (SharedBuffer out = client.allocateBuffer(64 * 1024)) {
 *   int n = fill(out.buffer());            // put bytes at 0..n
 *   conn.write(out, 0, n).await();         // the bytes must not change until this completes
 *   n = fill(out.buffer().clear());        // the write completed: the buffer is ours again
 *   conn.write(out, 0, n).await();
 * }
 * }</pre>
 *
 * <p><b>The bytes of a write must not change until its operation has completed</b>, whatever its
 * outcome: the daemon reads them when the write starts, which may be later than the call if
 * earlier operations on the connection are still running. Several writes (on one connection or
 * several) may use the same bytes at once.
 *
 * <p>Shared buffers come out of the memory asked for with {@link
 * TlsdClient.Builder#sharedBufferBytes}. When there is none (not asked for, the daemon grants no
 * shared memory, this process cannot map it, or it is used up), {@link TlsdClient#allocateBuffer}
 * returns a buffer in ordinary direct memory instead ({@link #isShared()} false), whose writes copy
 * the bytes like {@link TlsConnection#write(ByteBuffer)}: code written for shared buffers works
 * everywhere. (So does a client that was closed: its writes fail anyway.)
 *
 * <p>{@link #close()} gives the space back for other buffers, once the writes from it in flight
 * have completed; a buffer never closed holds its space as long as the client lives, and one that
 * the garbage collector finds unreachable before it was closed, while its client is open, is
 * logged as a warning ({@link System.Logger} {@code io.tlsd.sdk.SharedBuffer}). Its space is not
 * given back then, because views of its {@link ByteBuffer} may still be in use. The {@link
 * ByteBuffer} must not be used after {@link #close()} (the memory may belong to another buffer).
 * The shared memory itself (write ring and buffers) stays mapped after the client is closed until
 * the garbage collector finds the client and every buffer of it unreachable, so that touching a
 * buffer can never crash the JVM.
 *
 * <p>When the client's session ends (it was closed, or the daemon went away) with writes in
 * flight, their operations fail at once, but the daemon may read their bytes until it notices
 * the end, and then resets their connections.
 *
 * <p>Thread-safe; the {@link ByteBuffer}'s position and limit are the application's (writes take
 * an offset and a length and ignore them).
 */
public final class SharedBuffer implements AutoCloseable {
  private static final System.Logger log = System.getLogger(SharedBuffer.class.getName());

  private final Session session;
  /** The block of shared memory; null for a buffer in ordinary memory. */
  private final SharedBufferArea.Block block;

  private final ByteBuffer buffer;

  /** The same memory as {@link #buffer}, never handed out: its position and limit stay put. */
  private final ByteBuffer source;

  private final Unclosed unclosed;

  /** Reports the buffer if it becomes unreachable unclosed; null for one in ordinary memory. */
  private final Cleaner.Cleanable leakReport;

  private SharedBuffer(Session session, SharedBufferArea.Block block, ByteBuffer buffer) {
    this.session = session;
    this.block = block;
    this.buffer = buffer;
    this.source = buffer.duplicate();
    this.unclosed = new Unclosed(session, buffer.capacity());
    // Ordinary direct memory goes back with its buffer: only shared space can be lost.
    this.leakReport = block == null ? null : LeakReports.CLEANER.register(this, unclosed);
  }

  /** Whether the buffer was closed; the leak report, so it must not refer to the buffer. */
  private static final class Unclosed implements Runnable {
    private final Session session;
    private final int capacity;
    private volatile boolean closed;

    Unclosed(Session session, int capacity) {
      this.session = session;
      this.capacity = capacity;
    }

    @Override
    public void run() {
      if (!closed && !session.isClosed()) {
        log.log(
            System.Logger.Level.WARNING,
            "a SharedBuffer of {0} bytes became unreachable without close(): its shared memory"
                + " stays taken until the TlsdClient is closed",
            Integer.toString(capacity));
      }
    }
  }

  /** Created with the first shared buffer: one daemon thread for the process. */
  private static final class LeakReports {
    static final Cleaner CLEANER =
        Cleaner.create(r -> new Thread(r, "tlsd-shared-buffer-reports"));
  }

  static SharedBuffer allocate(Session session, int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be at least 1 but was " + capacity);
    }
    SharedBufferArea.Block block = session.allocateShared(capacity);
    return block != null
        ? new SharedBuffer(session, block, block.view())
        : new SharedBuffer(session, null, ByteBuffer.allocateDirect(capacity));
  }

  /**
   * The buffer's memory: a direct {@link ByteBuffer} of {@link #capacity()} bytes, always the same
   * instance.
   */
  public ByteBuffer buffer() {
    return buffer;
  }

  /** The buffer's size in bytes. */
  public int capacity() {
    return buffer.capacity();
  }

  /**
   * True if the memory is shared with the daemon, so that writes from it take no copy; false for
   * ordinary memory, whose writes copy their bytes as they are sent.
   */
  public boolean isShared() {
    return block != null;
  }

  /** True once {@link #close()} was called. */
  public boolean isClosed() {
    return unclosed.closed;
  }

  /**
   * Gives the buffer's space back once every write from it in flight has completed; writes from
   * it are refused afterwards. Idempotent.
   */
  @Override
  public void close() {
    unclosed.closed = true;
    if (block != null) {
      block.close();
      leakReport.clean(); // nothing to report: only forgets the buffer
    }
  }

  /** Sends the WRITE {@code request} of bytes {@code [offset, offset + length)} of this buffer. */
  <T> Operation<T> write(
      Session from, Request.Builder request, int offset, int length, CompletionDecoder<T> decoder) {
    if (from != session) {
      throw new IllegalArgumentException("the buffer belongs to another TlsdClient");
    }
    Objects.checkFromIndexSize(offset, length, buffer.capacity());
    if (unclosed.closed) {
      throw new IllegalStateException("shared buffer closed");
    }
    if (block != null) {
      return session.submitSharedWrite(request, block, offset, length, decoder);
    }
    return session.submitWrite(request, source.slice(offset, length), decoder);
  }
}
