package io.tlsd.sdk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.google.protobuf.ByteString;
import io.tlsd.proto.v1.Completion;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class ByteStringsTest {
  @Test
  void parsedFieldHandsOverItsOwnArray() throws Exception {
    byte[] data = {1, 2, 3, 4, 5};
    byte[] wire =
        Completion.newBuilder().setOpId(9).setData(ByteString.copyFrom(data)).build().toByteArray();
    ByteString field =
        Completion.parseFrom(ByteBuffer.allocateDirect(wire.length).put(wire).flip()).getData();
    byte[] detached = ByteStrings.detach(field);
    assertArrayEquals(data, detached);
    assertSame(detached, ByteStrings.detach(field), "no copy");
  }

  @Test
  void partOfALargerArrayIsCopied() {
    byte[] backing = {9, 1, 2, 3, 9};
    ByteString middle = ByteString.copyFrom(backing).substring(1, 4);
    byte[] detached = ByteStrings.detach(middle);
    assertArrayEquals(new byte[] {1, 2, 3}, detached);
    detached[0] = 7;
    assertEquals(1, middle.byteAt(0));
  }

  @Test
  void concatenationIsCopied() {
    ByteString left = ByteString.copyFrom(new byte[300]);
    ByteString right = ByteString.copyFrom(new byte[] {1, 2});
    ByteString rope = left.concat(right);
    byte[] detached = ByteStrings.detach(rope);
    assertArrayEquals(rope.toByteArray(), detached);
    assertNotSame(detached, ByteStrings.detach(rope));
  }

  @Test
  void emptyIsAFreshArray() {
    assertEquals(0, ByteStrings.detach(ByteString.EMPTY).length);
    assertNotSame(ByteStrings.detach(ByteString.EMPTY), ByteStrings.detach(ByteString.EMPTY));
  }
}
