package io.tlsd.sdk.internal;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import io.tlsd.proto.v1.DaemonMessage;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * The framing of the IPC socket: a 4-byte big-endian unsigned length, then one protobuf message.
 *
 * <p>Not thread-safe: one thread reads, and writers must be serialised by the caller.
 */
final class FrameChannel {
  private final SocketChannel channel;
  private final ByteBuffer header = ByteBuffer.allocate(4);

  FrameChannel(SocketChannel channel) {
    this.channel = channel;
  }

  void write(MessageLite message) throws IOException {
    int size = message.getSerializedSize();
    byte[] frame = new byte[4 + size];
    ByteBuffer.wrap(frame).putInt(size);
    CodedOutputStream out = CodedOutputStream.newInstance(frame, 4, size);
    message.writeTo(out);
    out.checkNoSpaceLeft();
    ByteBuffer buffer = ByteBuffer.wrap(frame);
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
  }

  /**
   * Reads the next frame, or returns null when the daemon closed the socket between frames.
   *
   * @throws ProtocolViolationException if the frame is larger than {@code maxFrameBytes} or does
   *     not parse; its bytes are not consumed, so the stream is unusable afterwards
   */
  DaemonMessage read(int maxFrameBytes) throws IOException {
    header.clear();
    if (!readFully(header)) {
      return null;
    }
    long length = Integer.toUnsignedLong(header.getInt(0));
    if (length > maxFrameBytes) {
      throw new ProtocolViolationException(
          "a frame of " + length + " bytes from tlsd exceeds the limit of " + maxFrameBytes);
    }
    ByteBuffer body = ByteBuffer.allocate((int) length);
    if (!readFully(body)) {
      throw new EOFException("tlsd daemon closed the session in the middle of a frame");
    }
    body.flip();
    try {
      return DaemonMessage.parseFrom(body);
    } catch (InvalidProtocolBufferException e) {
      throw new ProtocolViolationException("unparseable frame from tlsd: " + e.getMessage());
    }
  }

  /** Returns false on end of stream before the first byte; fails on end of stream after it. */
  private boolean readFully(ByteBuffer buffer) throws IOException {
    while (buffer.hasRemaining()) {
      if (channel.read(buffer) < 0) {
        if (buffer.position() == 0) {
          return false;
        }
        throw new EOFException("tlsd daemon closed the session in the middle of a frame");
      }
    }
    return true;
  }
}
