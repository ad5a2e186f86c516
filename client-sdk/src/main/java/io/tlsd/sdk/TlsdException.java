package io.tlsd.sdk;

import java.io.IOException;
import java.util.Objects;

/**
 * An operation or the session failed; {@link #status()} says how, {@link #detail()} says why.
 *
 * <p>It extends {@link IOException} so that the stream adapters of {@link TlsConnection} and
 * callers that already handle I/O failures need no second catch clause. The message has the form
 * {@code "CERT_INVALID: certificate expired"}.
 *
 * <pre>{@code
 * try {
 *   conn.write(payload).await();
 * } catch (TlsdException e) {
 *   log.warn("write failed: status={} detail={}", e.status(), e.detail());
 * }
 * }</pre>
 */
public class TlsdException extends IOException {
  private static final long serialVersionUID = 1L;

  private final Status status;
  private final String detail;

  /** Creates an exception for {@code status}, never {@link Status#OK}. */
  public TlsdException(Status status, String detail) {
    this(status, detail, null);
  }

  /** Creates an exception for {@code status} caused by {@code cause}. */
  public TlsdException(Status status, String detail, Throwable cause) {
    super(message(status, detail), cause);
    if (status == Status.OK) {
      throw new IllegalArgumentException("status == OK");
    }
    this.status = status;
    this.detail = detail == null ? "" : detail;
  }

  private static String message(Status status, String detail) {
    Objects.requireNonNull(status, "status == null");
    return detail == null || detail.isEmpty() ? status.name() : status.name() + ": " + detail;
  }

  /** The outcome that made the operation fail. */
  public Status status() {
    return status;
  }

  /** A human-readable reason, as sent by the daemon; empty when it gave none. */
  public String detail() {
    return detail;
  }
}
