package io.tlsd.sdk.internal;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import io.tlsd.proto.v1.DaemonMessage;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;

/**
 * The framing of the IPC socket: a 4-byte big-endian unsigned length, then one protobuf message.
 *
 * <p>Both directions go through buffers this class owns, so that the data path costs one copy
 * between the caller's memory and the kernel and as few system calls as possible:
 *
 * <ul>
 *   <li><b>Writing</b> serialises the length and the message straight into one reusable direct
 *       buffer and writes that buffer to the channel: the JDK writes a direct buffer without an
 *       extra copy of its own. The buffer grows on demand up to {@link
 *       #MAX_RETAINED_WRITE_BUFFER_BYTES}; a larger frame is streamed through it in chunks of that
 *       size, so one huge write neither pins a huge buffer nor reallocates one per frame.
 *   <li><b>Reading</b> fills one reusable direct buffer with whatever a single {@code read()}
 *       returns and parses every complete frame in it before reading again, so coalesced frames
 *       cost one system call in all. A frame larger than that buffer is assembled in an array of
 *       exactly its size, allocated only after its length has been checked.
 * </ul>
 *
 * <p>Not thread-safe: one thread reads, and writers must be serialised by the caller. The reading
 * and the writing state are separate, so one reader and one writer may run at the same time.
 */
final class FrameChannel {
  static final int LENGTH_BYTES = 4;

  /** The read buffer: far more than a typical completion, so most reads see several frames. */
  static final int READ_BUFFER_BYTES = 128 * 1024;

  /** The first write buffer: a request without a large payload fits many times over. */
  static final int INITIAL_WRITE_BUFFER_BYTES = 16 * 1024;

  /**
   * The largest write buffer kept between frames, and the chunk size of larger frames. Big enough
   * that a chunk costs far more to copy than to hand to the kernel.
   */
  static final int MAX_RETAINED_WRITE_BUFFER_BYTES = 256 * 1024;

  /** The heap buffer protobuf's stream encoder uses for a streamed frame's small fields. */
  private static final int STREAM_ENCODER_BUFFER_BYTES = 4096;

  private final ByteChannel channel;

  /**
   * Bytes received but not parsed yet, between {@code position} and {@code limit}: the buffer is
   * always left ready for reading ("flipped") between calls.
   */
  private final ByteBuffer readBuffer;

  /** Allocated by the first write; its content is meaningless between writes. */
  private ByteBuffer writeBuffer;

  FrameChannel(ByteChannel channel) {
    this(channel, READ_BUFFER_BYTES);
  }

  /** With a read buffer of {@code readBufferBytes}; tests use small ones. */
  FrameChannel(ByteChannel channel, int readBufferBytes) {
    if (readBufferBytes < LENGTH_BYTES) {
      throw new IllegalArgumentException("readBufferBytes < " + LENGTH_BYTES);
    }
    this.channel = channel;
    this.readBuffer = ByteBuffer.allocateDirect(readBufferBytes).flip();
  }

  /**
   * Writes {@code message} as one frame. Every byte of it has been copied into this channel's
   * buffer or handed to the kernel when this method returns, and nothing here keeps a reference to
   * {@code message}: callers may serialise messages that wrap arrays they reuse afterwards (see
   * {@link Session#submit}).
   *
   * <p>A failure may leave part of the frame on the wire, after which the stream cannot be used.
   */
  void write(MessageLite message) throws IOException {
    int size = message.getSerializedSize();
    long frameBytes = LENGTH_BYTES + (long) size;
    if (frameBytes > MAX_RETAINED_WRITE_BUFFER_BYTES) {
      writeStreamed(message, size);
      return;
    }
    ByteBuffer buffer = writeBuffer((int) frameBytes);
    buffer.clear().limit((int) frameBytes);
    buffer.putInt(size);
    CodedOutputStream out = CodedOutputStream.newInstance(buffer);
    message.writeTo(out);
    out.checkNoSpaceLeft();
    buffer.position(0);
    writeFully(buffer);
  }

  /** Writes a frame larger than the retained write buffer in chunks of that buffer's size. */
  private void writeStreamed(MessageLite message, int size) throws IOException {
    ByteBuffer buffer = writeBuffer(MAX_RETAINED_WRITE_BUFFER_BYTES);
    buffer.clear();
    buffer.putInt(size);
    ChunkedSink sink = new ChunkedSink(buffer);
    CodedOutputStream out = CodedOutputStream.newInstance(sink, STREAM_ENCODER_BUFFER_BYTES);
    message.writeTo(out);
    out.flush();
    if (out.getTotalBytesWritten() != size) {
      throw new IllegalStateException(
          "serialised " + out.getTotalBytesWritten() + " bytes of a " + size + "-byte message");
    }
    sink.drain();
  }

  /**
   * The write buffer, with room for at least {@code frameBytes} (at most {@link
   * #MAX_RETAINED_WRITE_BUFFER_BYTES}). It grows by powers of two so that a session settles on one
   * buffer after its first few large frames.
   */
  private ByteBuffer writeBuffer(int frameBytes) {
    if (writeBuffer == null || writeBuffer.capacity() < frameBytes) {
      int capacity = INITIAL_WRITE_BUFFER_BYTES;
      while (capacity < frameBytes) {
        capacity *= 2;
      }
      writeBuffer = ByteBuffer.allocateDirect(Math.min(capacity, MAX_RETAINED_WRITE_BUFFER_BYTES));
    }
    return writeBuffer;
  }

  /** The capacity of the write buffer, 0 before the first write; for tests. */
  int writeBufferCapacity() {
    return writeBuffer == null ? 0 : writeBuffer.capacity();
  }

  private void writeFully(ByteBuffer buffer) throws IOException {
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
  }

  /** The channel's side of a streamed frame: fills the write buffer and writes it out when full. */
  private final class ChunkedSink extends OutputStream {
    private final ByteBuffer buffer;

    ChunkedSink(ByteBuffer buffer) {
      this.buffer = buffer;
    }

    @Override
    public void write(int b) throws IOException {
      if (!buffer.hasRemaining()) {
        drain();
      }
      buffer.put((byte) b);
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
      while (length > 0) {
        if (!buffer.hasRemaining()) {
          drain();
        }
        int chunk = Math.min(length, buffer.remaining());
        buffer.put(bytes, offset, chunk);
        offset += chunk;
        length -= chunk;
      }
    }

    /** Writes what the buffer holds and empties it. */
    void drain() throws IOException {
      buffer.flip();
      writeFully(buffer);
      buffer.clear();
    }
  }

  /**
   * Reads the next frame, or returns null when the daemon closed the socket between frames.
   *
   * <p>The returned message shares no memory with the read buffer: protobuf copies the bytes fields
   * out of a buffer it is not told is immutable, so a message stays valid however long it is kept,
   * and its {@code bytes} fields each own their array.
   *
   * @throws ProtocolViolationException if the frame is larger than {@code maxFrameBytes} (checked
   *     before anything is allocated for it) or does not parse; the stream is unusable afterwards
   * @throws EOFException if the socket ends in the middle of a frame
   */
  DaemonMessage read(int maxFrameBytes) throws IOException {
    while (true) {
      int buffered = readBuffer.remaining();
      if (buffered >= LENGTH_BYTES) {
        int start = readBuffer.position();
        long length = Integer.toUnsignedLong(readBuffer.getInt(start));
        if (length > maxFrameBytes) {
          throw new ProtocolViolationException(
              "a frame of " + length + " bytes from tlsd exceeds the limit of " + maxFrameBytes);
        }
        if (buffered - LENGTH_BYTES >= length) {
          ByteBuffer body = readBuffer.slice(start + LENGTH_BYTES, (int) length);
          readBuffer.position(start + LENGTH_BYTES + (int) length);
          return parse(body);
        }
        if (LENGTH_BYTES + length > readBuffer.capacity()) {
          return parse(readLargeBody((int) length));
        }
      }
      if (!fill()) {
        if (readBuffer.hasRemaining()) {
          throw middleOfFrame();
        }
        return null;
      }
    }
  }

  /**
   * Moves the unparsed bytes to the front of the read buffer and appends what one {@code read()}
   * returns. Returns false at the end of the stream.
   */
  private boolean fill() throws IOException {
    readBuffer.compact();
    try {
      return channel.read(readBuffer) >= 0;
    } finally {
      readBuffer.flip();
    }
  }

  /**
   * Consumes the frame at the read buffer's position, whose {@code length} has been checked and
   * does not fit in the read buffer, and returns its body. Bytes after the frame stay buffered.
   */
  private byte[] readLargeBody(int length) throws IOException {
    byte[] body = new byte[length];
    readBuffer.position(readBuffer.position() + LENGTH_BYTES);
    int filled = readBuffer.remaining();
    readBuffer.get(body, 0, filled);
    while (filled < length) {
      if (!fill()) {
        throw middleOfFrame();
      }
      int chunk = Math.min(readBuffer.remaining(), length - filled);
      readBuffer.get(body, filled, chunk);
      filled += chunk;
    }
    return body;
  }

  private static DaemonMessage parse(ByteBuffer body) throws ProtocolViolationException {
    try {
      return DaemonMessage.parseFrom(body);
    } catch (InvalidProtocolBufferException e) {
      throw unparseable(e);
    }
  }

  private static DaemonMessage parse(byte[] body) throws ProtocolViolationException {
    try {
      return DaemonMessage.parseFrom(body);
    } catch (InvalidProtocolBufferException e) {
      throw unparseable(e);
    }
  }

  private static ProtocolViolationException unparseable(InvalidProtocolBufferException e) {
    return new ProtocolViolationException("unparseable frame from tlsd: " + e.getMessage());
  }

  private static EOFException middleOfFrame() {
    return new EOFException("tlsd daemon closed the session in the middle of a frame");
  }
}
