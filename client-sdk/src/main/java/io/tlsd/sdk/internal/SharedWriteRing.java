package io.tlsd.sdk.internal;

import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;

/**
 * The application's side of a session's shared-memory write ring ({@code Welcome.write_ring}): a
 * file the daemon made, mapped read-write here, into which a write's plaintext is copied instead
 * of into the IPC frame.
 *
 * <p>Space is taken in order around the ring and given back when the write's completion arrives,
 * in whatever order completions come: the oldest region still in use holds back the space after
 * it. A region never wraps around the end; the unused tail it skips belongs to it. When there is
 * no room, {@link #allocate} says so and the write goes through the socket instead, so a ring
 * never makes a write wait.
 *
 * <p>The ring may cover only the start of the file: the rest is the application's {@link
 * SharedBufferArea} (its {@code SharedBuffer}s), whose views are {@link #slice slices} of the same
 * mapping.
 *
 * <p>Thread safety: {@link #allocate} and {@link #free} may be called from any thread; each
 * region is written by the one thread that allocated it.
 */
final class SharedWriteRing {
  /** {@code sun.misc.Unsafe.invokeCleaner}, bound; null where it is not available. */
  private static final MethodHandle UNMAP = unmapper();

  /** A region of the ring in use by one write. */
  static final class Region {
    private final int offset;
    private final long end;
    private boolean freed;

    private Region(int offset, long end) {
      this.offset = offset;
      this.end = end;
    }

    int offset() {
      return offset;
    }
  }

  private final MappedByteBuffer map;
  private final int size;
  private final ArrayDeque<Region> inUse = new ArrayDeque<>();
  /** Bytes ever allocated, and ever given back (both counting skipped tails). */
  private long head;

  private long tail;

  private boolean unmapped;

  /** Set once a {@link #slice} was handed out: the mapping is then left to the GC. */
  private boolean sliced;

  SharedWriteRing(MappedByteBuffer map, int ringSize) {
    if (ringSize < 0 || ringSize > map.capacity()) {
      throw new IllegalArgumentException("ringSize " + ringSize + " of " + map.capacity());
    }
    this.map = map;
    this.size = ringSize;
  }

  /** Maps the ring file at {@code path}, which must be exactly {@code size} bytes long. */
  static SharedWriteRing map(Path path, int size) throws IOException {
    return map(path, size, size);
  }

  /**
   * Maps the file at {@code path}, which must be exactly {@code size} bytes long, of which the
   * ring takes the first {@code ringSize}.
   */
  static SharedWriteRing map(Path path, int size, int ringSize) throws IOException {
    try (FileChannel file =
        FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      long actual = file.size();
      if (actual != size) {
        throw new IOException(
            "write ring " + path + " has " + actual + " bytes, the daemon announced " + size);
      }
      // The mapping outlives the channel.
      return new SharedWriteRing(file.map(FileChannel.MapMode.READ_WRITE, 0, size), ringSize);
    }
  }

  /** The ring's bytes: the start of the mapping. */
  int size() {
    return size;
  }

  /** The whole mapping's bytes, ring and what follows it. */
  int mappedSize() {
    return map.capacity();
  }

  /**
   * A view of bytes {@code [offset, offset + length)} of the mapping, for the application to keep
   * and fill. Once one is handed out the mapping is never released early (see {@link #unmap}):
   * touching memory that was unmapped would crash the JVM.
   */
  synchronized ByteBuffer slice(int offset, int length) {
    if (unmapped) {
      throw new IllegalStateException("write ring unmapped");
    }
    sliced = true;
    return map.slice(offset, length);
  }

  /** A region of {@code length} bytes, or null when the ring has no room for it now. */
  synchronized Region allocate(int length) {
    if (length < 1 || length > size) {
      return null;
    }
    if (inUse.isEmpty()) {
      head = 0; // nothing in use: start again at the beginning rather than skip a tail
      tail = 0;
    }
    int position = (int) (head % size);
    int skip = size - position < length ? size - position : 0;
    if (head + skip + length - tail > size) {
      return null;
    }
    head += skip;
    Region region = new Region((int) (head % size), head + length);
    head += length;
    inUse.addLast(region);
    return region;
  }

  /**
   * Copies the bytes between {@code data}'s position and limit (heap or direct) into {@code
   * region}, which {@link #allocate} made for as many; {@code data} is left as it is. The caller
   * makes sure this never runs with or after {@link #unmap}.
   */
  void put(Region region, ByteBuffer data) {
    if (unmapped) {
      throw new IllegalStateException("write ring unmapped");
    }
    map.put(region.offset, data, data.position(), data.remaining());
  }

  /**
   * Releases the mapping now (when the JDK lets this class do so and no {@link #slice} was handed
   * out, else once the GC finds the mapping and every slice unreachable). Nothing may touch the
   * ring afterwards; {@link #free} still may.
   */
  synchronized void unmap() {
    if (unmapped) {
      return;
    }
    unmapped = true;
    if (UNMAP != null && !sliced) {
      try {
        UNMAP.invokeExact((ByteBuffer) map);
      } catch (Throwable e) {
        // left to the GC
      }
    }
  }

  private static MethodHandle unmapper() {
    try {
      Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
      Field field = unsafeClass.getDeclaredField("theUnsafe");
      field.setAccessible(true);
      return MethodHandles.lookup()
          .findVirtual(
              unsafeClass, "invokeCleaner", MethodType.methodType(void.class, ByteBuffer.class))
          .bindTo(field.get(null));
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  /** Gives {@code region} back; the space returns once every region before it is back too. */
  synchronized void free(Region region) {
    if (region.freed) {
      return;
    }
    region.freed = true;
    while (!inUse.isEmpty() && inUse.peekFirst().freed) {
      tail = inUse.pollFirst().end;
    }
  }

  /** Bytes in use, skipped tails included; for tests. */
  synchronized long usedBytes() {
    return head - tail;
  }
}
