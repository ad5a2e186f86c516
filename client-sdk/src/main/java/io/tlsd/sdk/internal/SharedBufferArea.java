package io.tlsd.sdk.internal;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.TreeMap;

/**
 * The part of a session's shared memory after its write ring, shared out as {@code SharedBuffer}s:
 * blocks the application keeps, fills in place and writes from without a copy, because tlsd
 * reads a write's bytes straight out of this memory.
 *
 * <p>Blocks are taken first fit, each starting on a {@link #ALIGNMENT}-byte boundary, and come
 * back when their buffer is closed and no write from them is in flight any more; free neighbours
 * merge. Thread-safe: one lock for the area and all its blocks.
 */
public final class SharedBufferArea {
  /** Blocks start on cache-line boundaries. */
  static final int ALIGNMENT = 64;

  private final SharedWriteRing memory;
  /** Free space: offset in the mapping → length; no two entries touch. */
  private final TreeMap<Integer, Integer> free = new TreeMap<>();

  private int freeBytes;

  /** The area {@code [start, start + length)} of {@code memory}'s mapping. */
  SharedBufferArea(SharedWriteRing memory, int start, int length) {
    if (start < 0 || length < 0 || (long) start + length > memory.mappedSize()) {
      throw new IllegalArgumentException(
          "area [" + start + ", " + ((long) start + length) + ") of " + memory.mappedSize());
    }
    this.memory = memory;
    int aligned = (start + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    int usable = length - (aligned - start);
    usable -= usable % ALIGNMENT;
    if (usable > 0) {
      free.put(aligned, usable);
      freeBytes = usable;
    }
  }

  /**
   * A block of {@code length} bytes, or null when no free space is that large or the memory was
   * unmapped (the session ended).
   */
  synchronized Block allocate(int length) {
    if (length < 1) {
      throw new IllegalArgumentException("length < 1");
    }
    long rounded = ((long) length + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    int offset = -1;
    int size = 0;
    for (Map.Entry<Integer, Integer> space : free.entrySet()) {
      if (space.getValue() >= rounded) {
        // Copied out: removing a TreeMap entry may reuse its node for its successor's mapping.
        offset = space.getKey();
        size = space.getValue();
        break;
      }
    }
    if (offset < 0) {
      return null;
    }
    ByteBuffer view;
    try {
      view = memory.slice(offset, length);
    } catch (IllegalStateException unmapped) {
      return null;
    }
    free.remove(offset);
    if (size > rounded) {
      free.put(offset + (int) rounded, size - (int) rounded);
    }
    freeBytes -= (int) rounded;
    return new Block(offset, length, (int) rounded, view);
  }

  /** Free bytes, in however many pieces; for tests. */
  synchronized int freeBytes() {
    return freeBytes;
  }

  /** Gives a block's space back, merging it with free neighbours. Called with the lock held. */
  private void release(int offset, int length) {
    int start = offset;
    int end = offset + length;
    Map.Entry<Integer, Integer> before = free.floorEntry(offset);
    if (before != null && before.getKey() + before.getValue() == start) {
      start = before.getKey();
      free.remove(start);
    }
    Integer after = free.get(end);
    if (after != null) {
      free.remove(end);
      end += after;
    }
    free.put(start, end - start);
    freeBytes += length;
  }

  /**
   * One {@code SharedBuffer}'s block: {@link #offset()} in the mapping (what a WRITE's ring slice
   * names), its memory, and the writes from it still in flight, which keep its space taken after
   * it is closed.
   */
  public final class Block {
    private final int offset;
    private final int length;
    private final int reserved;
    private final ByteBuffer view;
    /** The same memory, its position and limit never moved: what writes read. */
    private final ByteBuffer source;

    private int writesInFlight;
    private boolean closed;
    private boolean released;

    private Block(int offset, int length, int reserved, ByteBuffer view) {
      this.offset = offset;
      this.length = length;
      this.reserved = reserved;
      this.view = view;
      this.source = view.duplicate();
    }

    /** Where the block starts in the shared memory. */
    int offset() {
      return offset;
    }

    int length() {
      return length;
    }

    /** The block's memory; the one instance, its position and limit are the application's. */
    public ByteBuffer view() {
      return view;
    }

    /** Bytes {@code [offset, offset + length)} of the block, whatever the view's limit. */
    ByteBuffer bytes(int offset, int length) {
      return source.slice(offset, length);
    }

    /**
     * Counts a write from this block that is about to be sent.
     *
     * @throws IllegalStateException if the block was closed
     */
    void retain() {
      synchronized (SharedBufferArea.this) {
        checkOpen();
        writesInFlight++;
      }
    }

    /** A write {@link #retain} counted has completed: tlsd is done with its bytes. */
    void release() {
      synchronized (SharedBufferArea.this) {
        writesInFlight--;
        giveBackIfDone();
      }
    }

    /** @throws IllegalStateException if the block was closed */
    void checkOpen() {
      synchronized (SharedBufferArea.this) {
        if (closed) {
          throw new IllegalStateException("shared buffer closed");
        }
      }
    }

    /** No more writes from this block; its space returns once those in flight have completed. */
    public void close() {
      synchronized (SharedBufferArea.this) {
        closed = true;
        giveBackIfDone();
      }
    }

    private void giveBackIfDone() {
      if (closed && writesInFlight == 0 && !released) {
        released = true;
        SharedBufferArea.this.release(offset, reserved);
      }
    }
  }
}
