package io.tlsd.sdk.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SharedBufferAreaTest {
  @TempDir Path dir;

  /** A 4096-byte file whose first {@code ringSize} bytes are the ring, the rest the area. */
  private SharedWriteRing memory(Path file, int ringSize) throws IOException {
    Files.write(file, new byte[4096]);
    return SharedWriteRing.map(file, 4096, ringSize);
  }

  @Test
  void blocksStartOnCacheLinesAfterTheRingAndTheirBytesAreTheFiles() throws IOException {
    Path file = dir.resolve("shared");
    SharedWriteRing memory = memory(file, 1000);
    assertEquals(1000, memory.size(), "the ring is the start of the file");
    SharedBufferArea area = new SharedBufferArea(memory, 1000, 3096);
    assertEquals(3072, area.freeBytes(), "1024..4096: an aligned start, whole lines");

    SharedBufferArea.Block a = area.allocate(100);
    SharedBufferArea.Block b = area.allocate(64);
    assertEquals(1024, a.offset());
    assertEquals(1024 + 128, b.offset(), "100 bytes take two lines");
    assertEquals(100, a.view().capacity());
    assertEquals(3072 - 192, area.freeBytes());

    a.view().put(0, (byte) 7).put(99, (byte) 9);
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      MappedByteBuffer other = channel.map(FileChannel.MapMode.READ_ONLY, 0, 4096);
      byte[] seen = new byte[100];
      other.get(1024, seen);
      assertEquals(7, seen[0]);
      assertEquals(9, seen[99]);
    }
  }

  @Test
  void freeSpaceMergesWithItsNeighboursAndIsTakenFirstFit() throws IOException {
    SharedBufferArea area = new SharedBufferArea(memory(dir.resolve("f"), 0), 0, 4096);
    SharedBufferArea.Block a = area.allocate(1024);
    SharedBufferArea.Block b = area.allocate(1024);
    SharedBufferArea.Block c = area.allocate(1024);
    SharedBufferArea.Block d = area.allocate(1024);
    assertNull(area.allocate(1), "full");
    a.close();
    c.close();
    assertNull(area.allocate(2048), "2 KiB free, in two pieces");
    assertEquals(0, area.allocate(1000).offset(), "the first piece that fits");
    b.close();
    SharedBufferArea.Block merged = area.allocate(2048);
    assertEquals(1024, merged.offset(), "b's space and c's merged");
    merged.close();
    d.close();
    assertEquals(1024, area.allocate(3072).offset(), "and d's");
    assertEquals(4096 - 1024 - 3072, area.freeBytes());
  }

  /** Three free pieces and more, of every size: blocks never overlap, and every byte returns. */
  @Test
  void blocksNeverOverlapWhateverTheFreePieces() throws IOException {
    SharedBufferArea area = new SharedBufferArea(memory(dir.resolve("f"), 0), 0, 4096);
    java.util.Random random = new java.util.Random(11);
    List<SharedBufferArea.Block> live = new ArrayList<>();
    for (int step = 0; step < 5000; step++) {
      if (!live.isEmpty() && random.nextInt(3) == 0) {
        live.remove(random.nextInt(live.size())).close();
      } else {
        SharedBufferArea.Block block = area.allocate(1 + random.nextInt(700));
        if (block != null) {
          for (SharedBufferArea.Block other : live) {
            boolean apart =
                block.offset() + block.length() <= other.offset()
                    || other.offset() + other.length() <= block.offset();
            assertTrue(apart, "step " + step + ": " + block.offset() + " overlaps " + other.offset());
          }
          live.add(block);
        }
      }
      int taken = 0;
      for (SharedBufferArea.Block block : live) {
        taken += (block.length() + 63) / 64 * 64;
      }
      assertEquals(4096 - taken, area.freeBytes(), "step " + step);
    }
    live.forEach(SharedBufferArea.Block::close);
    assertNotNull(area.allocate(4096), "all of it back, in one piece");
  }

  @Test
  void aClosedBlocksSpaceWaitsForItsWritesInFlight() throws IOException {
    SharedBufferArea area = new SharedBufferArea(memory(dir.resolve("f"), 0), 0, 4096);
    SharedBufferArea.Block block = area.allocate(4096);
    block.retain();
    block.retain();
    block.close();
    block.close();
    assertEquals(0, area.freeBytes(), "two writes still read it");
    IllegalStateException e = assertThrows(IllegalStateException.class, block::retain);
    assertEquals("shared buffer closed", e.getMessage());
    assertThrows(IllegalStateException.class, block::checkOpen);
    block.release();
    assertEquals(0, area.freeBytes());
    block.release();
    assertEquals(4096, area.freeBytes(), "given back once, at the last completion");
    assertNotNull(area.allocate(4096));
  }

  @Test
  void anUnmappedRingLeavesSlicesMappedForTheGc() throws IOException {
    SharedWriteRing memory = memory(dir.resolve("f"), 2048);
    SharedBufferArea area = new SharedBufferArea(memory, 2048, 2048);
    SharedBufferArea.Block block = area.allocate(16);
    memory.unmap();
    block.view().put(0, new byte[] {1, 2, 3});
    byte[] back = new byte[3];
    block.view().get(0, back);
    assertArrayEquals(new byte[] {1, 2, 3}, back, "the slice's memory is still there");
    assertThrows(IllegalStateException.class, () -> memory.slice(0, 1));
    int free = area.freeBytes();
    assertNull(area.allocate(16), "no new blocks once unmapped");
    assertEquals(free, area.freeBytes(), "and no space lost to the refusal");
  }

  @Test
  void sharedBuffersGetWhatTheyAskedForFirst() {
    assertEquals(1 << 20, Session.sharedShare(5 << 20, 1 << 20), "all granted");
    assertEquals(4 << 20, Session.sharedShare(4 << 20, 8 << 20), "all there is, the ring none");
    assertEquals(0, Session.sharedShare(4 << 20, 0));
    assertEquals(0, Session.sharedShare(0, 1 << 20), "no shared memory");
  }
}
