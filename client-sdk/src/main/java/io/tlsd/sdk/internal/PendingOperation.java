package io.tlsd.sdk.internal;

import io.tlsd.proto.v1.Cancel;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.Request;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.Status;
import io.tlsd.sdk.TlsdException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * An {@link Operation} backed by a future that only the session completes, exactly once: with the
 * daemon's completion, or with the session's end.
 */
final class PendingOperation<T> implements Operation<T> {
  private final Session session;
  private final long id;
  private final CompletionDecoder<T> decoder;
  // Never handed out: callers get copies, so nobody but this class can complete or cancel it.
  private final CompletableFuture<T> future = new CompletableFuture<>();
  private volatile Status status;

  PendingOperation(Session session, long id, CompletionDecoder<T> decoder) {
    this.session = session;
    this.id = id;
    this.decoder = decoder;
  }

  /** An operation answered without asking the daemon. */
  static <T> PendingOperation<T> succeeded(Status status, T value) {
    PendingOperation<T> operation = new PendingOperation<>(null, 0, null);
    operation.succeed(status, value);
    return operation;
  }

  /** An operation that failed before its request could be sent. */
  static <T> PendingOperation<T> failed(long id, TlsdException failure) {
    PendingOperation<T> operation = new PendingOperation<>(null, id, null);
    operation.fail(failure);
    return operation;
  }

  void complete(Completion completion) {
    T value;
    try {
      value = decoder.decode(completion);
    } catch (TlsdException e) {
      fail(e);
      return;
    } catch (RuntimeException e) {
      fail(
          new TlsdException(
              Status.INTERNAL, "cannot decode the completion of op " + id + ": " + e, e));
      return;
    }
    succeed(ProtoStatus.toSdk(completion.getStatus()), value);
  }

  void fail(TlsdException failure) {
    if (claim(failure.status())) {
      future.completeExceptionally(failure);
    }
  }

  private void succeed(Status status, T value) {
    if (claim(status)) {
      future.complete(value);
    }
  }

  /** Records the final status before the future completes, so that a finished op always has one. */
  private synchronized boolean claim(Status finalStatus) {
    if (status != null) {
      return false;
    }
    status = finalStatus;
    return true;
  }

  @Override
  public long id() {
    return id;
  }

  @Override
  public boolean isDone() {
    return future.isDone();
  }

  @Override
  public T tryGet() throws TlsdException {
    if (!future.isDone()) {
      return null;
    }
    try {
      return future.join();
    } catch (CompletionException e) {
      throw rethrow(e.getCause());
    }
  }

  @Override
  public T await() throws TlsdException, InterruptedException {
    checkNotReaderThread();
    try {
      return future.get();
    } catch (ExecutionException e) {
      throw rethrow(e.getCause());
    }
  }

  @Override
  public T await(Duration timeout) throws TlsdException, InterruptedException, TimeoutException {
    if (timeout.isNegative()) {
      throw new IllegalArgumentException("timeout < 0");
    }
    checkNotReaderThread();
    try {
      return future.get(saturatedNanos(timeout), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      throw rethrow(e.getCause());
    } catch (TimeoutException e) {
      TimeoutException timedOut =
          new TimeoutException("op " + id + " did not complete within " + timeout);
      timedOut.initCause(e);
      throw timedOut;
    }
  }

  @Override
  public Operation<Boolean> cancel() {
    if (future.isDone() || session == null) {
      return succeeded(Status.TOO_LATE, false);
    }
    Request.Builder request = Request.newBuilder().setCancel(Cancel.newBuilder().setTargetOpId(id));
    return session.submit(
        request,
        completion -> {
          switch (completion.getStatus()) {
            case OK:
              return true;
            case TOO_LATE:
              return false;
            case NOT_FOUND:
              // A daemon forgets finished ops. Their completions precede this reply on the socket,
              // so if this op is done the cancel simply came too late; otherwise it is a real
              // error.
              if (future.isDone()) {
                return false;
              }
              throw CompletionDecoder.failure(completion);
            default:
              throw CompletionDecoder.failure(completion);
          }
        });
  }

  @Override
  public CompletableFuture<T> toCompletableFuture() {
    return future.copy();
  }

  @Override
  public Status status() {
    // Read the future first: status is written before it completes, never after.
    return future.isDone() ? status : null;
  }

  @Override
  public String toString() {
    Status current = status();
    return "Operation{id=" + id + ", " + (current == null ? "running" : current) + "}";
  }

  private void checkNotReaderThread() {
    if (session != null && !future.isDone() && session.isReaderThread()) {
      throw new IllegalStateException(
          "await() on the tlsd reader thread would deadlock: it is the thread that completes"
              + " operations; use the *Async callbacks of toCompletableFuture() instead");
    }
  }

  /** A fresh exception, so that the caller's stack shows up next to the reader thread's. */
  private static TlsdException rethrow(Throwable cause) {
    if (cause instanceof TlsdException failure) {
      return new TlsdException(failure.status(), failure.detail(), failure);
    }
    return new TlsdException(Status.INTERNAL, String.valueOf(cause), cause);
  }

  private static long saturatedNanos(Duration duration) {
    try {
      return duration.toNanos();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }
}
