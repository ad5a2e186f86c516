package io.tlsd.sdk.internal;

import io.tlsd.proto.v1.Completion;
import io.tlsd.sdk.TlsdException;

/**
 * Turns the daemon's completion of one request into the operation's result, or its failure.
 *
 * <pre>{@code
 * CompletionDecoder<Long> written = completion -> {
 *   CompletionDecoder.requireOk(completion);
 *   return completion.getBytesWritten();
 * };
 * }</pre>
 *
 * @param <T> the operation's result
 */
@FunctionalInterface
public interface CompletionDecoder<T> {

  /**
   * Returns the result for {@code completion}, whatever its status.
   *
   * @throws TlsdException if the completion means the operation failed
   */
  T decode(Completion completion) throws TlsdException;

  /** Throws the failure that {@code completion} carries unless its status is OK. */
  static void requireOk(Completion completion) throws TlsdException {
    if (completion.getStatus() != io.tlsd.proto.v1.Status.OK) {
      throw failure(completion);
    }
  }

  /** The failure {@code completion} reports: its status and detail. */
  static TlsdException failure(Completion completion) {
    return new TlsdException(ProtoStatus.toSdk(completion.getStatus()), completion.getDetail());
  }
}
