package io.tlsd.sdk;

import java.time.Duration;

/** Converts a per-operation deadline to {@code Request.timeout_ms}, an unsigned 32-bit count. */
final class RequestTimeout {
  static final long MAX_MILLIS = 0xFFFF_FFFFL;

  private RequestTimeout() {}

  /**
   * Validates {@code timeout} and returns it in whole milliseconds as the bits of a uint32; {@link
   * Duration#ZERO} means no deadline.
   */
  static int toWireMillis(Duration timeout, String name) {
    // Not requireNonNull(timeout, name + ...): that would build the message on every operation.
    if (timeout == null) {
      throw new NullPointerException(name + " == null");
    }
    if (timeout.isZero()) {
      return 0; // the common case, on every operation: nothing to check or convert
    }
    if (timeout.isNegative()) {
      throw new IllegalArgumentException(name + " < 0");
    }
    if (timeout.compareTo(Duration.ofMillis(MAX_MILLIS)) > 0) {
      throw new IllegalArgumentException(name + " > " + MAX_MILLIS + " ms");
    }
    long millis = timeout.toMillis();
    // Round a sub-millisecond remainder up: truncating 0.5 ms to 0 would silently mean "no
    // deadline".
    if (timeout.compareTo(Duration.ofMillis(millis)) > 0) {
      millis++;
    }
    return (int) millis;
  }
}
