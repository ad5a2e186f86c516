package io.tlsd.daemon.tls.signing;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads that run private-key operations off the event loops: a small fixed pool of daemon
 * threads named {@code tlsd-signer-1}, {@code tlsd-signer-2}, …, with a bounded queue. When the
 * queue is full the operation is refused at once (the handshake fails) rather than queued without
 * limit: under a handshake flood, failing some handshakes fast is better than letting every one
 * of them wait behind thousands of signatures until it times out.
 *
 * <pre>{@code
 * KeySigner signer = new JdkKeySigner(key, kind, SignerPool.shared());
 * }</pre>
 */
public final class SignerPool implements Executor, AutoCloseable {
    /** Signatures waiting per thread before new ones are refused. */
    static final int QUEUE_PER_THREAD = 256;

    private static final class Shared {
        static final SignerPool INSTANCE = new SignerPool(Runtime.getRuntime().availableProcessors(),
                Runtime.getRuntime().availableProcessors() * QUEUE_PER_THREAD, true);
    }

    private final ThreadPoolExecutor executor;
    private final int queueCapacity;
    private final boolean shared;

    /**
     * @param threads at least 1; more than the core count only adds contention
     * @param queueCapacity operations that may wait; more are refused
     */
    public SignerPool(int threads, int queueCapacity) {
        this(threads, queueCapacity, false);
    }

    private SignerPool(int threads, int queueCapacity, boolean shared) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads < 1");
        }
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("queueCapacity < 1");
        }
        this.queueCapacity = queueCapacity;
        this.shared = shared;
        AtomicInteger next = new AtomicInteger(1);
        this.executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(queueCapacity), task -> {
                    Thread thread = new Thread(task, "tlsd-signer-" + next.getAndIncrement());
                    thread.setDaemon(true);
                    return thread;
                });
    }

    /**
     * The process-wide pool the default signers use: one thread per core, created on first use,
     * never shut down (its threads are daemon threads).
     */
    public static SignerPool shared() {
        return Shared.INSTANCE;
    }

    public int threads() {
        return executor.getCorePoolSize();
    }

    /** Operations waiting for a thread right now. */
    public int queued() {
        return executor.getQueue().size();
    }

    /** @throws RejectedExecutionException when the queue is full or the pool is closed */
    @Override
    public void execute(Runnable task) {
        try {
            executor.execute(task);
        } catch (RejectedExecutionException e) {
            throw new RejectedExecutionException(executor.isShutdown() ? "the signer pool is closed"
                    : "the signer pool is saturated (" + queueCapacity + " operations waiting)");
        }
    }

    /** Stops taking operations; those already queued still run. Does nothing to {@link #shared()}. */
    @Override
    public void close() {
        if (!shared) {
            executor.shutdown();
        }
    }
}
