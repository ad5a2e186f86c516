package io.tlsd.sdk.internal;

import io.tlsd.proto.v1.ClientMessage;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.DaemonMessage;
import io.tlsd.proto.v1.Goodbye;
import io.tlsd.proto.v1.Hello;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.RingSlice;
import io.tlsd.proto.v1.Welcome;
import io.tlsd.proto.v1.WriteRing;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsdException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One IPC session with the daemon: the socket, the reader thread that completes operations, and the
 * table of operations waiting for their completion.
 *
 * <pre>{@code
 * Session session = Session.connect(socket, "billing-api", Duration.ofSeconds(5), 0, 0);
 * Operation<Void> barrier = session.submit(
 *     Request.newBuilder().setBarrier(Barrier.newBuilder().setConnId(7)),
 *     completion -> { CompletionDecoder.requireOk(completion); return null; });
 * }</pre>
 *
 * <p>The session ends once, for the first of: {@link #close}, a Goodbye, the socket's end or
 * failure, or a protocol violation. That first cause fails every pending operation and every later
 * submission.
 */
public final class Session {
  static final int PROTOCOL_VERSION = 1;

  private static final System.Logger log = System.getLogger(Session.class.getName());

  /** Bounds the Welcome; it is a few dozen bytes, so anything near this is not tlsd. */
  private static final int MAX_HANDSHAKE_FRAME_BYTES = 64 * 1024;

  /** Room for a completion's envelope (certificates, detail) on top of the announced limits. */
  private static final int FRAME_SLACK_BYTES = 1 << 20;

  /**
   * Writes smaller than this travel in their frame even when the session has a write ring: for
   * them the socket's copies cost less than the ring's bookkeeping.
   */
  static final int RING_MIN_WRITE_BYTES = 8 << 10;

  private final Path socket;
  private final SocketChannel channel;
  private final FrameChannel frames;
  private final Welcome welcome;
  private final int maxIncomingFrameBytes;
  /** The shared-memory write ring, or null when the session has none. */
  private final SharedWriteRing ring;

  /** The shared memory after the ring, for shared buffers; null when the session has none. */
  private final SharedBufferArea buffers;

  /** The daemon's max_frame_bytes as an unsigned value; 0 when it announced none. */
  private final long maxOutgoingFrameBytes;

  private final ReentrantLock writeLock = new ReentrantLock();
  private final AtomicLong nextOpId = new AtomicLong(1);
  private final ConcurrentHashMap<Long, PendingOperation<?>> pending = new ConcurrentHashMap<>();
  private final AtomicReference<TlsdException> closeCause = new AtomicReference<>();
  /**
   * The daemon's Draining (its deadline), or the session's end when that comes first; completed
   * by the reader thread only, as its last step when the session ends, so that callbacks run on
   * that thread, after every pending operation has failed, and never under {@link #writeLock}.
   */
  private final CompletableFuture<Instant> draining = new CompletableFuture<>();
  /** The one view of {@link #draining} handed out: callers cannot complete it. */
  private final CompletionStage<Instant> drainingView = draining.minimalCompletionStage();
  private final Thread reader;

  private Session(
      Path socket, SocketChannel channel, FrameChannel frames, Welcome welcome, SharedWriteRing ring) {
    this.socket = socket;
    this.channel = channel;
    this.frames = frames;
    this.welcome = welcome;
    this.ring = ring;
    this.buffers =
        ring == null || ring.mappedSize() == ring.size()
            ? null
            : new SharedBufferArea(ring, ring.size(), ring.mappedSize() - ring.size());
    long largestAnnounced =
        Math.max(
            Integer.toUnsignedLong(welcome.getLimits().getMaxFrameBytes()),
            Integer.toUnsignedLong(welcome.getLimits().getMaxReadBytes()));
    this.maxIncomingFrameBytes =
        (int) Math.min(Integer.MAX_VALUE - 8, largestAnnounced + FRAME_SLACK_BYTES);
    this.maxOutgoingFrameBytes = Integer.toUnsignedLong(welcome.getLimits().getMaxFrameBytes());
    this.reader = new Thread(this::readLoop, "tlsd-sdk-reader-" + socket);
    this.reader.setDaemon(true);
  }

  /**
   * Connects to the daemon at {@code socket}, says Hello and waits for its Welcome.
   *
   * @param timeout the time allowed for connecting and receiving the Welcome; zero means no limit
   * @param writeRingBytes the shared-memory write ring to ask for (0: none); the session goes on
   *     without one when the daemon makes none or this process cannot map it
   * @param sharedBufferBytes shared memory to ask for on top of the ring, for {@link
   *     #allocateShared} (0: none); when the daemon grants less than both together, the buffers
   *     get theirs first and the ring the rest
   * @throws TlsdException {@link Status#UNAVAILABLE} when the daemon cannot be reached, {@link
   *     Status#TIMED_OUT} when it did not answer in time, or the status of its Goodbye
   */
  public static Session connect(
      Path socket, String appName, Duration timeout, int writeRingBytes, int sharedBufferBytes)
      throws TlsdException {
    if (writeRingBytes < 0) {
      throw new IllegalArgumentException("writeRingBytes < 0");
    }
    if (sharedBufferBytes < 0) {
      throw new IllegalArgumentException("sharedBufferBytes < 0");
    }
    try {
      SharedTmpSocketDirectory.check(socket);
    } catch (IOException e) {
      throw new TlsdException(Status.UNAVAILABLE, "not connecting to tlsd: " + e.getMessage(), e);
    }
    SocketChannel channel;
    try {
      channel = SocketChannel.open(StandardProtocolFamily.UNIX);
    } catch (IOException e) {
      throw new TlsdException(
          Status.UNAVAILABLE, "cannot open a Unix-domain socket: " + e.getMessage(), e);
    }
    // Blocking channels have no read timeout; closing the channel is what unblocks a stuck
    // connect or read, and orTimeout cancels its timer as soon as the handshake completes.
    CompletableFuture<Void> handshake = new CompletableFuture<>();
    if (!timeout.isZero()) {
      handshake
          .orTimeout(saturatedMillis(timeout), TimeUnit.MILLISECONDS)
          .whenComplete(
              (ignored, failure) -> {
                if (failure != null) {
                  closeQuietly(channel);
                }
              });
    }
    boolean connected = false;
    try {
      try {
        channel.connect(UnixDomainSocketAddress.of(socket));
      } catch (IOException e) {
        if (handshake.isCompletedExceptionally()) {
          throw timedOut(socket, timeout, e);
        }
        if (String.valueOf(e.getMessage()).toLowerCase(java.util.Locale.ROOT).contains("permission denied")) {
          throw new TlsdException(
              Status.UNAUTHORIZED,
              "cannot reach tlsd at "
                  + socket
                  + ": permission denied: this process's user may not open the socket (mode 0660:"
                  + " run as the daemon's user or a member of its group)",
              e);
        }
        throw new TlsdException(
            Status.UNAVAILABLE,
            "cannot reach tlsd at " + socket + ": " + describe(e) + " — is `tlsd client` running?",
            e);
      }
      try {
        SharedTmpSocketDirectory.checkPeer(socket, channel);
      } catch (IOException e) {
        throw new TlsdException(Status.UNAVAILABLE, "not talking to tlsd: " + e.getMessage(), e);
      }
      FrameChannel frames = new FrameChannel(channel);
      frames.write(
          ClientMessage.newBuilder()
              .setHello(
                  Hello.newBuilder()
                      .setProtocolVersion(PROTOCOL_VERSION)
                      .setAppName(appName)
                      .setWriteRingBytes(
                          (int) Math.min(Integer.MAX_VALUE, (long) writeRingBytes + sharedBufferBytes)))
              .build());
      Welcome welcome = awaitWelcome(socket, frames);
      if (!handshake.complete(null)) {
        throw timedOut(socket, timeout, null);
      }
      // Mapped before any request: the daemon removes the file's name at the first one.
      SharedWriteRing ring =
          welcome.hasWriteRing()
              ? mapRing(socket, welcome.getWriteRing(), sharedBufferBytes)
              : null;
      Session session = new Session(socket, channel, frames, welcome, ring);
      session.reader.start();
      connected = true;
      return session;
    } catch (TlsdException e) {
      throw e;
    } catch (ProtocolViolationException e) {
      throw new TlsdException(
          Status.INTERNAL, e.getMessage() + " (is " + socket + " a tlsd socket?)", e);
    } catch (IOException e) {
      if (handshake.isCompletedExceptionally()) {
        throw timedOut(socket, timeout, e);
      }
      throw new TlsdException(
          Status.UNAVAILABLE,
          "lost the session with tlsd at " + socket + " during the handshake: " + describe(e),
          e);
    } finally {
      handshake.complete(null);
      if (!connected) {
        closeQuietly(channel);
      }
    }
  }

  private static Welcome awaitWelcome(Path socket, FrameChannel frames) throws IOException {
    DaemonMessage reply = frames.read(MAX_HANDSHAKE_FRAME_BYTES);
    if (reply == null) {
      throw new TlsdException(
          Status.UNAVAILABLE,
          "tlsd daemon at " + socket + " closed the session before its Welcome");
    }
    switch (reply.getKindCase()) {
      case WELCOME:
        Welcome welcome = reply.getWelcome();
        if (welcome.getProtocolVersion() != PROTOCOL_VERSION) {
          throw new TlsdException(
              Status.INTERNAL,
              "tlsd at "
                  + socket
                  + " speaks protocol version "
                  + welcome.getProtocolVersion()
                  + ", this SDK speaks "
                  + PROTOCOL_VERSION);
        }
        return welcome;
      case GOODBYE:
        throw goodbyeFailure(reply.getGoodbye());
      default:
        throw new ProtocolViolationException(
            "expected a Welcome from tlsd, got " + reply.getKindCase());
    }
  }

  private static SharedWriteRing mapRing(Path socket, WriteRing announced, int sharedBufferBytes) {
    try {
      int granted = announced.getSize();
      return SharedWriteRing.map(
          Path.of(announced.getPath()),
          granted,
          granted - sharedShare(granted, sharedBufferBytes));
    } catch (IOException | RuntimeException e) {
      // Another mount namespace, other permissions: the socket carries the writes instead.
      log.log(
          Level.INFO,
          "tlsd at {0} offered a write ring this process cannot map, writes go through the"
              + " socket: {1}",
          socket,
          e.toString());
      return null;
    }
  }

  /**
   * The bytes of a granted shared memory of {@code granted} bytes that go to shared buffers: what
   * was asked for them, as far as the daemon granted it; the ring gets the rest.
   */
  static int sharedShare(int granted, int sharedBufferBytes) {
    return Math.max(0, Math.min(granted, sharedBufferBytes));
  }

  /** The size of the shared-memory write ring in use, 0 when there is none. */
  public int writeRingBytes() {
    return ring == null ? 0 : ring.size();
  }

  /** The daemon's Welcome: its version, role and limits. */
  public Welcome welcome() {
    return welcome;
  }

  /** The path of the daemon's socket. */
  public Path socket() {
    return socket;
  }

  /**
   * Sends {@code request} with the next op id and returns its operation; {@code decoder} runs on
   * the reader thread when the completion arrives. Never throws for a closed session: the operation
   * is then already failed with the session's end cause.
   *
   * <p>The request has been serialised and every byte of it copied out of its fields (into the
   * socket or the session's own write buffer) when this method returns, and the session keeps no
   * reference to it or to the message built from it. So {@code request} may carry a {@code bytes}
   * field that wraps the caller's array without a copy ({@code UnsafeByteOperations.unsafeWrap}),
   * as long as the array does not change during the call; the caller may reuse it afterwards.
   */
  public <T> Operation<T> submit(Request.Builder request, CompletionDecoder<T> decoder) {
    writeLock.lock();
    try {
      TlsdException cause = closeCause.get();
      if (cause != null) {
        return PendingOperation.failed(0, copy(cause));
      }
      // Ids are taken under the write lock so that they reach the daemon in increasing order.
      long id = nextOpId.getAndIncrement();
      // Lives only until this method returns: see the zero-copy contract above.
      ClientMessage message = ClientMessage.newBuilder().setRequest(request.setOpId(id)).build();
      if (maxOutgoingFrameBytes != 0 && message.getSerializedSize() > maxOutgoingFrameBytes) {
        return PendingOperation.failed(
            id,
            new TlsdException(
                Status.LIMIT_EXCEEDED,
                "request of "
                    + message.getSerializedSize()
                    + " bytes exceeds the daemon's max_frame_bytes of "
                    + maxOutgoingFrameBytes));
      }
      PendingOperation<T> operation = new PendingOperation<>(this, id, decoder);
      pending.put(id, operation);
      // close() sets the cause before draining the table: re-checking after the put means that
      // either the drain sees this op or this check sees the cause.
      cause = closeCause.get();
      if (cause != null) {
        failPending(id, cause);
        return operation;
      }
      try {
        // Synchronous: the whole frame is on the socket, or in the frame channel's own buffer,
        // before this returns, which is what lets callers wrap their arrays without a copy.
        frames.write(message);
      } catch (IOException e) {
        // Fails this operation too: it is already in the table.
        shutdown(
            new TlsdException(
                Status.UNAVAILABLE, "cannot send to tlsd at " + socket + ": " + describe(e), e));
      } catch (RuntimeException e) {
        // Part of the frame may be on the wire already: the stream cannot be trusted any more.
        shutdown(
            new TlsdException(Status.INTERNAL, "cannot serialise a request for tlsd: " + e, e));
      }
      return operation;
    } finally {
      writeLock.unlock();
    }
  }

  /**
   * Sends a WRITE of {@code data[offset, offset + length)}: {@code request} names the connection
   * (its {@code write.data} is left empty), the bytes go through the write ring when the session
   * has one with room, else in the frame. Either way they have been copied when this returns, so
   * the caller may reuse the array. Never throws for a closed session (see {@link #submit}).
   */
  public <T> Operation<T> submitWrite(
      Request.Builder request, byte[] data, int offset, int length, CompletionDecoder<T> decoder) {
    return submitWrite(request, ByteBuffer.wrap(data, offset, length), decoder);
  }

  /**
   * {@link #submitWrite(Request.Builder, byte[], int, int, CompletionDecoder)} of the bytes
   * between {@code data}'s position and limit, heap or direct; {@code data} itself is left as it
   * is (the caller moves its position).
   */
  public <T> Operation<T> submitWrite(
      Request.Builder request, ByteBuffer data, CompletionDecoder<T> decoder) {
    int length = data.remaining();
    if (ring == null || length < RING_MIN_WRITE_BYTES) {
      return submitInFrame(request, data, decoder);
    }
    // Under the write lock, which shutdown() takes to unmap the ring: no copy into an unmapped
    // ring, and the ring's order of regions is the order of the requests on the socket.
    writeLock.lock();
    try {
      SharedWriteRing.Region region = closeCause.get() == null ? ring.allocate(length) : null;
      if (region == null) {
        return submitInFrame(request, data, decoder);
      }
      ring.put(region, data);
      request
          .getWriteBuilder()
          .setRing(RingSlice.newBuilder().setOffset(region.offset()).setLength(length));
      // Every completion, whatever its status, means the daemon is done with the region. (A
      // session that ends without one takes the ring with it.)
      return submit(
          request,
          completion -> {
            ring.free(region);
            return decoder.decode(completion);
          });
    } finally {
      writeLock.unlock();
    }
  }

  /**
   * A block of {@code length} bytes of the shared memory for a shared buffer, or null when the
   * session has no such memory, not that much free, or has ended.
   */
  public SharedBufferArea.Block allocateShared(int length) {
    if (buffers == null || closeCause.get() != null) {
      return null;
    }
    return buffers.allocate(length);
  }

  /**
   * Sends a WRITE of {@code block}'s bytes {@code [offset, offset + length)} as they are in the
   * shared memory, without copying them: the daemon reads them when the write starts, so they
   * must not change until its completion. A write shorter than {@link #RING_MIN_WRITE_BYTES}
   * travels in its frame instead (copied before this returns), as with the ring. Never throws for
   * a closed session (see {@link #submit}).
   *
   * @throws IllegalStateException if the block was closed
   */
  public <T> Operation<T> submitSharedWrite(
      Request.Builder request,
      SharedBufferArea.Block block,
      int offset,
      int length,
      CompletionDecoder<T> decoder) {
    // Counted while the daemon may read the bytes: a close meanwhile keeps the space taken.
    block.retain();
    if (length < RING_MIN_WRITE_BYTES) {
      try {
        return submitInFrame(request, block.bytes(offset, length), decoder);
      } finally {
        block.release();
      }
    }
    // Released by the completion, whatever its status. An operation failed by the session's end
    // gets none and keeps the block counted, which no longer matters: the area is not used again
    // after the session's end.
    request
        .getWriteBuilder()
        .setRing(RingSlice.newBuilder().setOffset(block.offset() + offset).setLength(length));
    return submit(
        request,
        completion -> {
          block.release();
          return decoder.decode(completion);
        });
  }

  private <T> Operation<T> submitInFrame(
      Request.Builder request, ByteBuffer data, CompletionDecoder<T> decoder) {
    // submit() copies the wrapped bytes into the frame before it returns
    ByteString bytes =
        data.hasArray()
            ? UnsafeByteOperations.unsafeWrap(
                data.array(), data.arrayOffset() + data.position(), data.remaining())
            : UnsafeByteOperations.unsafeWrap(data.slice());
    request.getWriteBuilder().setData(bytes);
    return submit(request, decoder);
  }

  /**
   * Completes when the daemon says it drains, with about when it will close what the session
   * still holds; or exceptionally with the session's end, if that comes first. Always the same
   * stage; completed on the reader thread.
   */
  public CompletionStage<Instant> draining() {
    return drainingView;
  }

  /** True once the daemon said it drains. */
  public boolean isDraining() {
    return draining.isDone() && !draining.isCompletedExceptionally();
  }

  /** True once the session has ended, for whatever reason. */
  public boolean isClosed() {
    return closeCause.get() != null;
  }

  /**
   * Ends the session: fails every pending operation with {@code status} and {@code detail}, closes
   * the socket and waits briefly for the reader thread to stop. Only the first end of the session
   * counts; later calls change nothing.
   */
  public void close(Status status, String detail) {
    shutdown(new TlsdException(status, detail));
    if (Thread.currentThread() != reader) {
      try {
        reader.join(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  boolean isReaderThread() {
    return Thread.currentThread() == reader;
  }

  private void shutdown(TlsdException cause) {
    if (!closeCause.compareAndSet(null, cause)) {
      return;
    }
    log.log(Level.DEBUG, "session with tlsd at {0} ended: {1}", socket, cause.getMessage());
    closeQuietly(channel);
    for (Long id : pending.keySet()) {
      failPending(id, cause);
    }
    if (ring != null) {
      // Its memory now, not when a GC finds the mapping unreachable; writers check the cause
      // (already set) under the same lock before they touch the ring.
      writeLock.lock();
      try {
        ring.unmap();
      } finally {
        writeLock.unlock();
      }
    }
  }

  private void failPending(long id, TlsdException cause) {
    PendingOperation<?> operation = pending.remove(id);
    if (operation != null) {
      operation.fail(copy(cause));
    }
  }

  private void readLoop() {
    try {
      readUntilTheEnd();
    } finally {
      // Every way out of the loop ended the session first; callbacks run after that, here.
      TlsdException cause = closeCause.get();
      draining.completeExceptionally(
          cause != null
              ? copy(cause)
              : new TlsdException(Status.INTERNAL, "tlsd SDK reader thread ended"));
    }
  }

  private void readUntilTheEnd() {
    try {
      while (true) {
        DaemonMessage message = frames.read(maxIncomingFrameBytes);
        if (message == null) {
          shutdown(new TlsdException(Status.UNAVAILABLE, "tlsd daemon closed the session"));
          return;
        }
        switch (message.getKindCase()) {
          case COMPLETION:
            deliver(message.getCompletion());
            break;
          case GOODBYE:
            shutdown(goodbyeFailure(message.getGoodbye()));
            return;
          case DRAINING:
            draining.complete(deadline(message.getDraining().getMillisLeft()));
            break;
          case WELCOME:
            throw new ProtocolViolationException("protocol violation: a second Welcome from tlsd");
          case KIND_NOT_SET:
            // A newer daemon may send kinds this SDK does not know; they are safe to skip.
            log.log(Level.WARNING, "ignoring a message of unknown kind from tlsd at {0}", socket);
            break;
          default:
            throw new AssertionError("unexpected kind: " + message.getKindCase());
        }
      }
    } catch (ProtocolViolationException e) {
      shutdown(new TlsdException(Status.INTERNAL, e.getMessage(), e));
    } catch (IOException e) {
      // After close() the channel's failure is expected and the cause is already recorded.
      shutdown(
          new TlsdException(
              Status.UNAVAILABLE,
              "lost the session with tlsd at " + socket + ": " + describe(e),
              e));
    } catch (RuntimeException | Error e) {
      shutdown(new TlsdException(Status.INTERNAL, "tlsd SDK reader thread failed: " + e, e));
      throw e;
    }
  }

  private void deliver(Completion completion) {
    PendingOperation<?> operation = pending.remove(completion.getOpId());
    if (operation == null) {
      log.log(
          Level.WARNING,
          "ignoring a completion for unknown op_id {0} from tlsd at {1}",
          Long.toUnsignedString(completion.getOpId()),
          socket);
      return;
    }
    operation.complete(completion);
  }

  private static TlsdException goodbyeFailure(Goodbye goodbye) {
    Status status = ProtoStatus.toSdk(goodbye.getStatus());
    String detail =
        goodbye.getDetail().isEmpty() ? "tlsd daemon ended the session" : goodbye.getDetail();
    // A Goodbye always ends the session, so even an "OK" one leaves the daemon unavailable.
    return new TlsdException(status == Status.OK ? Status.UNAVAILABLE : status, detail);
  }

  /** Now plus the daemon's {@code millis_left} (an unsigned value), saturated. */
  private static Instant deadline(long millisLeft) {
    // even Long.MAX_VALUE ms from now is within Instant's range
    return millisLeft < 0 ? Instant.MAX : Instant.now().plusMillis(millisLeft);
  }

  private static TlsdException timedOut(Path socket, Duration timeout, IOException cause) {
    return new TlsdException(
        Status.TIMED_OUT,
        "no Welcome from tlsd at " + socket + " within " + saturatedMillis(timeout) + " ms",
        cause);
  }

  /** Each operation gets its own exception: callers may add suppressed exceptions to it. */
  private static TlsdException copy(TlsdException cause) {
    return new TlsdException(cause.status(), cause.detail(), cause.getCause());
  }

  /** "Connection refused" → "connection refused", to sit inside a sentence. */
  private static String describe(IOException e) {
    String message = e.getMessage();
    if (message == null || message.isEmpty()) {
      return e.getClass().getSimpleName();
    }
    return Character.toLowerCase(message.charAt(0)) + message.substring(1);
  }

  private static long saturatedMillis(Duration duration) {
    try {
      return duration.toMillis();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  private static void closeQuietly(SocketChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      log.log(Level.DEBUG, "closing the tlsd socket failed", e);
    }
  }
}
