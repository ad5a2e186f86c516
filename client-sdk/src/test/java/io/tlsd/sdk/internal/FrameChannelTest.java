package io.tlsd.sdk.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.tlsd.proto.v1.ClientMessage;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.DaemonMessage;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Write;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The framing against a real Unix-domain socket pair, and against scripted read boundaries. */
class FrameChannelTest {
  private static final int MAX_FRAME = 4 << 20;

  @TempDir Path dir;
  // Not the common pool: with one or two cores it may run a blocked writer and its reader in turn.
  private final ExecutorService threads = Executors.newCachedThreadPool();
  private SocketChannel sdkSide;
  private SocketChannel daemonSide;
  private CountingChannel counting;
  private FrameChannel frames;

  @BeforeEach
  void connect() throws IOException {
    UnixDomainSocketAddress address = UnixDomainSocketAddress.of(dir.resolve("frames.sock"));
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(address);
      sdkSide = SocketChannel.open(address);
      daemonSide = server.accept();
    }
    counting = new CountingChannel(sdkSide);
    frames = new FrameChannel(counting);
  }

  @AfterEach
  void close() throws IOException {
    sdkSide.close();
    daemonSide.close();
    threads.shutdownNow();
  }

  // ---- reading ----

  @Test
  void manyFramesArrivingInOneReadAreParsedFromThatRead() throws Exception {
    ByteArrayOutputStream batch = new ByteArrayOutputStream();
    for (int i = 0; i < 200; i++) {
      batch.write(frame(completion(i, payload(i, i % 50))));
    }
    sendAll(batch.toByteArray());

    for (int i = 0; i < 200; i++) {
      assertEquals(completion(i, payload(i, i % 50)), frames.read(MAX_FRAME));
    }
    assertEquals(1, counting.reads, "one read() for the whole batch");
  }

  @Test
  void messagesStayIntactWhenTheReadBufferIsReused() throws Exception {
    List<DaemonMessage> first = new ArrayList<>();
    sendAll(concat(frame(completion(1, payload(1, 1000))), frame(completion(2, payload(2, 300)))));
    first.add(frames.read(MAX_FRAME));
    first.add(frames.read(MAX_FRAME));
    // Overwrites the start of the read buffer with other bytes.
    sendAll(concat(frame(completion(3, payload(9, 1000))), frame(completion(4, payload(8, 300)))));
    assertEquals(completion(3, payload(9, 1000)), frames.read(MAX_FRAME));
    assertEquals(completion(4, payload(8, 300)), frames.read(MAX_FRAME));

    assertEquals(completion(1, payload(1, 1000)), first.get(0));
    assertEquals(completion(2, payload(2, 300)), first.get(1));
  }

  @Test
  void frameSplitIntoSingleBytesIsReassembled() throws Exception {
    byte[] stream =
        concat(
            frame(completion(1, payload(1, 100))),
            frame(DaemonMessage.getDefaultInstance()),
            frame(completion(2, payload(2, 3))));
    FrameChannel trickled = new FrameChannel(new ScriptedChannel(stream, 1), 64);
    assertEquals(completion(1, payload(1, 100)), trickled.read(MAX_FRAME));
    assertEquals(DaemonMessage.getDefaultInstance(), trickled.read(MAX_FRAME));
    assertEquals(completion(2, payload(2, 3)), trickled.read(MAX_FRAME));
    assertNull(trickled.read(MAX_FRAME));
  }

  @Test
  void frameWrittenByteByByteToTheSocketIsReassembled() throws Exception {
    byte[] stream =
        concat(frame(completion(5, payload(5, 500))), frame(completion(6, payload(6, 1))));
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(
            () -> {
              try {
                for (byte b : stream) {
                  sendAll(new byte[] {b});
                }
              } catch (IOException e) {
                throw new RuntimeException(e);
              }
            },
            threads);
    assertEquals(completion(5, payload(5, 500)), frames.read(MAX_FRAME));
    assertEquals(completion(6, payload(6, 1)), frames.read(MAX_FRAME));
    writer.get(5, TimeUnit.SECONDS);
  }

  @Test
  void frameLargerThanTheReadBufferIsReadWithTheFramesAroundIt() throws Exception {
    DaemonMessage big = completion(2, payload(2, 3 * FrameChannel.READ_BUFFER_BYTES + 17));
    byte[] stream =
        concat(
            frame(completion(1, payload(1, 10))), frame(big), frame(completion(3, payload(3, 10))));
    CompletableFuture<Void> writer = sendAsync(stream);
    assertEquals(completion(1, payload(1, 10)), frames.read(MAX_FRAME));
    assertEquals(big, frames.read(MAX_FRAME));
    assertEquals(completion(3, payload(3, 10)), frames.read(MAX_FRAME));
    writer.get(5, TimeUnit.SECONDS);

    // With read boundaries that cut the large frame and its neighbours at odd places.
    for (int chunk : new int[] {1, 7, 63, 64, 65, 1000}) {
      FrameChannel small = new FrameChannel(new ScriptedChannel(stream, chunk), 64);
      assertEquals(completion(1, payload(1, 10)), small.read(MAX_FRAME), "chunk " + chunk);
      assertEquals(big, small.read(MAX_FRAME), "chunk " + chunk);
      assertEquals(completion(3, payload(3, 10)), small.read(MAX_FRAME), "chunk " + chunk);
      assertNull(small.read(MAX_FRAME), "chunk " + chunk);
    }
  }

  @Test
  void frameThatExactlyFillsTheReadBufferStaysInIt() throws Exception {
    int size = 64 - FrameChannel.LENGTH_BYTES;
    DaemonMessage exact = completion(1, payload(1, size - 6)); // 6 bytes of tags and lengths
    assertEquals(size, exact.getSerializedSize());
    byte[] stream = concat(frame(exact), frame(exact));
    FrameChannel small = new FrameChannel(new ScriptedChannel(stream, 100), 64);
    assertEquals(exact, small.read(MAX_FRAME));
    assertEquals(exact, small.read(MAX_FRAME));
    assertNull(small.read(MAX_FRAME));
  }

  @Test
  void oversizedLengthIsRejectedBeforeItsBodyIsAllocatedOrAwaited() throws Exception {
    // Only the length arrives: a reader that waited for the body, or allocated ~2 GiB for it,
    // would hang or fail differently.
    sendAll(new byte[] {0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xf0});
    ProtocolViolationException e =
        assertThrows(ProtocolViolationException.class, () -> frames.read(1 << 20));
    assertEquals(
        "a frame of 2147483632 bytes from tlsd exceeds the limit of 1048576", e.getMessage());
  }

  @Test
  void lengthAboveTwoGibibytesIsRejectedAsUnsigned() throws Exception {
    sendAll(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff});
    ProtocolViolationException e =
        assertThrows(ProtocolViolationException.class, () -> frames.read(Integer.MAX_VALUE - 8));
    assertTrue(e.getMessage().startsWith("a frame of 4294967295 bytes"), e.getMessage());
  }

  @Test
  void frameOfExactlyTheLimitIsAccepted() throws Exception {
    DaemonMessage message = completion(1, payload(1, 100));
    sendAll(concat(frame(message), frame(message)));
    assertEquals(message, frames.read(message.getSerializedSize()));
    assertThrows(
        ProtocolViolationException.class, () -> frames.read(message.getSerializedSize() - 1));
  }

  @Test
  void endOfStreamBetweenFramesIsNull() throws Exception {
    sendAll(concat(frame(completion(1, payload(1, 5))), frame(completion(2, payload(2, 5)))));
    daemonSide.close();
    assertEquals(completion(1, payload(1, 5)), frames.read(MAX_FRAME));
    assertEquals(completion(2, payload(2, 5)), frames.read(MAX_FRAME));
    assertNull(frames.read(MAX_FRAME));
  }

  @Test
  void endOfStreamInsideTheLengthFails() throws Exception {
    sendAll(new byte[] {0, 0});
    daemonSide.close();
    assertThrows(EOFException.class, () -> frames.read(MAX_FRAME));
  }

  @Test
  void endOfStreamInsideTheBodyFails() throws Exception {
    byte[] whole = frame(completion(1, payload(1, 100)));
    sendAll(Arrays.copyOf(whole, whole.length - 1));
    daemonSide.close();
    EOFException e = assertThrows(EOFException.class, () -> frames.read(MAX_FRAME));
    assertEquals("tlsd daemon closed the session in the middle of a frame", e.getMessage());
  }

  @Test
  void endOfStreamInsideALargeFrameFails() throws Exception {
    byte[] whole = frame(completion(1, payload(1, 2 * FrameChannel.READ_BUFFER_BYTES)));
    CompletableFuture<Void> writer = sendAsync(Arrays.copyOf(whole, whole.length - 10));
    CompletableFuture<DaemonMessage> reader =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return frames.read(MAX_FRAME);
              } catch (IOException e) {
                throw new RuntimeException(e);
              }
            },
            threads);
    writer.get(5, TimeUnit.SECONDS);
    daemonSide.close();
    Throwable failure =
        assertThrows(Exception.class, () -> reader.get(5, TimeUnit.SECONDS)).getCause();
    assertTrue(failure.getCause() instanceof EOFException, String.valueOf(failure));
  }

  @Test
  void unparseableFrameIsAProtocolViolation() throws Exception {
    // Field 2 (completion), length-delimited, announcing 5 bytes where 1 follows.
    byte[] body = {0x12, 0x05, 0x01};
    sendAll(concat(new byte[] {0, 0, 0, 3}, body));
    ProtocolViolationException e =
        assertThrows(ProtocolViolationException.class, () -> frames.read(MAX_FRAME));
    assertTrue(e.getMessage().startsWith("unparseable frame from tlsd: "), e.getMessage());
  }

  @Test
  void zeroLengthFrameIsAnEmptyMessage() throws Exception {
    sendAll(new byte[] {0, 0, 0, 0});
    daemonSide.close();
    assertEquals(DaemonMessage.getDefaultInstance(), frames.read(MAX_FRAME));
    assertNull(frames.read(MAX_FRAME));
  }

  // ---- writing ----

  @Test
  void writtenFramesAreLengthPrefixedMessages() throws Exception {
    DataInputStream in = new DataInputStream(Channels.newInputStream(daemonSide));
    for (int size : new int[] {1, 100, 20_000}) {
      ClientMessage message = write(size, payload(size, size));
      frames.write(message);
      assertEquals(message, readFrame(in));
    }
    frames.write(ClientMessage.getDefaultInstance());
    assertEquals(0, in.readInt());
  }

  @Test
  void writeBufferGrowsThenIsReusedAndStaysBoundedAfterAHugeFrame() throws Exception {
    DataInputStream in = new DataInputStream(Channels.newInputStream(daemonSide));
    assertEquals(0, frames.writeBufferCapacity());

    frames.write(write(1, payload(1, 1024)));
    assertEquals(write(1, payload(1, 1024)), readFrame(in));
    assertEquals(FrameChannel.INITIAL_WRITE_BUFFER_BYTES, frames.writeBufferCapacity());

    frames.write(write(2, payload(2, 64 * 1024)));
    assertEquals(write(2, payload(2, 64 * 1024)), readFrame(in));
    assertEquals(128 * 1024, frames.writeBufferCapacity());

    // 3 MiB: several times the retained buffer, streamed through it in chunks.
    ClientMessage huge = write(3, payload(3, 3 << 20));
    CompletableFuture<ClientMessage> received = readFrameAsync(in);
    frames.write(huge);
    assertEquals(huge, received.get(5, TimeUnit.SECONDS));
    assertEquals(FrameChannel.MAX_RETAINED_WRITE_BUFFER_BYTES, frames.writeBufferCapacity());

    frames.write(write(4, payload(4, 10)));
    assertEquals(write(4, payload(4, 10)), readFrame(in));
    assertEquals(FrameChannel.MAX_RETAINED_WRITE_BUFFER_BYTES, frames.writeBufferCapacity());
  }

  @Test
  void framesAroundTheRetainedBufferSizeAreWrittenWhole() throws Exception {
    DataInputStream in = new DataInputStream(Channels.newInputStream(daemonSide));
    int max = FrameChannel.MAX_RETAINED_WRITE_BUFFER_BYTES;
    for (int frameBytes : new int[] {max - 1, max, max + 1, 2 * max, 2 * max + 1}) {
      ClientMessage message = writeOfFrameSize(frameBytes);
      assertEquals(frameBytes, FrameChannel.LENGTH_BYTES + message.getSerializedSize());
      CompletableFuture<ClientMessage> received = readFrameAsync(in);
      frames.write(message);
      assertEquals(message, received.get(5, TimeUnit.SECONDS), "frame of " + frameBytes);
    }
  }

  @Test
  void wrappedArrayMayChangeOnceWriteReturns() throws Exception {
    DataInputStream in = new DataInputStream(Channels.newInputStream(daemonSide));
    for (int size : new int[] {1000, 1 << 20}) {
      byte[] data = payload(7, size);
      ClientMessage message =
          ClientMessage.newBuilder()
              .setRequest(
                  Request.newBuilder()
                      .setOpId(size)
                      .setWrite(
                          Write.newBuilder()
                              .setConnId(1)
                              .setData(UnsafeByteOperations.unsafeWrap(data, 0, size))))
              .build();
      CompletableFuture<ClientMessage> received = readFrameAsync(in);
      frames.write(message);
      Arrays.fill(data, (byte) 0);
      assertEquals(
          ByteString.copyFrom(payload(7, size)),
          received.get(5, TimeUnit.SECONDS).getRequest().getWrite().getData(),
          "write of " + size);
    }
  }

  // ---- helpers ----

  private static byte[] payload(int seed, int size) {
    byte[] data = new byte[size];
    for (int i = 0; i < size; i++) {
      data[i] = (byte) (seed * 31 + i);
    }
    return data;
  }

  private static DaemonMessage completion(long opId, byte[] data) {
    return DaemonMessage.newBuilder()
        .setCompletion(Completion.newBuilder().setOpId(opId).setData(ByteString.copyFrom(data)))
        .build();
  }

  private static ClientMessage write(long opId, byte[] data) {
    return ClientMessage.newBuilder()
        .setRequest(
            Request.newBuilder()
                .setOpId(opId)
                .setWrite(Write.newBuilder().setConnId(1).setData(ByteString.copyFrom(data))))
        .build();
  }

  /** A write request whose frame, length included, is exactly {@code frameBytes} long. */
  private static ClientMessage writeOfFrameSize(int frameBytes) {
    int dataBytes = frameBytes - FrameChannel.LENGTH_BYTES;
    while (true) {
      ClientMessage message = write(1, payload(frameBytes, dataBytes));
      int frame = FrameChannel.LENGTH_BYTES + message.getSerializedSize();
      if (frame == frameBytes) {
        return message;
      }
      dataBytes -= frame - frameBytes;
    }
  }

  private static byte[] frame(DaemonMessage message) {
    byte[] body = message.toByteArray();
    return ByteBuffer.allocate(4 + body.length).putInt(body.length).put(body).array();
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      out.writeBytes(part);
    }
    return out.toByteArray();
  }

  private void sendAll(byte[] bytes) throws IOException {
    ByteBuffer buffer = ByteBuffer.wrap(bytes);
    while (buffer.hasRemaining()) {
      daemonSide.write(buffer);
    }
  }

  /** For more bytes than the socket buffers: the test's thread reads while this writes. */
  private CompletableFuture<Void> sendAsync(byte[] bytes) {
    return CompletableFuture.runAsync(
        () -> {
          try {
            sendAll(bytes);
          } catch (IOException e) {
            throw new RuntimeException(e);
          }
        },
        threads);
  }

  private static ClientMessage readFrame(DataInputStream in) throws IOException {
    byte[] body = new byte[in.readInt()];
    in.readFully(body);
    return ClientMessage.parseFrom(body);
  }

  private CompletableFuture<ClientMessage> readFrameAsync(DataInputStream in) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return readFrame(in);
          } catch (IOException e) {
            throw new RuntimeException(e);
          }
        },
        threads);
  }

  /** Counts the reads that reach the socket. */
  private static final class CountingChannel implements ByteChannel {
    private final SocketChannel delegate;
    int reads;

    CountingChannel(SocketChannel delegate) {
      this.delegate = delegate;
    }

    @Override
    public int read(ByteBuffer destination) throws IOException {
      reads++;
      return delegate.read(destination);
    }

    @Override
    public int write(ByteBuffer source) throws IOException {
      return delegate.write(source);
    }

    @Override
    public boolean isOpen() {
      return delegate.isOpen();
    }

    @Override
    public void close() throws IOException {
      delegate.close();
    }
  }

  /** Serves {@code bytes} at most {@code chunk} bytes per read, then the end of the stream. */
  private static final class ScriptedChannel implements ByteChannel {
    private final ByteBuffer source;
    private final int chunk;

    ScriptedChannel(byte[] bytes, int chunk) {
      this.source = ByteBuffer.wrap(bytes);
      this.chunk = chunk;
    }

    @Override
    public int read(ByteBuffer destination) {
      if (!source.hasRemaining()) {
        return -1;
      }
      int n = Math.min(chunk, Math.min(source.remaining(), destination.remaining()));
      if (n == 0) {
        throw new AssertionError("read() into a full buffer");
      }
      destination.put(source.slice(source.position(), n));
      source.position(source.position() + n);
      return n;
    }

    @Override
    public int write(ByteBuffer source) {
      throw new UnsupportedOperationException();
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() {}
  }
}
