package io.tlsd.sdk;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.ConnectionInfo;
import io.tlsd.proto.v1.Limits;
import io.tlsd.proto.v1.Request;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConnectionStreamsTest {
  @TempDir Path dir;
  FakeDaemon daemon;
  TlsdClient client;

  @AfterEach
  void stop() throws Exception {
    if (client != null) {
      client.close();
    }
    if (daemon != null) {
      daemon.close();
    }
  }

  /** Connects to a daemon whose responder opens connection 7 and hands other requests on. */
  TlsConnection open(Limits limits, java.util.function.Function<Request, List<Completion>> others)
      throws Exception {
    daemon =
        new FakeDaemon(dir, limits)
            .respondWith(
                request -> {
                  if (request.hasOpen()) {
                    return List.of(
                        Completion.newBuilder()
                            .setOpId(request.getOpId())
                            .setConnection(ConnectionInfo.newBuilder().setConnId(7))
                            .build());
                  }
                  return others.apply(request);
                });
    client =
        TlsdClient.builder().socket(daemon.socket).connectTimeout(Duration.ofSeconds(2)).build();
    TlsConnection conn = client.open("example.test", 443).await(Duration.ofSeconds(5));
    daemon.nextRequest(); // the open
    return conn;
  }

  static Completion ok(Request request) {
    return Completion.newBuilder().setOpId(request.getOpId()).build();
  }

  static Completion failed(Request request, io.tlsd.proto.v1.Status status, String detail) {
    return Completion.newBuilder()
        .setOpId(request.getOpId())
        .setStatus(status)
        .setDetail(detail)
        .build();
  }

  @Test
  void inputStreamReadsUntilEndOfStream() throws Exception {
    Queue<String> chunks = new ArrayDeque<>(List.of("hello ", "tls ", "world"));
    TlsConnection conn =
        open(
            FakeDaemon.DEFAULT_LIMITS,
            request -> {
              String chunk = chunks.poll();
              if (chunk == null) {
                return List.of(failed(request, io.tlsd.proto.v1.Status.EOF, ""));
              }
              return List.of(
                  Completion.newBuilder()
                      .setOpId(request.getOpId())
                      .setData(ByteString.copyFromUtf8(chunk))
                      .build());
            });
    InputStream in = conn.inputStream();
    assertSame(in, conn.inputStream());

    assertEquals('h', in.read());
    byte[] rest = in.readAllBytes();
    assertEquals("ello tls world", new String(rest, UTF_8));
    assertEquals(-1, in.read());
    assertEquals(-1, in.read(new byte[4], 0, 4));

    List<Request> reads = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      reads.add(daemon.nextRequest());
    }
    for (Request read : reads) {
      assertEquals(7, read.getRead().getConnId());
      assertEquals(65536, read.getRead().getMaxBytes());
    }
    daemon.assertNoRequest(); // the end of stream is remembered, not asked again
  }

  @Test
  void inputStreamReportsFailuresAsTlsdException() throws Exception {
    TlsConnection conn =
        open(
            FakeDaemon.DEFAULT_LIMITS,
            request ->
                List.of(
                    failed(request, io.tlsd.proto.v1.Status.CONNECTION_RESET, "no close_notify")));
    IOException e = assertThrows(IOException.class, () -> conn.inputStream().read());
    assertTrue(e instanceof TlsdException, e.toString());
    assertEquals(Status.CONNECTION_RESET, ((TlsdException) e).status());
    assertEquals("no close_notify", ((TlsdException) e).detail());
  }

  @Test
  void closedInputStreamRefusesToRead() throws Exception {
    TlsConnection conn = open(FakeDaemon.DEFAULT_LIMITS, request -> List.of());
    InputStream in = conn.inputStream();
    in.close();
    assertEquals("stream closed", assertThrows(IOException.class, in::read).getMessage());
  }

  @Test
  void outputStreamSplitsWritesByMaxWriteBytesAndHalfClosesOnClose() throws Exception {
    Limits tiny = FakeDaemon.DEFAULT_LIMITS.toBuilder().setMaxWriteBytes(4).build();
    TlsConnection conn =
        open(
            tiny,
            request ->
                List.of(
                    request.hasWrite()
                        ? Completion.newBuilder()
                            .setOpId(request.getOpId())
                            .setBytesWritten(request.getWrite().getData().size())
                            .build()
                        : ok(request)));
    byte[] payload = "0123456789".getBytes(UTF_8);
    OutputStream out = conn.outputStream();
    assertSame(out, conn.outputStream());
    out.write(payload);
    out.write('!');
    out.close();
    out.close(); // a second close sends nothing

    List<Integer> sizes = new ArrayList<>();
    ByteArrayOutputStream sent = new ByteArrayOutputStream();
    for (int i = 0; i < 4; i++) {
      Request write = daemon.nextRequest();
      assertEquals(7, write.getWrite().getConnId());
      sizes.add(write.getWrite().getData().size());
      write.getWrite().getData().writeTo(sent);
    }
    assertEquals(List.of(4, 4, 2, 1), sizes);
    assertEquals("0123456789!", sent.toString(UTF_8));
    Request close = daemon.nextRequest();
    assertTrue(close.getClose().getWriteSideOnly());
    assertEquals(7, close.getClose().getConnId());
    daemon.assertNoRequest();
    assertEquals("stream closed", assertThrows(IOException.class, () -> out.write(1)).getMessage());
  }

  @Test
  void outputStreamKeepsAtMostEightWritesInFlight() throws Exception {
    Limits tiny = FakeDaemon.DEFAULT_LIMITS.toBuilder().setMaxWriteBytes(1).build();
    TlsConnection conn = open(tiny, request -> List.of()); // the test answers
    OutputStream out = conn.outputStream();
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(
            () -> {
              try {
                out.write(new byte[10]);
                out.flush();
              } catch (IOException e) {
                throw new RuntimeException(e);
              }
            });
    List<Request> first = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      first.add(daemon.nextRequest());
    }
    daemon.assertNoRequest(); // the ninth waits for a completion
    daemon.complete(ok(first.get(0)).toBuilder().setBytesWritten(1).build());
    Request ninth = daemon.nextRequest();
    daemon.assertNoRequest();
    daemon.complete(ok(first.get(1)).toBuilder().setBytesWritten(1).build());
    Request tenth = daemon.nextRequest();
    assertFalse(writer.isDone()); // flush waits for all of them
    for (Request request : first.subList(2, 8)) {
      daemon.complete(ok(request).toBuilder().setBytesWritten(1).build());
    }
    daemon.complete(ok(ninth).toBuilder().setBytesWritten(1).build());
    daemon.complete(ok(tenth).toBuilder().setBytesWritten(1).build());
    writer.get(5, TimeUnit.SECONDS);
  }

  @Test
  void outputStreamSurfacesAWriteFailureOnFlushAndAfterwards() throws Exception {
    TlsConnection conn = open(FakeDaemon.DEFAULT_LIMITS, request -> List.of()); // the test answers
    OutputStream out = conn.outputStream();
    out.write(new byte[] {1, 2, 3}); // returns before the daemon answered
    Request write = daemon.nextRequest();
    daemon.complete(failed(write, io.tlsd.proto.v1.Status.CLOSED, "connection closed"));
    TlsdException onFlush = assertThrows(TlsdException.class, out::flush);
    assertEquals(Status.CLOSED, onFlush.status());
    TlsdException onWrite = assertThrows(TlsdException.class, () -> out.write(4));
    assertEquals(Status.CLOSED, onWrite.status());
    assertThrows(TlsdException.class, out::close);
    daemon.assertNoRequest(); // a broken stream sends neither writes nor the half-close
  }

  @Test
  void streamsCarryBinaryDataUnchanged() throws Exception {
    byte[] data = new byte[256];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) i;
    }
    Queue<Completion> reads = new ArrayDeque<>();
    TlsConnection conn =
        open(
            FakeDaemon.DEFAULT_LIMITS,
            request -> {
              if (request.hasWrite()) {
                // Echo what was written back to the next read, then end the stream.
                reads.add(Completion.newBuilder().setData(request.getWrite().getData()).build());
                return List.of(
                    Completion.newBuilder()
                        .setOpId(request.getOpId())
                        .setBytesWritten(request.getWrite().getData().size())
                        .build());
              }
              if (request.hasRead()) {
                Completion next = reads.poll();
                return List.of(
                    next == null
                        ? failed(request, io.tlsd.proto.v1.Status.EOF, "")
                        : next.toBuilder().setOpId(request.getOpId()).build());
              }
              return List.of(ok(request));
            });
    conn.outputStream().write(data);
    conn.outputStream().flush();
    assertArrayEquals(data, conn.inputStream().readAllBytes());
  }
}
