package io.tlsd.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.google.protobuf.ByteString;
import io.tlsd.proto.v1.ClientMessage;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.DaemonMessage;
import io.tlsd.proto.v1.Goodbye;
import io.tlsd.proto.v1.Hello;
import io.tlsd.proto.v1.Limits;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Status;
import io.tlsd.proto.v1.Welcome;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A scripted tlsd: serves the IPC socket in a temp dir, records what the SDK sends, answers Hello
 * automatically and, unless a responder is set, leaves requests for the test to answer.
 */
final class FakeDaemon implements AutoCloseable {
  static final Limits DEFAULT_LIMITS =
      Limits.newBuilder()
          .setMaxFrameBytes(1 << 20)
          .setMaxReadBytes(65536)
          .setMaxOpsInFlight(64)
          .setMaxQueuedWriteBytes(4L << 20)
          .setMaxConnections(16)
          .setMaxWriteBytes(16384)
          .build();

  final Path socket;
  private final ServerSocketChannel server;
  private final BlockingQueue<Hello> hellos = new LinkedBlockingQueue<>();
  private final BlockingQueue<Request> requests = new LinkedBlockingQueue<>();
  private final Thread acceptor;
  private volatile SocketChannel session;
  private volatile Function<Hello, DaemonMessage> onHello;
  private volatile Function<Request, List<Completion>> responder;

  FakeDaemon(Path dir) throws IOException {
    this(dir, DEFAULT_LIMITS);
  }

  FakeDaemon(Path dir, Limits limits) throws IOException {
    this.socket = dir.resolve("tlsd.sock");
    this.onHello =
        hello ->
            DaemonMessage.newBuilder()
                .setWelcome(
                    Welcome.newBuilder()
                        .setProtocolVersion(1)
                        .setDaemonVersion("tlsd 0.1.0-fake")
                        .setRole("client")
                        .setLimits(limits))
                .build();
    this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    this.acceptor = new Thread(this::acceptLoop, "fake-tlsd-acceptor");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** What to answer a Hello with; null sends nothing. */
  FakeDaemon onHello(Function<Hello, DaemonMessage> onHello) {
    this.onHello = onHello;
    return this;
  }

  /** Answers every later request at once instead of queueing it for the test. */
  FakeDaemon respondWith(Function<Request, List<Completion>> responder) {
    this.responder = responder;
    return this;
  }

  private void acceptLoop() {
    try {
      while (true) {
        SocketChannel channel = server.accept();
        session = channel;
        Thread serve = new Thread(() -> serve(channel), "fake-tlsd-session");
        serve.setDaemon(true);
        serve.start();
      }
    } catch (IOException e) {
      // closed by close()
    }
  }

  private void serve(SocketChannel channel) {
    try (DataInputStream in = new DataInputStream(Channels.newInputStream(channel))) {
      while (true) {
        byte[] frame = new byte[in.readInt()];
        in.readFully(frame);
        ClientMessage message = ClientMessage.parseFrom(frame);
        if (message.hasHello()) {
          hellos.add(message.getHello());
          DaemonMessage reply = onHello.apply(message.getHello());
          if (reply != null) {
            send(reply);
          }
        } else {
          requests.add(message.getRequest());
          Function<Request, List<Completion>> current = responder;
          if (current != null) {
            for (Completion completion : current.apply(message.getRequest())) {
              complete(completion);
            }
          }
        }
      }
    } catch (EOFException e) {
      // the client went away
    } catch (IOException e) {
      // closed by the test
    }
  }

  Hello awaitHello() throws InterruptedException {
    Hello hello = hellos.poll(5, TimeUnit.SECONDS);
    assertNotNull(hello, "no Hello within 5 s");
    return hello;
  }

  Request nextRequest() throws InterruptedException {
    Request request = requests.poll(5, TimeUnit.SECONDS);
    assertNotNull(request, "no request within 5 s");
    return request;
  }

  /** Asserts that nothing more arrives for a short while. */
  void assertNoRequest() throws InterruptedException {
    assertNull(requests.poll(50, TimeUnit.MILLISECONDS));
  }

  void complete(Completion completion) throws IOException {
    send(DaemonMessage.newBuilder().setCompletion(completion).build());
  }

  void complete(long opId, Status status, String detail) throws IOException {
    complete(Completion.newBuilder().setOpId(opId).setStatus(status).setDetail(detail).build());
  }

  void completeOk(long opId) throws IOException {
    complete(opId, Status.OK, "");
  }

  void completeData(long opId, byte[] data) throws IOException {
    complete(Completion.newBuilder().setOpId(opId).setData(ByteString.copyFrom(data)).build());
  }

  void goodbye(Status status, String detail) throws IOException {
    send(
        DaemonMessage.newBuilder()
            .setGoodbye(Goodbye.newBuilder().setStatus(status).setDetail(detail))
            .build());
  }

  void send(DaemonMessage message) throws IOException {
    byte[] body = message.toByteArray();
    sendRaw(ByteBuffer.allocate(4 + body.length).putInt(body.length).put(body).array());
  }

  synchronized void sendRaw(byte[] bytes) throws IOException {
    ByteBuffer buffer = ByteBuffer.wrap(bytes);
    while (buffer.hasRemaining()) {
      session.write(buffer);
    }
  }

  /** Drops the current session's socket without a Goodbye, like a crashed daemon. */
  void dropSession() throws IOException {
    session.close();
  }

  static void assertOpId(long expected, Request request) {
    assertEquals(expected, request.getOpId(), "op_id");
  }

  @Override
  public void close() throws IOException, InterruptedException {
    server.close();
    // A blocked accept() keeps the listening socket alive in the kernel until it returns.
    acceptor.join(5000);
    SocketChannel current = session;
    if (current != null) {
      current.close();
    }
  }
}
