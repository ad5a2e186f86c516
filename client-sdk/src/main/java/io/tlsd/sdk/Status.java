package io.tlsd.sdk;

/**
 * How an {@link Operation} ended: the one status catalog shared by the daemon and every SDK.
 *
 * <p>The constants mirror {@code tlsd.v1.Status} in {@code ipc.proto} name for name, so a status
 * logged by the daemon and one seen by the application mean the same thing.
 *
 * <pre>{@code
 * try {
 *   TlsConnection conn = client.open("example.com", 443).await();
 * } catch (TlsdException e) {
 *   if (e.status().isRetryable()) {
 *     scheduleRetry();
 *   } else {
 *     throw e;
 *   }
 * }
 * }</pre>
 */
public enum Status {
  /** The operation did what it was asked to. */
  OK,
  /** A read found the clean end of the stream: the peer sent close_notify after its last byte. */
  EOF,
  /**
   * The operation was cancelled before it started (by {@link Operation#cancel()} or the session).
   */
  CANCELLED,
  /** The operation's deadline passed before it completed. */
  TIMED_OUT,
  /** The connection is closed (by a close, an earlier failure, or the daemon). */
  CLOSED,
  /** The TCP connection to the target could not be made (refused, unreachable, DNS). */
  CONNECT_FAILED,
  /** The TLS handshake failed for a reason other than the peer's certificate. */
  HANDSHAKE_FAILED,
  /** The peer's certificate chain or name did not verify. */
  CERT_INVALID,
  /** The request is malformed or not allowed in this state. */
  BAD_REQUEST,
  /**
   * A limit of the session or the daemon was reached (ops in flight, queued bytes, connections).
   */
  LIMIT_EXCEEDED,
  /** The connection or operation named by the request does not exist in this session. */
  NOT_FOUND,
  /** The session is not allowed to do this. */
  UNAUTHORIZED,
  /** A cancel came too late: its target had already started or finished and completes normally. */
  TOO_LATE,
  /** The peer reset the TCP connection or closed it without close_notify (possible truncation). */
  CONNECTION_RESET,
  /** The daemon is shutting down, went away, or this client was closed. */
  UNAVAILABLE,
  /** A bug or an unexpected failure inside the daemon or the SDK; the detail says what. */
  INTERNAL;

  /**
   * Returns true when trying the same operation again later may succeed.
   *
   * <p>Only failures caused by a transient condition outside the request qualify: a full limit
   * ({@link #LIMIT_EXCEEDED}, frees up as earlier operations complete), a daemon that is away or
   * restarting ({@link #UNAVAILABLE}), a target that could not be reached right now ({@link
   * #CONNECT_FAILED}) and a deadline that was too short for the moment's load ({@link #TIMED_OUT}).
   * Everything else would fail the same way again: the request itself, the peer's certificate or
   * the connection's state is at fault. A retry is only safe when the operation is idempotent for
   * the application; a timed-out write, for example, may have been partly sent.
   */
  public boolean isRetryable() {
    return switch (this) {
      case LIMIT_EXCEEDED, UNAVAILABLE, CONNECT_FAILED, TIMED_OUT -> true;
      default -> false;
    };
  }
}
