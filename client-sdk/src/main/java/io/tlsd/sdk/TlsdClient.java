package io.tlsd.sdk;

import io.tlsd.proto.v1.Accept;
import io.tlsd.proto.v1.Close;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.Open;
import io.tlsd.proto.v1.Request;
import io.tlsd.sdk.internal.CompletionDecoder;
import io.tlsd.sdk.internal.Session;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.CompletionStage;

/**
 * A session with the local tlsd daemon, through which TLS connections are opened.
 *
 * <p>{@link Builder#build()} connects to the daemon's Unix-domain socket and completes the protocol
 * handshake; {@link #close()} ends the session. One client can carry many connections and
 * operations at once; it is thread-safe and meant to be shared.
 *
 * <pre>{@code
 * try (TlsdClient client = TlsdClient.builder().appName("billing-api").build()) {
 *   TlsConnection conn = client.open("api.example.com", 443).await();
 *   conn.write("GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n".getBytes(UTF_8)).await();
 *   byte[] response = conn.read(16 * 1024).await();
 *   conn.close().await();
 * }
 * }</pre>
 *
 * <p>Every operation's completion is delivered by one reader thread per client, named {@code
 * tlsd-sdk-reader-<socket>}; see {@link Operation} for what that means for callbacks.
 */
public final class TlsdClient implements AutoCloseable {
  private final Session session;
  private final Limits limits;

  private TlsdClient(Session session) {
    this.session = session;
    this.limits = Limits.fromProto(session.welcome().getLimits());
  }

  /**
   * The size of the shared-memory write ring this client uses, 0 when it has none (see {@link
   * Builder#writeRingBytes}).
   */
  public int writeRingBytes() {
    return session.writeRingBytes();
  }

  /**
   * A buffer of {@code capacity} bytes for writes without a copy ({@link
   * TlsConnection#write(SharedBuffer, int, int)}), taken from the shared memory asked for with
   * {@link Builder#sharedBufferBytes}; in ordinary direct memory ({@link SharedBuffer#isShared()}
   * false) when that has no room for it, or there is none. Close it to give the space back.
   *
   * @throws IllegalArgumentException if {@code capacity} is less than 1
   */
  public SharedBuffer allocateBuffer(int capacity) {
    return SharedBuffer.allocate(session, capacity);
  }

  /** Starts configuring a client; the defaults suit a daemon started with its defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Opens a TLS connection to {@code host:port}, verifying the certificate against {@code host}.
   */
  public Operation<TlsConnection> open(String host, int port) {
    return open(OpenOptions.builder(host, port).build());
  }

  /**
   * Opens a TLS connection as described by {@code options} (the C API's {@code tls_open}). The
   * operation completes once the TCP connection is made and the handshake verified, or fails with
   * {@link Status#CONNECT_FAILED}, {@link Status#HANDSHAKE_FAILED}, {@link Status#CERT_INVALID},
   * {@link Status#TIMED_OUT}, {@link Status#UNAUTHORIZED} (a target outside the daemon's {@code
   * allowed_targets}), ….
   */
  public Operation<TlsConnection> open(OpenOptions options) {
    Objects.requireNonNull(options, "options == null");
    Open.Builder open =
        Open.newBuilder()
            .setHost(options.host())
            .setPort(options.port())
            .addAllAlpn(options.alpn());
    if (options.serverName() != null) {
      open.setServerName(options.serverName());
    }
    Request.Builder request =
        Request.newBuilder().setTimeoutMs(options.timeoutMillis).setOpen(open);
    return session.submit(request, this::connection);
  }

  /**
   * Takes the next client of the server daemon's listener named {@code "default"}; see {@link
   * #accept(String)}.
   */
  public Operation<TlsConnection> accept() {
    return accept("default");
  }

  /**
   * Takes the next TLS client of the server daemon's listener {@code listener} (server role only).
   * The operation completes once a client has connected and finished its handshake; clients that
   * arrived earlier are handed out first, and several applications may accept on one listener. The
   * connection's {@link ConnectionInfo} tells the SNI name, the ALPN protocol, the client
   * certificate if any and whether the session was resumed. Fails with {@link Status#NOT_FOUND}
   * for an unknown listener, {@link Status#BAD_REQUEST} on a client-role daemon, and {@link
   * Status#UNAVAILABLE} when the daemon stops or a reload removes the listener while it waits.
   *
   * <pre>{@code
   * try (TlsdClient server = TlsdClient.builder().socket(SocketPaths.server()).build()) {
   *   TlsConnection conn = server.accept("default").await();
   *   System.out.println("client " + conn.info().peerAddress() + " asked for " + conn.info().serverName());
   * }
   * }</pre>
   */
  public Operation<TlsConnection> accept(String listener) {
    Objects.requireNonNull(listener, "listener == null");
    return session.submit(
        Request.newBuilder().setAccept(Accept.newBuilder().setListener(listener)), this::connection);
  }

  /** Like {@link #accept(String)}, with a deadline: the operation fails with TIMED_OUT after it. */
  public Operation<TlsConnection> accept(String listener, Duration timeout) {
    Objects.requireNonNull(listener, "listener == null");
    return session.submit(
        Request.newBuilder()
            .setTimeoutMs(RequestTimeout.toWireMillis(timeout, "timeout"))
            .setAccept(Accept.newBuilder().setListener(listener)),
        this::connection);
  }

  private TlsConnection connection(Completion completion) throws TlsdException {
    CompletionDecoder.requireOk(completion);
    if (completion.getResultCase() != Completion.ResultCase.CONNECTION) {
      throw new TlsdException(Status.INTERNAL, "tlsd completed an OPEN or ACCEPT without connection info");
    }
    long connectionId = completion.getConnection().getConnId();
    try {
      return new TlsConnection(
          session, limits, connectionId, new ConnectionInfo(completion.getConnection()));
    } catch (CertificateException e) {
      // Nobody gets a handle to this connection, so it is closed here or never.
      session.submit(
          Request.newBuilder().setClose(Close.newBuilder().setConnId(connectionId)),
          ignored -> null);
      throw new TlsdException(
          Status.INTERNAL,
          "tlsd reported a peer certificate that does not parse: " + e.getMessage(),
          e);
    }
  }

  /** The limits the daemon announced for this session. */
  public Limits limits() {
    return limits;
  }

  /** The daemon's version, e.g. {@code "tlsd 0.1.0"}. */
  public String daemonVersion() {
    return session.welcome().getDaemonVersion();
  }

  /** The daemon's role: {@code "client"} or {@code "server"}. */
  public String role() {
    return session.welcome().getRole();
  }

  /**
   * Completes when the daemon starts a graceful drain (it is being stopped or replaced, e.g. on
   * SIGTERM), with about when it will close what this session still holds (the time it announced,
   * counted from when its notice arrived: leave a margin). From then on {@link #open} and {@link
   * #accept} fail with {@link Status#UNAVAILABLE}, while the connections this client holds keep
   * working; once it holds none, or at that time, the session ends. An application that wants new
   * connections builds a new client (the replacing daemon listens on the same socket path), and
   * moves its long-lived connections there in time.
   *
   * <p>If the session ends without a drain (closed, lost, or stopped at once), the stage completes
   * exceptionally, with a {@link java.util.concurrent.CompletionException} whose cause is the
   * {@link TlsdException} that ended it, so one callback covers both. Callbacks run on the
   * client's reader thread, after the session's pending operations have failed if it ended; they
   * must not block, so hand work that waits to an executor:
   *
   * <pre>{@code
   * client.draining().whenCompleteAsync((deadline, ended) -> pool.replace(client), executor);
   * }</pre>
   *
   * <p>Every call returns the same stage; {@link #isDraining()} polls it.
   */
  public CompletionStage<Instant> draining() {
    return session.draining();
  }

  /** True once the daemon said it drains (see {@link #draining()}). */
  public boolean isDraining() {
    return session.isDraining();
  }

  /**
   * Returns true once the session has ended: by {@link #close()}, by the daemon (Goodbye, shutdown,
   * crash) or by a protocol error. Operations of a closed client fail with {@link
   * Status#UNAVAILABLE} or the daemon's Goodbye status.
   */
  public boolean isClosed() {
    return session.isClosed();
  }

  /**
   * Ends the session (the C API's {@code tls_destroy}): every unfinished operation fails with
   * {@link Status#UNAVAILABLE} ("client closed"), the socket is closed and the reader thread stops.
   * The daemon then closes this session's TLS connections. Calling it again does nothing.
   */
  @Override
  public void close() {
    session.close(Status.UNAVAILABLE, "client closed");
  }

  @Override
  public String toString() {
    return "TlsdClient{socket="
        + session.socket()
        + ", daemon="
        + daemonVersion()
        + (isClosed() ? ", closed" : "")
        + "}";
  }

  /**
   * Configures and connects a {@link TlsdClient}. Setters check their argument at once.
   *
   * <pre>{@code
   * TlsdClient client = TlsdClient.builder()
   *     .socket(Path.of("/run/tlsd/client.sock"))
   *     .appName("billing-api")
   *     .connectTimeout(Duration.ofSeconds(2))
   *     .build();
   * }</pre>
   */
  public static final class Builder {
    static final int MAX_APP_NAME_BYTES = 128;
    static final int DEFAULT_WRITE_RING_BYTES = 4 << 20;

    private Path socket;
    private String appName;
    private Duration connectTimeout;
    private int writeRingBytes;
    private int sharedBufferBytes;

    Builder() {
      this.socket = SocketPaths.client();
      this.appName = "java-app";
      this.connectTimeout = Duration.ofSeconds(5);
      this.writeRingBytes = DEFAULT_WRITE_RING_BYTES;
    }

    /** The daemon's socket; defaults to {@link SocketPaths#client()}. */
    public Builder socket(Path socket) {
      this.socket = Objects.requireNonNull(socket, "socket == null");
      return this;
    }

    /**
     * A name for the daemon's logs and stats, at most 128 bytes of UTF-8; defaults to "java-app".
     */
    public Builder appName(String appName) {
      Objects.requireNonNull(appName, "appName == null");
      if (appName.isEmpty()) {
        throw new IllegalArgumentException("appName is empty");
      }
      if (appName.getBytes(StandardCharsets.UTF_8).length > MAX_APP_NAME_BYTES) {
        throw new IllegalArgumentException(
            "appName is longer than " + MAX_APP_NAME_BYTES + " bytes");
      }
      this.appName = appName;
      return this;
    }

    /**
     * The time allowed to connect to the daemon and receive its Welcome; defaults to 5 seconds.
     * {@link Duration#ZERO} waits forever.
     */
    public Builder connectTimeout(Duration connectTimeout) {
      Objects.requireNonNull(connectTimeout, "connectTimeout == null");
      if (connectTimeout.isNegative()) {
        throw new IllegalArgumentException("connectTimeout < 0");
      }
      this.connectTimeout = connectTimeout;
      return this;
    }

    /**
     * The shared-memory write ring to ask the daemon for; defaults to 4 MiB, 0 turns it off.
     *
     * <p>With a ring, the plaintext of writes of 8 KiB and more is copied into memory shared with
     * the daemon instead of being sent through the socket, which saves the socket's two copies
     * and most of its system calls (about the bulk throughput gained, see docs/benchmarks.md). The
     * daemon grants at most its {@code shared_memory.write_ring_bytes}; when it grants none, or
     * this process cannot map the file (a daemon in another container, say), writes simply go
     * through the socket. {@link #build()} never fails for want of a ring.
     */
    public Builder writeRingBytes(int writeRingBytes) {
      if (writeRingBytes < 0) {
        throw new IllegalArgumentException("writeRingBytes < 0");
      }
      this.writeRingBytes = writeRingBytes;
      return this;
    }

    /**
     * Shared memory for {@link SharedBuffer}s, asked for together with the write ring; defaults
     * to 0 (none: {@link TlsdClient#allocateBuffer} then returns buffers in ordinary memory).
     *
     * <p>The daemon grants at most its {@code shared_memory.write_ring_bytes} (4 MiB by default)
     * for the ring and the buffers together; when it grants less than the sum, the buffers get
     * theirs first and the ring what is left ({@link TlsdClient#writeRingBytes()} says how much),
     * so ask for a ring that leaves room, e.g. {@code writeRingBytes(3 << 20)} with {@code
     * sharedBufferBytes(1 << 20)}. The space is shared out in blocks rounded up to 64 bytes.
     */
    public Builder sharedBufferBytes(int sharedBufferBytes) {
      if (sharedBufferBytes < 0) {
        throw new IllegalArgumentException("sharedBufferBytes < 0");
      }
      this.sharedBufferBytes = sharedBufferBytes;
      return this;
    }

    /**
     * Connects to the daemon and completes the handshake (the C API's {@code tls_init}).
     *
     * @throws TlsdException {@link Status#UNAVAILABLE} when no daemon listens on the socket (or, in
     *     the shared {@code /tmp} fallback directory, one that is not this user's), {@link
     *     Status#UNAUTHORIZED} when this process may not open the socket, {@link
     *     Status#TIMED_OUT} when it did not answer within the connect timeout, or the status of the
     *     daemon's Goodbye when it refused the session (e.g. {@link Status#LIMIT_EXCEEDED} past
     *     its {@code max_sessions}, or its {@code max_sessions_per_uid} for this process's user)
     */
    public TlsdClient build() throws TlsdException {
      return new TlsdClient(Session.connect(socket, appName, connectTimeout, writeRingBytes, sharedBufferBytes));
    }
  }
}
