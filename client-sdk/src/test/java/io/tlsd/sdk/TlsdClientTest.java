package io.tlsd.sdk;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.DaemonMessage;
import io.tlsd.proto.v1.Draining;
import io.tlsd.proto.v1.Goodbye;
import io.tlsd.proto.v1.Hello;
import io.tlsd.proto.v1.Request;
import java.io.ByteArrayOutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsdClientTest {
  /** A self-signed EC certificate for CN=example.test, O=tlsd tests. */
  static final String CERTIFICATE_BASE64 =
      "MIIBcjCCARigAwIBAgIJAIw25TFK+H1QMAoGCCqGSM49BAMCMCwxEzARBgNVBAoT"
          + "CnRsc2QgdGVzdHMxFTATBgNVBAMTDGV4YW1wbGUudGVzdDAgFw0yNjExMjUxNTMw"
          + "MjdaGA8yMTI2MTEwMTE1MzAyN1owLDETMBEGA1UEChMKdGxzZCB0ZXN0czEVMBMG"
          + "A1UEAxMMZXhhbXBsZS50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJAno"
          + "hX4rtz2tA57dY8Ff3o/UqtsSqnhrsF5w5Jow8cZeBfScx72IidTA6uYZjcIez1vs"
          + "Zr5CwamRaDSoX/MQlaMhMB8wHQYDVR0OBBYEFMZa7OXNI6lQ7Yev57lmzdyAnkJE"
          + "MAoGCCqGSM49BAMCA0gAMEUCID17vhwTxrlNO8o/UJo64NKeWcxtMi+6hx42e761"
          + "iOqTAiEAn5hotH9DwWzja2Kbctp0MARAl0Kt7fti4MOPC+LKcFI=";

  @TempDir Path dir;
  FakeDaemon daemon;
  TlsdClient client;

  @BeforeEach
  void startDaemon() throws Exception {
    daemon = new FakeDaemon(dir);
  }

  @AfterEach
  void stop() throws Exception {
    if (client != null) {
      client.close();
    }
    daemon.close();
  }

  TlsdClient connect() throws Exception {
    client =
        TlsdClient.builder()
            .socket(daemon.socket)
            .appName("billing-api")
            .connectTimeout(Duration.ofSeconds(2))
            .build();
    return client;
  }

  TlsConnection openConnection(long connId) throws Exception {
    Operation<TlsConnection> open = client.open("example.test", 443);
    Request request = daemon.nextRequest();
    daemon.complete(
        Completion.newBuilder()
            .setOpId(request.getOpId())
            .setConnection(io.tlsd.proto.v1.ConnectionInfo.newBuilder().setConnId(connId))
            .build());
    return open.await(Duration.ofSeconds(5));
  }

  @Test
  void handshakeSendsHelloAndExposesWelcome() throws Exception {
    connect();
    Hello hello = daemon.awaitHello();
    assertEquals(1, hello.getProtocolVersion());
    assertEquals("billing-api", hello.getAppName());
    assertEquals("tlsd 0.1.0-fake", client.daemonVersion());
    assertEquals("client", client.role());
    assertEquals(new Limits(1 << 20, 65536, 64, 4L << 20, 16, 16384), client.limits());
    assertFalse(client.isClosed());
  }

  @Test
  void buildFailsWithUnavailableNamingTheSocketWhenNoDaemonListens() {
    Path missing = dir.resolve("missing.sock");
    TlsdException e =
        assertThrows(TlsdException.class, () -> TlsdClient.builder().socket(missing).build());
    assertEquals(Status.UNAVAILABLE, e.status());
    assertTrue(e.detail().startsWith("cannot reach tlsd at " + missing + ": "), e.detail());
    assertTrue(e.detail().endsWith("is `tlsd client` running?"), e.detail());
  }

  @Test
  void buildFailsWithConnectionRefusedOnAStaleSocket() throws Exception {
    // A daemon that died without removing its socket: the file stays, nobody listens.
    Path stale = dir.resolve("stale.sock");
    ServerSocketChannel.open(StandardProtocolFamily.UNIX)
        .bind(UnixDomainSocketAddress.of(stale))
        .close();
    TlsdException e =
        assertThrows(TlsdException.class, () -> TlsdClient.builder().socket(stale).build());
    assertEquals(Status.UNAVAILABLE, e.status());
    assertEquals(
        "cannot reach tlsd at " + stale + ": connection refused — is `tlsd client` running?",
        e.detail());
  }

  @Test
  void buildFailsWithTheGoodbyeStatus() {
    daemon.onHello(
        hello ->
            DaemonMessage.newBuilder()
                .setGoodbye(
                    Goodbye.newBuilder()
                        .setStatus(io.tlsd.proto.v1.Status.UNAUTHORIZED)
                        .setDetail("uid 1000 is not allowed"))
                .build());
    TlsdException e = assertThrows(TlsdException.class, this::connect);
    assertEquals(Status.UNAUTHORIZED, e.status());
    assertEquals("uid 1000 is not allowed", e.detail());
    assertEquals("UNAUTHORIZED: uid 1000 is not allowed", e.getMessage());
  }

  @Test
  void buildTimesOutWhenNoWelcomeArrives() {
    daemon.onHello(hello -> null);
    long start = System.nanoTime();
    TlsdException e =
        assertThrows(
            TlsdException.class,
            () ->
                TlsdClient.builder()
                    .socket(daemon.socket)
                    .connectTimeout(Duration.ofMillis(200))
                    .build());
    long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals(Status.TIMED_OUT, e.status());
    assertTrue(e.detail().contains(daemon.socket.toString()), e.detail());
    assertTrue(elapsedMillis >= 150 && elapsedMillis < 3000, "took " + elapsedMillis + " ms");
  }

  @Test
  void openSendsOptionsAndMapsConnectionInfo() throws Exception {
    connect();
    byte[] der = Base64.getDecoder().decode(CERTIFICATE_BASE64);
    Operation<TlsConnection> open =
        client.open(
            OpenOptions.builder("10.0.0.7", 8443)
                .serverName("api.example.test")
                .alpn("h2", "http/1.1")
                .timeout(Duration.ofMillis(1500))
                .build());

    Request request = daemon.nextRequest();
    assertEquals(1, request.getOpId());
    assertEquals(1500, request.getTimeoutMs());
    assertEquals("10.0.0.7", request.getOpen().getHost());
    assertEquals(8443, request.getOpen().getPort());
    assertEquals("api.example.test", request.getOpen().getServerName());
    assertEquals(List.of("h2", "http/1.1"), request.getOpen().getAlpnList());
    assertFalse(open.isDone());
    assertNull(open.tryGet());
    assertNull(open.status());

    daemon.complete(
        Completion.newBuilder()
            .setOpId(1)
            .setConnection(
                io.tlsd.proto.v1.ConnectionInfo.newBuilder()
                    .setConnId(42)
                    .setProtocol("TLSv1.3")
                    .setCipherSuite("TLS_AES_128_GCM_SHA256")
                    .setAlpn("h2")
                    .setResumed(true)
                    .setPeerAddress("10.0.0.7:8443")
                    .setLocalAddress("10.0.0.1:50000")
                    .setPeerSubject("CN=example.test,O=tlsd tests")
                    .addPeerCertificates(ByteString.copyFrom(der))
                    .setServerName("api.example.test"))
            .build());

    TlsConnection conn = open.await(Duration.ofSeconds(5));
    assertEquals(Status.OK, open.status());
    assertSame(conn, open.tryGet());
    assertEquals(42, conn.id());
    ConnectionInfo info = conn.info();
    assertEquals("TLSv1.3", info.protocol());
    assertEquals("TLS_AES_128_GCM_SHA256", info.cipherSuite());
    assertEquals("h2", info.alpn());
    assertTrue(info.resumed());
    assertEquals("10.0.0.7:8443", info.peerAddress());
    assertEquals("10.0.0.1:50000", info.localAddress());
    assertEquals("CN=example.test,O=tlsd tests", info.peerSubject());
    assertEquals("api.example.test", info.serverName());
    assertEquals(1, info.peerCertificates().size());
    X509Certificate leaf = info.peerCertificates().get(0);
    assertArrayEquals(der, leaf.getEncoded());
    assertTrue(leaf.getSubjectX500Principal().getName().contains("CN=example.test"));
    assertTrue(info.toString().contains("TLSv1.3 TLS_AES_128_GCM_SHA256 alpn=h2"), info.toString());
  }

  @Test
  void openWithoutOptionsSendsNoServerNameAlpnOrDeadline() throws Exception {
    connect();
    client.open("example.test", 443);
    Request request = daemon.nextRequest();
    assertEquals("example.test", request.getOpen().getHost());
    assertEquals("", request.getOpen().getServerName());
    assertEquals(0, request.getOpen().getAlpnCount());
    assertEquals(0, request.getTimeoutMs());
  }

  @Test
  void unparseablePeerCertificateFailsTheOpenAndClosesTheConnection() throws Exception {
    connect();
    Operation<TlsConnection> open = client.open("example.test", 443);
    daemon.complete(
        Completion.newBuilder()
            .setOpId(daemon.nextRequest().getOpId())
            .setConnection(
                io.tlsd.proto.v1.ConnectionInfo.newBuilder()
                    .setConnId(9)
                    .addPeerCertificates(ByteString.copyFromUtf8("not DER")))
            .build());
    TlsdException e = assertThrows(TlsdException.class, () -> open.await(Duration.ofSeconds(5)));
    assertEquals(Status.INTERNAL, e.status());
    Request close = daemon.nextRequest();
    assertEquals(9, close.getClose().getConnId());
    assertFalse(close.getClose().getWriteSideOnly());
  }

  @Test
  void failedOperationThrowsTlsdExceptionWithStatusAndDetail() throws Exception {
    connect();
    Operation<TlsConnection> open = client.open("expired.example.test", 443);
    daemon.complete(
        daemon.nextRequest().getOpId(),
        io.tlsd.proto.v1.Status.CERT_INVALID,
        "certificate expired");

    TlsdException awaited = assertThrows(TlsdException.class, open::await);
    assertEquals(Status.CERT_INVALID, awaited.status());
    assertEquals("certificate expired", awaited.detail());
    assertEquals("CERT_INVALID: certificate expired", awaited.getMessage());
    assertTrue(open.isDone());
    assertEquals(Status.CERT_INVALID, open.status());
    TlsdException tried = assertThrows(TlsdException.class, open::tryGet);
    assertEquals(Status.CERT_INVALID, tried.status());
    ExecutionException viaFuture =
        assertThrows(ExecutionException.class, () -> open.toCompletableFuture().get());
    assertEquals(Status.CERT_INVALID, ((TlsdException) viaFuture.getCause()).status());
  }

  @Test
  void readWriteRoundTripAndEofAsEmptyArray() throws Exception {
    connect();
    TlsConnection conn = openConnection(7);

    byte[] payload = "GET / HTTP/1.1\r\n\r\n".getBytes(UTF_8);
    Operation<Long> write = conn.write(payload, Duration.ofSeconds(3));
    payload[0] = 'X'; // the SDK copied the bytes at call time
    Request writeRequest = daemon.nextRequest();
    assertEquals(7, writeRequest.getWrite().getConnId());
    assertEquals("GET / HTTP/1.1\r\n\r\n", writeRequest.getWrite().getData().toStringUtf8());
    assertEquals(3000, writeRequest.getTimeoutMs());

    Operation<byte[]> read = conn.read(100);
    Request readRequest = daemon.nextRequest();
    assertEquals(7, readRequest.getRead().getConnId());
    assertEquals(100, readRequest.getRead().getMaxBytes());
    assertTrue(readRequest.getOpId() > writeRequest.getOpId(), "op ids increase");

    daemon.complete(
        Completion.newBuilder()
            .setOpId(writeRequest.getOpId())
            .setBytesWritten(payload.length)
            .build());
    daemon.completeData(readRequest.getOpId(), "HTTP/1.1 200 OK".getBytes(UTF_8));
    assertEquals(payload.length, write.await(Duration.ofSeconds(5)));
    assertEquals("HTTP/1.1 200 OK", new String(read.await(Duration.ofSeconds(5)), UTF_8));

    Operation<byte[]> atEnd = conn.read(100);
    daemon.complete(daemon.nextRequest().getOpId(), io.tlsd.proto.v1.Status.EOF, "");
    assertEquals(0, atEnd.await(Duration.ofSeconds(5)).length);
    assertEquals(Status.EOF, atEnd.status());
  }

  @Test
  void writeOfARangeSendsOnlyThatRange() throws Exception {
    connect();
    TlsConnection conn = openConnection(7);
    conn.write("xxhelloxx".getBytes(UTF_8), 2, 5);
    Request request = daemon.nextRequest();
    assertEquals("hello", request.getWrite().getData().toStringUtf8());
    assertEquals(0, request.getTimeoutMs());
    assertThrows(IndexOutOfBoundsException.class, () -> conn.write(new byte[4], 2, 3));
  }

  @Test
  void readCompletionsArrivingTogetherEachGetTheirOwnData() throws Exception {
    connect();
    TlsConnection conn = openConnection(7);
    List<Operation<byte[]>> reads = List.of(conn.read(100), conn.read(100), conn.read(100));
    ByteArrayOutputStream frames = new ByteArrayOutputStream();
    for (int i = 0; i < reads.size(); i++) {
      byte[] body =
          DaemonMessage.newBuilder()
              .setCompletion(
                  Completion.newBuilder()
                      .setOpId(daemon.nextRequest().getOpId())
                      .setData(ByteString.copyFromUtf8("chunk " + i)))
              .build()
              .toByteArray();
      frames.write(ByteBuffer.allocate(4).putInt(body.length).array());
      frames.write(body);
    }
    daemon.sendRaw(frames.toByteArray()); // one write: usually one read() of the SDK

    byte[] first = reads.get(0).await(Duration.ofSeconds(5));
    Arrays.fill(first, (byte) 'x');
    assertEquals("chunk 1", new String(reads.get(1).await(Duration.ofSeconds(5)), UTF_8));
    assertEquals("chunk 2", new String(reads.get(2).await(Duration.ofSeconds(5)), UTF_8));
  }

  @Test
  void writeLargerThanTheSdkWriteBufferArrivesWholeAndTheArrayMayBeReused() throws Exception {
    Path bigDir = Files.createDirectory(dir.resolve("big"));
    try (FakeDaemon big =
        new FakeDaemon(
            bigDir,
            FakeDaemon.DEFAULT_LIMITS.toBuilder()
                .setMaxWriteBytes(2 << 20)
                .setMaxFrameBytes((2 << 20) + 1024)
                .build())) {
      try (TlsdClient bigClient = TlsdClient.builder().socket(big.socket).build()) {
        Operation<TlsConnection> open = bigClient.open("example.test", 443);
        big.complete(
            Completion.newBuilder()
                .setOpId(big.nextRequest().getOpId())
                .setConnection(io.tlsd.proto.v1.ConnectionInfo.newBuilder().setConnId(3))
                .build());
        TlsConnection conn = open.await(Duration.ofSeconds(5));
        byte[] data = new byte[2 << 20];
        for (int i = 0; i < data.length; i++) {
          data[i] = (byte) (i * 7);
        }
        byte[] expected = data.clone();
        conn.write(data);
        Arrays.fill(data, (byte) 0); // allowed as soon as write() returned
        conn.write(data, 5, 100);
        assertEquals(ByteString.copyFrom(expected), big.nextRequest().getWrite().getData());
        assertEquals(ByteString.copyFrom(new byte[100]), big.nextRequest().getWrite().getData());
      }
    }
  }

  @Test
  void barrierCloseAndShutdownOutputSendTheirRequests() throws Exception {
    connect();
    TlsConnection conn = openConnection(7);
    Operation<Void> barrier = conn.barrier();
    Operation<Void> shutdown = conn.shutdownOutput();
    Operation<Void> close = conn.close();
    Request barrierRequest = daemon.nextRequest();
    Request shutdownRequest = daemon.nextRequest();
    Request closeRequest = daemon.nextRequest();
    assertEquals(7, barrierRequest.getBarrier().getConnId());
    assertTrue(shutdownRequest.getClose().getWriteSideOnly());
    assertEquals(7, shutdownRequest.getClose().getConnId());
    assertFalse(closeRequest.getClose().getWriteSideOnly());
    daemon.completeOk(barrierRequest.getOpId());
    daemon.completeOk(shutdownRequest.getOpId());
    daemon.complete(closeRequest.getOpId(), io.tlsd.proto.v1.Status.CLOSED, "already closed");
    assertNull(barrier.await(Duration.ofSeconds(5)));
    assertTrue(barrier.isDone());
    assertNull(shutdown.await(Duration.ofSeconds(5)));
    TlsdException e = assertThrows(TlsdException.class, () -> close.await(Duration.ofSeconds(5)));
    assertEquals(Status.CLOSED, e.status());
    assertEquals(0, barrierRequest.getTimeoutMs());
    assertEquals(0, closeRequest.getTimeoutMs());
  }

  @Test
  void barrierCloseAndShutdownOutputCarryTheirDeadlines() throws Exception {
    connect();
    TlsConnection conn = openConnection(7);
    conn.barrier(Duration.ofMillis(250));
    conn.shutdownOutput(Duration.ofSeconds(2));
    conn.close(Duration.ofSeconds(3));
    assertEquals(250, daemon.nextRequest().getTimeoutMs());
    Request shutdown = daemon.nextRequest();
    assertTrue(shutdown.getClose().getWriteSideOnly());
    assertEquals(2000, shutdown.getTimeoutMs());
    Request close = daemon.nextRequest();
    assertFalse(close.getClose().getWriteSideOnly());
    assertEquals(3000, close.getTimeoutMs());
    assertThrows(IllegalArgumentException.class, () -> conn.close(Duration.ofMillis(-1)));
  }

  @Test
  void readAndWriteSizesAreCheckedAgainstTheLimits() throws Exception {
    connect();
    TlsConnection conn = openConnection(7);
    IllegalArgumentException zero =
        assertThrows(IllegalArgumentException.class, () -> conn.read(0));
    assertEquals("maxBytes must be in 1..65536 but was 0", zero.getMessage());
    IllegalArgumentException big =
        assertThrows(IllegalArgumentException.class, () -> conn.read(65537));
    assertEquals("maxBytes must be in 1..65536 but was 65537", big.getMessage());
    IllegalArgumentException empty =
        assertThrows(IllegalArgumentException.class, () -> conn.write(new byte[0]));
    assertEquals("length must be in 1..16384 but was 0", empty.getMessage());
    IllegalArgumentException tooMuch =
        assertThrows(IllegalArgumentException.class, () -> conn.write(new byte[16385]));
    assertEquals("length must be in 1..16384 but was 16385", tooMuch.getMessage());
    java.nio.ByteBuffer large = java.nio.ByteBuffer.allocateDirect(16385);
    IllegalArgumentException tooMuchBuffered =
        assertThrows(IllegalArgumentException.class, () -> conn.write(large));
    assertEquals("remaining bytes must be in 1..16384 but were 16385", tooMuchBuffered.getMessage());
    assertEquals(0, large.position(), "a refused buffer is left as it was");
    IllegalArgumentException negative =
        assertThrows(IllegalArgumentException.class, () -> conn.read(10, Duration.ofMillis(-1)));
    assertEquals("timeout < 0", negative.getMessage());
    daemon.assertNoRequest();
  }

  @Test
  void cancelMapsTheDaemonsAnswer() throws Exception {
    connect();
    TlsConnection conn = openConnection(7);
    Operation<byte[]> first = conn.read(10);
    Operation<byte[]> second = conn.read(10);
    Request firstRequest = daemon.nextRequest();
    Request secondRequest = daemon.nextRequest();

    Operation<Boolean> cancelSecond = second.cancel();
    Request cancelRequest = daemon.nextRequest();
    assertEquals(secondRequest.getOpId(), cancelRequest.getCancel().getTargetOpId());
    assertTrue(cancelRequest.getOpId() > secondRequest.getOpId());
    daemon.complete(secondRequest.getOpId(), io.tlsd.proto.v1.Status.CANCELLED, "cancelled");
    daemon.completeOk(cancelRequest.getOpId());
    assertTrue(cancelSecond.await(Duration.ofSeconds(5)));
    assertEquals(Status.OK, cancelSecond.status());
    assertEquals(
        Status.CANCELLED,
        assertThrows(TlsdException.class, () -> second.await(Duration.ofSeconds(5))).status());

    Operation<Boolean> cancelFirst = first.cancel();
    Request tooLate = daemon.nextRequest();
    assertEquals(firstRequest.getOpId(), tooLate.getCancel().getTargetOpId());
    daemon.complete(tooLate.getOpId(), io.tlsd.proto.v1.Status.TOO_LATE, "already started");
    assertFalse(cancelFirst.await(Duration.ofSeconds(5)));
    assertEquals(Status.TOO_LATE, cancelFirst.status());

    daemon.completeData(firstRequest.getOpId(), new byte[] {1});
    assertArrayEquals(new byte[] {1}, first.await(Duration.ofSeconds(5)));
    Operation<Boolean> cancelDone = first.cancel();
    assertTrue(cancelDone.isDone());
    assertFalse(cancelDone.tryGet());
    assertEquals(0, cancelDone.id());
    daemon.assertNoRequest();
  }

  @Test
  void cancelOfAnOpTheDaemonForgotIsTooLateOnlyIfItFinished() throws Exception {
    connect();
    TlsConnection conn = openConnection(7);
    Operation<byte[]> read = conn.read(10);
    Request readRequest = daemon.nextRequest();
    Operation<Boolean> cancel = read.cancel();
    Request cancelRequest = daemon.nextRequest();
    daemon.completeData(readRequest.getOpId(), new byte[] {5});
    daemon.complete(cancelRequest.getOpId(), io.tlsd.proto.v1.Status.NOT_FOUND, "unknown op");
    assertFalse(cancel.await(Duration.ofSeconds(5)));

    Operation<byte[]> pending = conn.read(10);
    daemon.nextRequest();
    Operation<Boolean> confused = pending.cancel();
    daemon.complete(
        daemon.nextRequest().getOpId(), io.tlsd.proto.v1.Status.NOT_FOUND, "unknown op");
    assertEquals(
        Status.NOT_FOUND,
        assertThrows(TlsdException.class, () -> confused.await(Duration.ofSeconds(5))).status());
  }

  @Test
  void goodbyeFailsPendingOpsWithItsStatusAndDetail() throws Exception {
    connect();
    TlsConnection conn = openConnection(7);
    Operation<byte[]> read = conn.read(10);
    Operation<Long> write = conn.write(new byte[] {1, 2});
    daemon.nextRequest();
    daemon.nextRequest();
    daemon.goodbye(io.tlsd.proto.v1.Status.UNAVAILABLE, "tlsd is shutting down");

    for (Operation<?> op : List.of(read, write)) {
      TlsdException e = assertThrows(TlsdException.class, () -> op.await(Duration.ofSeconds(5)));
      assertEquals(Status.UNAVAILABLE, e.status());
      assertEquals("tlsd is shutting down", e.detail());
    }
    assertTrue(client.isClosed());
    Operation<byte[]> late = conn.read(10);
    assertTrue(late.isDone());
    assertEquals(0, late.id());
    assertEquals("tlsd is shutting down", assertThrows(TlsdException.class, late::tryGet).detail());
  }

  @Test
  void drainingCompletesWithTheDeadlineAndTheConnectionsKeepWorking() throws Exception {
    connect();
    TlsConnection conn = openConnection(7);
    CompletableFuture<Instant> draining = client.draining().toCompletableFuture();
    assertFalse(draining.isDone());
    assertFalse(client.isDraining());
    Instant before = Instant.now();
    daemon.send(
        DaemonMessage.newBuilder()
            .setDraining(Draining.newBuilder().setMillisLeft(15_000))
            .build());
    Instant deadline = draining.get(5, TimeUnit.SECONDS);
    assertTrue(
        !deadline.isBefore(before.plusMillis(15_000))
            && !deadline.isAfter(Instant.now().plusMillis(15_000)),
        "deadline " + deadline + ", told at " + before);
    assertTrue(client.isDraining());
    assertSame(client.draining(), client.draining(), "one stage for every caller");
    assertFalse(client.isClosed());

    Operation<Long> write = conn.write(new byte[] {1, 2});
    daemon.complete(
        Completion.newBuilder()
            .setOpId(daemon.nextRequest().getOpId())
            .setStatus(io.tlsd.proto.v1.Status.OK)
            .setBytesWritten(2)
            .build());
    assertEquals(2L, write.await(Duration.ofSeconds(5)), "the session goes on while it drains");

    daemon.goodbye(io.tlsd.proto.v1.Status.UNAVAILABLE, "tlsd is shutting down");
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!client.isClosed() && System.nanoTime() < end) {
      Thread.sleep(5);
    }
    assertTrue(client.isClosed());
    assertEquals(
        deadline,
        client.draining().toCompletableFuture().get(5, TimeUnit.SECONDS),
        "a drain, not a failure");
    assertTrue(client.isDraining());
  }

  @Test
  void aDeadlineBeyondLongMaxValueMillisIsTheEndOfTime() throws Exception {
    connect();
    daemon.send(
        DaemonMessage.newBuilder().setDraining(Draining.newBuilder().setMillisLeft(-1)).build());
    assertEquals(Instant.MAX, client.draining().toCompletableFuture().get(5, TimeUnit.SECONDS));
  }

  @Test
  void drainingFailsWithTheCauseOnTheReaderThreadAfterThePendingOperations() throws Exception {
    connect();
    Operation<TlsConnection> open = client.open("example.test", 443);
    daemon.nextRequest();
    // a caller cannot complete the client's stage
    client.draining().toCompletableFuture().complete(Instant.EPOCH);
    assertFalse(client.isDraining());
    CompletableFuture<String> seen = new CompletableFuture<>();
    client
        .draining()
        .whenComplete(
            (deadline, ended) ->
                seen.complete(
                    Thread.currentThread().getName()
                        + " open done="
                        + open.isDone()
                        + " "
                        + (ended == null ? "no failure" : ended.getCause())));
    daemon.goodbye(io.tlsd.proto.v1.Status.UNAVAILABLE, "tlsd is shutting down");
    assertEquals(
        "tlsd-sdk-reader-"
            + daemon.socket
            + " open done=true io.tlsd.sdk.TlsdException: UNAVAILABLE: tlsd is shutting down",
        seen.get(5, TimeUnit.SECONDS));
    assertFalse(client.isDraining());
  }

  @Test
  void drainingFailsWhenTheApplicationClosesTheClient() throws Exception {
    connect();
    CompletableFuture<Instant> draining = client.draining().toCompletableFuture();
    client.close();
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> draining.get(5, TimeUnit.SECONDS));
    assertEquals("client closed", assertInstanceOf(TlsdException.class, e.getCause()).detail());
  }

  @Test
  void goodbyeStatusOtherThanUnavailableIsKept() throws Exception {
    connect();
    Operation<TlsConnection> open = client.open("example.test", 443);
    daemon.nextRequest();
    daemon.goodbye(io.tlsd.proto.v1.Status.BAD_REQUEST, "op_id not increasing");
    TlsdException e = assertThrows(TlsdException.class, () -> open.await(Duration.ofSeconds(5)));
    assertEquals(Status.BAD_REQUEST, e.status());
    assertEquals("op_id not increasing", e.detail());
  }

  @Test
  void daemonClosingTheSocketFailsPendingOpsWithUnavailable() throws Exception {
    connect();
    Operation<TlsConnection> open = client.open("example.test", 443);
    daemon.nextRequest();
    daemon.dropSession();
    TlsdException e = assertThrows(TlsdException.class, () -> open.await(Duration.ofSeconds(5)));
    assertEquals(Status.UNAVAILABLE, e.status());
    assertEquals("tlsd daemon closed the session", e.detail());
    assertTrue(client.isClosed());
    assertEquals(Status.UNAVAILABLE, open.status());
  }

  @Test
  void clientCloseFailsPendingOpsAndIsIdempotent() throws Exception {
    connect();
    Operation<TlsConnection> open = client.open("example.test", 443);
    daemon.nextRequest();
    client.close();
    client.close();
    TlsdException e = assertThrows(TlsdException.class, () -> open.await(Duration.ofSeconds(5)));
    assertEquals(Status.UNAVAILABLE, e.status());
    assertEquals("client closed", e.detail());
    assertTrue(client.isClosed());

    Operation<TlsConnection> afterClose = client.open("example.test", 443);
    assertTrue(afterClose.isDone());
    assertEquals(Status.UNAVAILABLE, afterClose.status());
    assertEquals("client closed", assertThrows(TlsdException.class, afterClose::await).detail());
    assertTrue(
        Thread.getAllStackTraces().keySet().stream()
            .noneMatch(t -> t.getName().equals("tlsd-sdk-reader-" + daemon.socket) && t.isAlive()),
        "reader thread stopped");
  }

  @Test
  void completionForAnUnknownOpIsIgnored() throws Exception {
    connect();
    Operation<TlsConnection> open = client.open("example.test", 443);
    Request request = daemon.nextRequest();
    daemon.complete(request.getOpId() + 100, io.tlsd.proto.v1.Status.OK, "");
    daemon.complete(request.getOpId(), io.tlsd.proto.v1.Status.CONNECT_FAILED, "refused");
    TlsdException e = assertThrows(TlsdException.class, () -> open.await(Duration.ofSeconds(5)));
    assertEquals(Status.CONNECT_FAILED, e.status());
    assertFalse(client.isClosed());
  }

  @Test
  void oversizedFrameFromTheDaemonClosesTheClientWithInternal() throws Exception {
    connect();
    Operation<TlsConnection> open = client.open("example.test", 443);
    daemon.nextRequest();
    daemon.sendRaw(new byte[] {0x7f, 0, 0, 0}); // announces ~2 GiB
    TlsdException e = assertThrows(TlsdException.class, () -> open.await(Duration.ofSeconds(5)));
    assertEquals(Status.INTERNAL, e.status());
    assertTrue(e.detail().contains("exceeds the limit"), e.detail());
    assertTrue(client.isClosed());
  }

  @Test
  void awaitWithTimeoutThrowsTimeoutExceptionAndLeavesTheOpRunning() throws Exception {
    connect();
    Operation<TlsConnection> open = client.open("example.test", 443);
    Request request = daemon.nextRequest();
    long start = System.nanoTime();
    assertThrows(TimeoutException.class, () -> open.await(Duration.ofMillis(50)));
    assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(50));
    assertFalse(open.isDone());
    daemon.complete(request.getOpId(), io.tlsd.proto.v1.Status.TIMED_OUT, "deadline");
    assertEquals(
        Status.TIMED_OUT,
        assertThrows(TlsdException.class, () -> open.await(Duration.ofSeconds(5))).status());
  }

  @Test
  void completableFutureIsAnIndependentCopy() throws Exception {
    connect();
    TlsConnection conn = openConnection(7);
    Operation<Long> write = conn.write(new byte[] {1, 2, 3});
    Request request = daemon.nextRequest();

    CompletableFuture<Long> forged = write.toCompletableFuture();
    forged.complete(99L);
    CompletableFuture<Long> cancelled = write.toCompletableFuture();
    cancelled.cancel(true);
    assertFalse(write.isDone());
    assertNull(write.status());

    CompletableFuture<Long> real = write.toCompletableFuture();
    daemon.complete(Completion.newBuilder().setOpId(request.getOpId()).setBytesWritten(3).build());
    assertEquals(3L, real.get(5, TimeUnit.SECONDS));
    assertEquals(3L, write.await());
    assertEquals(99L, forged.join());
    assertTrue(cancelled.isCancelled());
  }

  @Test
  void awaitOnTheReaderThreadFailsInsteadOfDeadlocking() throws Exception {
    connect();
    TlsConnection conn = openConnection(7);
    Operation<byte[]> first = conn.read(10);
    Operation<byte[]> second = conn.read(10);
    Request firstRequest = daemon.nextRequest();
    daemon.nextRequest();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    CompletableFuture<Void> callback =
        first
            .toCompletableFuture()
            .thenAccept(
                data -> {
                  try {
                    second.await();
                  } catch (Throwable t) {
                    thrown.set(t);
                  }
                });
    daemon.completeData(firstRequest.getOpId(), new byte[] {1});
    assertTimeoutPreemptively(Duration.ofSeconds(5), () -> callback.get());
    assertTrue(thrown.get() instanceof IllegalStateException, String.valueOf(thrown.get()));
  }

  @Test
  void opIdsStartAtOneAndIncrease() throws Exception {
    connect();
    client.open("a.example.test", 443);
    client.open("b.example.test", 443);
    client.open("c.example.test", 443);
    FakeDaemon.assertOpId(1, daemon.nextRequest());
    FakeDaemon.assertOpId(2, daemon.nextRequest());
    FakeDaemon.assertOpId(3, daemon.nextRequest());
  }

  @Test
  void builderValidatesAtOnce() {
    TlsdClient.Builder builder = TlsdClient.builder();
    assertEquals(
        "connectTimeout < 0",
        assertThrows(
                IllegalArgumentException.class, () -> builder.connectTimeout(Duration.ofMillis(-1)))
            .getMessage());
    assertEquals(
        "connectTimeout == null",
        assertThrows(NullPointerException.class, () -> builder.connectTimeout(null)).getMessage());
    assertEquals(
        "socket == null",
        assertThrows(NullPointerException.class, () -> builder.socket(null)).getMessage());
    assertEquals(
        "appName is longer than 128 bytes",
        assertThrows(IllegalArgumentException.class, () -> builder.appName("é".repeat(65)))
            .getMessage());
    assertEquals(
        "appName is empty",
        assertThrows(IllegalArgumentException.class, () -> builder.appName("")).getMessage());
    builder.appName("x".repeat(128)); // exactly at the limit
  }
}
