package io.tlsd.sdk;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;

/**
 * One request to the daemon and, once it arrives, its single completion.
 *
 * <p>Every call on {@link TlsdClient} and {@link TlsConnection} sends its request at once and
 * returns an {@code Operation} without waiting for the result. (Sending itself waits only when the
 * socket to the daemon is full, which happens when the daemon is behind on this client's requests;
 * it goes on reading them while this client's completions back up, up to a bound, so requests sent
 * from a completion's callback do not deadlock.) The result can then be polled ({@link #isDone()},
 * {@link #tryGet()}), waited for ({@link #await()}), or consumed asynchronously through {@link
 * #toCompletableFuture()}.
 *
 * <pre>{@code
 * Operation<Long> write = conn.write(request);
 * Operation<byte[]> read = conn.read(16 * 1024);   // runs alongside the write
 * write.await();
 * byte[] response = read.await(Duration.ofSeconds(5));
 * }</pre>
 *
 * <p>A finished operation holds no state in the daemon, so there is nothing to destroy (the C API's
 * {@code tls_oper_state_destroy} has no counterpart): the handle is simply garbage-collected.
 * Abandoning an unfinished one is allowed too; its completion is received and dropped.
 *
 * <p>Completions are delivered by the client's single reader thread. Callbacks attached with the
 * non-{@code Async} methods of the {@link CompletableFuture} returned by {@link
 * #toCompletableFuture()} run on that thread and hold up every other completion of the client while
 * they run: keep them short and never block in them, or use the {@code *Async} variants. {@link
 * #await()} called on the reader thread throws {@link IllegalStateException} instead of
 * deadlocking.
 *
 * <p>Implementations are thread-safe.
 *
 * @param <T> the result of a successful operation
 */
public interface Operation<T> {

  /**
   * The operation id this request carries on the wire ({@code Request.op_id}); ids increase within
   * a client. It is 0 for an operation that was answered locally without sending a request, such as
   * one submitted after the client was closed.
   */
  long id();

  /**
   * Returns true once the operation has completed, successfully or not. Never blocks (the C API's
   * {@code tls_try}).
   */
  boolean isDone();

  /**
   * Returns the result if the operation completed successfully, or null if it is still running.
   * Never blocks. For an {@code Operation<Void>} both cases return null; use {@link #isDone()}.
   *
   * @throws TlsdException if the operation completed with a failure
   */
  T tryGet() throws TlsdException;

  /**
   * Waits for the operation to complete and returns its result (the C API's {@code tls_wait}).
   *
   * @throws TlsdException if the operation failed
   * @throws InterruptedException if the calling thread was interrupted while waiting; the operation
   *     keeps running
   */
  T await() throws TlsdException, InterruptedException;

  /**
   * Waits at most {@code timeout} for the operation to complete and returns its result.
   *
   * <p>Giving up waiting does not cancel the operation; call {@link #cancel()} for that, or set a
   * deadline on the request itself so that the daemon enforces it.
   *
   * @throws TlsdException if the operation failed
   * @throws InterruptedException if the calling thread was interrupted while waiting
   * @throws TimeoutException if the operation did not complete in time
   */
  T await(Duration timeout) throws TlsdException, InterruptedException, TimeoutException;

  /**
   * Asks the daemon to cancel this operation if it has not started yet (the C API's {@code
   * tls_try_cancel}).
   *
   * <p>The returned operation completes with {@code true} (status {@link Status#OK}) when the
   * daemon cancelled it; this operation then fails with {@link Status#CANCELLED}. It completes with
   * {@code false} (status {@link Status#TOO_LATE}) when the operation had already started or
   * finished, in which case it completes normally. An operation already done locally is not sent to
   * the daemon at all: the answer is an immediate {@code false}.
   */
  Operation<Boolean> cancel();

  /**
   * Returns a new future that completes when this operation does, with the same result or failure
   * ({@link TlsdException}). It is a dependent copy: completing or cancelling it has no effect on
   * this operation. Its callbacks run on the client's reader thread unless the {@code *Async}
   * variants are used.
   */
  CompletableFuture<T> toCompletableFuture();

  /**
   * The status the operation completed with, or null while it is running. A read that reached the
   * end of the stream reports {@link Status#EOF} although it completed successfully.
   */
  Status status();
}
