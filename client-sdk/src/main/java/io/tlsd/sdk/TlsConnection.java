package io.tlsd.sdk;

import io.tlsd.proto.v1.Barrier;
import io.tlsd.proto.v1.Close;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.Read;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Write;
import io.tlsd.sdk.internal.CompletionDecoder;
import io.tlsd.sdk.internal.ConnectionInputStream;
import io.tlsd.sdk.internal.ConnectionOutputStream;
import io.tlsd.sdk.internal.Session;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;

/**
 * One established TLS connection, held by the daemon and driven by operations.
 *
 * <p>Reads are carried out in the order they were issued, and so are writes; reads and writes are
 * independent of each other, so a read may wait for the peer while writes go on. A {@link
 * #barrier()} makes later operations wait until every earlier one has completed.
 *
 * <pre>{@code
 * TlsConnection conn = client.open("example.com", 443).await();
 * Operation<Long> sent = conn.write(request);
 * while (true) {
 *   byte[] chunk = conn.read(16 * 1024).await();
 *   if (chunk.length == 0) {
 *     break;  // the peer closed cleanly
 *   }
 *   consume(chunk);
 * }
 * conn.close().await();
 * }</pre>
 *
 * <p>For code written against streams, {@link #inputStream()} and {@link #outputStream()} offer
 * blocking adapters. Thread-safe.
 */
public final class TlsConnection {
  /** The outstanding writes {@link #outputStream()} keeps: enough to hide the IPC round trip. */
  private static final int STREAM_WRITES_IN_FLIGHT = 8;

  private static final byte[] END_OF_STREAM = new byte[0];

  private final Session session;
  private final Limits limits;
  private final long id;
  private final ConnectionInfo info;
  private InputStream inputStream;
  private OutputStream outputStream;

  TlsConnection(Session session, Limits limits, long id, ConnectionInfo info) {
    this.session = session;
    this.limits = limits;
    this.id = id;
    this.info = info;
  }

  /** The daemon's id of this connection, as in its logs. */
  public long id() {
    return id;
  }

  /** What the handshake negotiated and who the peer is. */
  public ConnectionInfo info() {
    return info;
  }

  /** Reads without a deadline; see {@link #read(int, Duration)}. */
  public Operation<byte[]> read(int maxBytes) {
    return read(maxBytes, Duration.ZERO);
  }

  /**
   * Reads up to {@code maxBytes} bytes of plaintext (the C API's {@code tls_read}). The operation
   * completes as soon as any data is available, with 1 to {@code maxBytes} bytes. When the peer has
   * closed cleanly (close_notify) after its last byte, it completes with an <em>empty</em> array
   * and status {@link Status#EOF}; an empty array is never returned otherwise. A peer that drops
   * the TCP connection without close_notify fails the read with {@link Status#CONNECTION_RESET}.
   *
   * @param maxBytes 1 to {@link Limits#maxReadBytes()}
   * @param timeout the deadline, enforced by the daemon ({@link Status#TIMED_OUT}); zero for none
   * @throws IllegalArgumentException if {@code maxBytes} or {@code timeout} is out of range
   */
  public Operation<byte[]> read(int maxBytes, Duration timeout) {
    if (maxBytes < 1 || maxBytes > limits.maxReadBytes()) {
      throw new IllegalArgumentException(
          "maxBytes must be in 1.." + limits.maxReadBytes() + " but was " + maxBytes);
    }
    Request.Builder request =
        Request.newBuilder()
            .setTimeoutMs(RequestTimeout.toWireMillis(timeout, "timeout"))
            .setRead(Read.newBuilder().setConnId(id).setMaxBytes(maxBytes));
    return session.submit(request, TlsConnection::readResult);
  }

  private static byte[] readResult(Completion completion) throws TlsdException {
    switch (completion.getStatus()) {
      case EOF:
        return END_OF_STREAM;
      case OK:
        // An empty array means end of stream, so an OK read without data must not look like one.
        if (completion.getData().isEmpty()) {
          throw new TlsdException(Status.INTERNAL, "tlsd completed a READ with no data");
        }
        return ByteStrings.detach(completion.getData());
      default:
        throw CompletionDecoder.failure(completion);
    }
  }

  /** Writes all of {@code data} without a deadline; see {@link #write(byte[], int, int)}. */
  public Operation<Long> write(byte[] data) {
    Objects.requireNonNull(data, "data == null");
    return write(data, 0, data.length, Duration.ZERO);
  }

  /** Writes all of {@code data} with a deadline; see {@link #write(byte[], int, int)}. */
  public Operation<Long> write(byte[] data, Duration timeout) {
    Objects.requireNonNull(data, "data == null");
    return write(data, 0, data.length, timeout);
  }

  /**
   * Writes {@code length} bytes of {@code data} from {@code offset} (the C API's {@code
   * tls_write}). The bytes are copied before this method returns, so the array may be reused at
   * once; it must not change while this method runs. The operation completes with the number of
   * bytes written once all of them have been encrypted and handed to the TLS socket.
   *
   * @param length 1 to {@link Limits#maxWriteBytes()}; larger payloads take several writes, or
   *     {@link #outputStream()}
   * @throws IllegalArgumentException if {@code length} is out of range
   * @throws IndexOutOfBoundsException if the range is not inside {@code data}
   */
  public Operation<Long> write(byte[] data, int offset, int length) {
    return write(data, offset, length, Duration.ZERO);
  }

  private Operation<Long> write(byte[] data, int offset, int length, Duration timeout) {
    Objects.requireNonNull(data, "data == null");
    Objects.checkFromIndexSize(offset, length, data.length);
    checkWriteLength(length, "length", "was");
    // No copy here: submitWrite() copies the bytes straight from the caller's array into the write
    // ring or the frame before it returns, which keeps the promise that the array may be reused
    // as soon as write() returns.
    return session.submitWrite(
        writeRequest(timeout), data, offset, length, TlsConnection::writeResult);
  }

  /**
   * Writes the remaining bytes of {@code data} without a deadline; see {@link #write(ByteBuffer,
   * Duration)}.
   */
  public Operation<Long> write(ByteBuffer data) {
    return write(data, Duration.ZERO);
  }

  /**
   * Writes the bytes between {@code data}'s position and limit, heap or direct, and moves its
   * position to its limit: they have been copied when this method returns, so the buffer may be
   * reused at once. Otherwise as {@link #write(byte[], int, int)}.
   *
   * @param timeout the deadline, enforced by the daemon ({@link Status#TIMED_OUT}); zero for none
   * @throws IllegalArgumentException if the buffer has no bytes remaining or more than {@link
   *     Limits#maxWriteBytes()}
   */
  public Operation<Long> write(ByteBuffer data, Duration timeout) {
    Objects.requireNonNull(data, "data == null");
    checkWriteLength(data.remaining(), "remaining bytes", "were");
    Operation<Long> operation =
        session.submitWrite(writeRequest(timeout), data, TlsConnection::writeResult);
    data.position(data.limit());
    return operation;
  }

  /**
   * Writes bytes {@code [offset, offset + length)} of {@code buffer} without a deadline; see {@link
   * #write(SharedBuffer, int, int, Duration)}.
   */
  public Operation<Long> write(SharedBuffer buffer, int offset, int length) {
    return write(buffer, offset, length, Duration.ZERO);
  }

  /**
   * Writes bytes {@code [offset, offset + length)} of {@code buffer} (its position and limit play
   * no part) without copying them when the buffer {@linkplain SharedBuffer#isShared() is shared}:
   * the daemon reads them out of the shared memory when the write starts, so <b>they must not
   * change until the operation has completed</b>, whatever its outcome. Writes shorter than 8 KiB,
   * and every write from a buffer that is not shared, copy the bytes before this method returns,
   * as {@link #write(ByteBuffer)} does. Otherwise as {@link #write(byte[], int, int)}.
   *
   * @param buffer a buffer of the {@link TlsdClient} this connection belongs to
   * @param timeout the deadline, enforced by the daemon ({@link Status#TIMED_OUT}); zero for none
   * @throws IllegalArgumentException if {@code length} is not in 1..{@link Limits#maxWriteBytes()}
   *     or the buffer is another client's
   * @throws IndexOutOfBoundsException if the range is not inside the buffer
   * @throws IllegalStateException if the buffer was closed
   */
  public Operation<Long> write(SharedBuffer buffer, int offset, int length, Duration timeout) {
    Objects.requireNonNull(buffer, "buffer == null");
    checkWriteLength(length, "length", "was");
    return buffer.write(session, writeRequest(timeout), offset, length, TlsConnection::writeResult);
  }

  /**
   * @throws IllegalArgumentException unless {@code length} is 1..{@link Limits#maxWriteBytes()}:
   *     "{@code subject} must be in 1..max but {@code verb} length"
   */
  private void checkWriteLength(int length, String subject, String verb) {
    if (length < 1 || length > limits.maxWriteBytes()) {
      throw new IllegalArgumentException(
          subject + " must be in 1.." + limits.maxWriteBytes() + " but " + verb + " " + length);
    }
  }

  /** A WRITE on this connection, its bytes yet to be set. */
  private Request.Builder writeRequest(Duration timeout) {
    return Request.newBuilder()
        .setTimeoutMs(RequestTimeout.toWireMillis(timeout, "timeout"))
        .setWrite(Write.newBuilder().setConnId(id));
  }

  private static Long writeResult(Completion completion) throws TlsdException {
    CompletionDecoder.requireOk(completion);
    return completion.getBytesWritten();
  }

  /**
   * Makes every later operation on this connection wait until every earlier one has completed (the
   * C API's {@code tls_barrier}). The barrier itself completes when the earlier operations have.
   */
  public Operation<Void> barrier() {
    return barrier(Duration.ZERO);
  }

  /**
   * {@link #barrier()} with a deadline, enforced by the daemon: when the earlier operations have
   * not all completed within {@code timeout}, the barrier fails with {@link Status#TIMED_OUT} and
   * no longer holds the later ones back.
   *
   * @param timeout zero for none
   */
  public Operation<Void> barrier(Duration timeout) {
    return submitVoid(
        Request.newBuilder().setBarrier(Barrier.newBuilder().setConnId(id)), timeout);
  }

  /**
   * Closes the connection once the earlier writes have completed (the C API's {@code tls_close}):
   * sends close_notify and closes the socket. Reads still pending end with {@link Status#CLOSED};
   * the daemon forgets the connection.
   *
   * <p>{@code TlsConnection} is not {@link AutoCloseable}, because closing is an operation with an
   * outcome: {@code conn.close().await(timeout)} in a {@code finally} block is the equivalent.
   */
  public Operation<Void> close() {
    return close(Duration.ZERO);
  }

  /**
   * {@link #close()} with a deadline, enforced by the daemon ({@link Status#TIMED_OUT}): a close
   * still waiting for earlier writes when the time is up is withdrawn and the connection stays
   * open; one already sending close_notify fails too, and the connection ends as it was ending.
   *
   * @param timeout zero for none
   */
  public Operation<Void> close(Duration timeout) {
    return submitVoid(Request.newBuilder().setClose(Close.newBuilder().setConnId(id)), timeout);
  }

  /**
   * Half-closes the connection once the earlier writes have completed: sends close_notify so the
   * peer sees the end of the stream, while reads go on until the peer closes too. Close the
   * connection with {@link #close()} afterwards to release it.
   */
  public Operation<Void> shutdownOutput() {
    return shutdownOutput(Duration.ZERO);
  }

  /** {@link #shutdownOutput()} with a deadline, as for {@link #close(Duration)}. */
  public Operation<Void> shutdownOutput(Duration timeout) {
    return submitVoid(
        Request.newBuilder().setClose(Close.newBuilder().setConnId(id).setWriteSideOnly(true)),
        timeout);
  }

  private Operation<Void> submitVoid(Request.Builder request, Duration timeout) {
    request.setTimeoutMs(RequestTimeout.toWireMillis(timeout, "timeout"));
    return session.submit(
        request,
        completion -> {
          CompletionDecoder.requireOk(completion);
          return null;
        });
  }

  /**
   * Returns the blocking input stream of this connection; every call returns the same stream.
   *
   * <p>Each refill issues one read of {@link Limits#maxReadBytes()}; {@code read()} returns -1 once
   * the peer closed cleanly, and failures surface as {@link TlsdException}. Closing the stream
   * stops it from reading but leaves the connection open. Do not mix it with {@link #read(int)}
   * calls: the two would split the data between them.
   */
  public synchronized InputStream inputStream() {
    if (inputStream == null) {
      inputStream = new ConnectionInputStream(this, limits.maxReadBytes());
    }
    return inputStream;
  }

  /**
   * Returns the blocking output stream of this connection; every call returns the same stream.
   *
   * <p>Each {@code write} is sent at once as writes of at most {@link Limits#maxWriteBytes()}
   * bytes; wrap the stream in a {@link java.io.BufferedOutputStream} when writing small pieces. Up
   * to 8 writes stay in flight for throughput, so a failure may surface on a later {@code write},
   * at the latest on {@code flush()} or {@code close()}, which wait for every pending write. {@code
   * close()} then half-closes the connection ({@link #shutdownOutput()}), so the peer sees the end
   * of the stream while reading can go on.
   */
  public synchronized OutputStream outputStream() {
    if (outputStream == null) {
      outputStream =
          new ConnectionOutputStream(this, limits.maxWriteBytes(), STREAM_WRITES_IN_FLIGHT);
    }
    return outputStream;
  }

  @Override
  public String toString() {
    return "TlsConnection{" + info + "}";
  }
}
