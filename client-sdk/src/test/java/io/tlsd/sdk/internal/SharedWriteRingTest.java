package io.tlsd.sdk.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SharedWriteRingTest {
  @TempDir Path dir;

  private SharedWriteRing ring(int size) throws IOException {
    Path file = dir.resolve("ring-" + size);
    try (FileChannel channel =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE_NEW,
            StandardOpenOption.READ,
            StandardOpenOption.WRITE)) {
      channel.write(ByteBuffer.allocate(1), size - 1);
    }
    return SharedWriteRing.map(file, size);
  }

  @Test
  void regionsFollowEachOtherAndSpaceReturnsInOrder() throws IOException {
    SharedWriteRing ring = ring(100);
    SharedWriteRing.Region a = ring.allocate(40);
    SharedWriteRing.Region b = ring.allocate(40);
    assertEquals(0, a.offset());
    assertEquals(40, b.offset());
    assertNull(ring.allocate(30), "only 20 bytes left");
    ring.free(b); // out of order: a still holds the space before it
    assertEquals(80, ring.usedBytes());
    assertNull(ring.allocate(30));
    ring.free(a);
    assertEquals(0, ring.usedBytes());
  }

  @Test
  void aRegionNeverWrapsTheSkippedTailIsItsToo() throws IOException {
    SharedWriteRing ring = ring(100);
    SharedWriteRing.Region a = ring.allocate(30);
    SharedWriteRing.Region b = ring.allocate(50);
    ring.free(a); // 30 free at the start, 20 at the end
    SharedWriteRing.Region c = ring.allocate(25); // does not fit in the 20 at the end
    assertNotNull(c);
    assertEquals(0, c.offset());
    assertEquals(95, ring.usedBytes(), "50 + the 20 skipped + 25");
    assertNull(ring.allocate(6));
    ring.free(b);
    assertEquals(45, ring.usedBytes(), "c and the 20 it skipped");
    ring.free(c);
    assertEquals(0, ring.usedBytes());
  }

  @Test
  void anEmptyRingStartsAgainAtTheBeginning() throws IOException {
    SharedWriteRing ring = ring(100);
    ring.free(ring.allocate(60));
    SharedWriteRing.Region whole = ring.allocate(100);
    assertNotNull(whole, "nothing in use: the whole ring is free, not just the 40 after the last region");
    assertEquals(0, whole.offset());
  }

  @Test
  void impossibleSizesAreNull() throws IOException {
    SharedWriteRing ring = ring(100);
    assertNull(ring.allocate(0));
    assertNull(ring.allocate(101));
  }

  @Test
  void freeingTwiceChangesNothing() throws IOException {
    SharedWriteRing ring = ring(100);
    SharedWriteRing.Region a = ring.allocate(10);
    SharedWriteRing.Region b = ring.allocate(10);
    ring.free(a);
    ring.free(a);
    assertEquals(10, ring.usedBytes());
    ring.free(b);
  }

  @Test
  void bytesPutAreInTheFile() throws IOException {
    Path file = dir.resolve("shared");
    Files.write(file, new byte[4096]);
    SharedWriteRing ring = SharedWriteRing.map(file, 4096);
    byte[] data = new byte[1000];
    new Random(3).nextBytes(data);
    ring.allocate(3000);
    SharedWriteRing.Region region = ring.allocate(1000);
    ring.put(region, java.nio.ByteBuffer.wrap(data));
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      MappedByteBuffer other = channel.map(FileChannel.MapMode.READ_ONLY, 0, 4096);
      byte[] seen = new byte[1000];
      other.get(3000, seen);
      org.junit.jupiter.api.Assertions.assertArrayEquals(data, seen);
    }
  }

  @Test
  void afterUnmapNothingTouchesTheMemoryButRegionsMayStillBeFreed() throws IOException {
    SharedWriteRing ring = ring(4096);
    SharedWriteRing.Region region = ring.allocate(100);
    ring.unmap();
    ring.unmap();
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> ring.put(region, java.nio.ByteBuffer.allocate(100)));
    assertEquals("write ring unmapped", e.getMessage());
    ring.free(region);
    assertEquals(0, ring.usedBytes());
  }

  @Test
  void aFileOfAnotherSizeIsRefused() throws IOException {
    Path file = dir.resolve("short");
    Files.write(file, new byte[100]);
    IOException e = assertThrows(IOException.class, () -> SharedWriteRing.map(file, 4096));
    assertEquals("write ring " + file + " has 100 bytes, the daemon announced 4096", e.getMessage());
  }

  @Test
  void manyWritersAndOneFreer() throws Exception {
    SharedWriteRing ring = ring(1 << 16);
    List<Thread> writers = new ArrayList<>();
    java.util.concurrent.LinkedBlockingQueue<SharedWriteRing.Region> done =
        new java.util.concurrent.LinkedBlockingQueue<>();
    for (int t = 0; t < 4; t++) {
      Thread writer =
          new Thread(
              () -> {
                for (int i = 0; i < 10_000; i++) {
                  SharedWriteRing.Region r = ring.allocate(1000 + i % 3000);
                  if (r != null) {
                    done.add(r);
                  }
                }
              });
      writers.add(writer);
      writer.start();
    }
    Thread freer =
        new Thread(
            () -> {
              try {
                while (true) {
                  SharedWriteRing.Region r = done.take();
                  if (r.offset() < 0) {
                    return;
                  }
                  ring.free(r);
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    freer.start();
    for (Thread writer : writers) {
      writer.join();
    }
    while (!done.isEmpty()) {
      Thread.sleep(1);
    }
    freer.interrupt();
    freer.join();
    assertEquals(0, ring.usedBytes(), "every region given back, every byte with it");
  }
}
