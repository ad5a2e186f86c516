package io.tlsd.sdk.internal;

import io.tlsd.sdk.Operation;
import io.tlsd.sdk.TlsConnection;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.Objects;

/**
 * A blocking {@link InputStream} over a connection's reads, returned by {@link
 * TlsConnection#inputStream()}.
 *
 * <pre>{@code
 * try (BufferedReader lines = new BufferedReader(
 *     new InputStreamReader(conn.inputStream(), UTF_8))) {
 *   String status = lines.readLine();
 * }
 * }</pre>
 */
public final class ConnectionInputStream extends InputStream {
  private final TlsConnection connection;
  private final int readSize;
  private byte[] buffer = new byte[0];
  private int position;
  private boolean endOfStream;
  private boolean closed;

  public ConnectionInputStream(TlsConnection connection, int readSize) {
    this.connection = Objects.requireNonNull(connection, "connection == null");
    this.readSize = readSize;
  }

  @Override
  public synchronized int read() throws IOException {
    if (!fill()) {
      return -1;
    }
    return buffer[position++] & 0xff;
  }

  @Override
  public synchronized int read(byte[] destination, int offset, int length) throws IOException {
    Objects.checkFromIndexSize(offset, length, destination.length);
    if (length == 0) {
      return 0;
    }
    if (!fill()) {
      return -1;
    }
    int count = Math.min(length, buffer.length - position);
    System.arraycopy(buffer, position, destination, offset, count);
    position += count;
    return count;
  }

  @Override
  public synchronized int available() throws IOException {
    checkOpen();
    return buffer.length - position;
  }

  /** Stops this stream; the connection stays open, and so does its output. */
  @Override
  public synchronized void close() {
    closed = true;
    buffer = new byte[0];
    position = 0;
  }

  /**
   * Makes buffered bytes available, reading from the daemon if none are; false at end of stream.
   */
  private boolean fill() throws IOException {
    checkOpen();
    if (position < buffer.length) {
      return true;
    }
    if (endOfStream) {
      return false;
    }
    Operation<byte[]> read = connection.read(readSize);
    byte[] data;
    try {
      data = read.await();
    } catch (InterruptedException e) {
      // The read stays queued in the daemon; cancelling it keeps its bytes from being lost
      // when it has not started, and the caller learns nothing was read either way.
      read.cancel();
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for tlsd to read");
    }
    if (data.length == 0) {
      endOfStream = true;
      return false;
    }
    buffer = data;
    position = 0;
    return true;
  }

  private void checkOpen() throws IOException {
    if (closed) {
      throw new IOException("stream closed");
    }
  }
}
