package io.tlsd.sdk.internal;

import io.tlsd.sdk.Operation;
import io.tlsd.sdk.TlsConnection;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.Objects;

/**
 * A blocking {@link OutputStream} over a connection's writes, returned by {@link
 * TlsConnection#outputStream()}: it splits data into writes of at most {@code chunkSize} bytes and
 * keeps up to {@code maxInFlight} of them outstanding.
 *
 * <pre>{@code
 * try (OutputStream out = new BufferedOutputStream(conn.outputStream())) {
 *   out.write(body);
 * }  // waits for every write, then half-closes the connection
 * }</pre>
 *
 * <p>The first failure breaks the stream: it is thrown by the call that finds it and by every later
 * call.
 */
public final class ConnectionOutputStream extends OutputStream {
  private final TlsConnection connection;
  private final int chunkSize;
  private final int maxInFlight;
  private final ArrayDeque<Operation<Long>> inFlight = new ArrayDeque<>();
  private IOException failure;
  private boolean closed;

  public ConnectionOutputStream(TlsConnection connection, int chunkSize, int maxInFlight) {
    this.connection = Objects.requireNonNull(connection, "connection == null");
    if (chunkSize < 1) {
      throw new IllegalArgumentException("chunkSize < 1");
    }
    if (maxInFlight < 1) {
      throw new IllegalArgumentException("maxInFlight < 1");
    }
    this.chunkSize = chunkSize;
    this.maxInFlight = maxInFlight;
  }

  @Override
  public synchronized void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public synchronized void write(byte[] data, int offset, int length) throws IOException {
    Objects.checkFromIndexSize(offset, length, data.length);
    checkUsable();
    for (int end = offset + length; offset < end; offset += chunkSize) {
      // Bounds the bytes this stream has queued in the daemon, like a socket's send buffer.
      while (inFlight.size() >= maxInFlight) {
        awaitOldest();
      }
      inFlight.add(connection.write(data, offset, Math.min(chunkSize, end - offset)));
      collectFinished();
    }
  }

  /** Waits until every write issued so far has completed. */
  @Override
  public synchronized void flush() throws IOException {
    checkUsable();
    while (!inFlight.isEmpty()) {
      awaitOldest();
    }
  }

  /**
   * Waits for every pending write, then half-closes the connection so that the peer sees the end of
   * the stream. Reads can go on; {@link TlsConnection#close()} releases the connection.
   */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    try {
      flush();
      await(connection.shutdownOutput());
    } finally {
      closed = true;
    }
  }

  private void checkUsable() throws IOException {
    if (closed) {
      throw new IOException("stream closed");
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Surfaces failures of writes that already finished, without blocking. */
  private void collectFinished() throws IOException {
    while (!inFlight.isEmpty() && inFlight.peek().isDone()) {
      awaitOldest();
    }
  }

  private void awaitOldest() throws IOException {
    Operation<Long> oldest = inFlight.peek();
    try {
      await(oldest);
      inFlight.remove();
    } catch (IOException e) {
      failure = e;
      inFlight.clear();
      throw e;
    }
  }

  private static <T> T await(Operation<T> operation) throws IOException {
    try {
      return operation.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for tlsd to write");
    }
  }
}
