package io.tlsd.sdk.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tlsd.sdk.Status;
import org.junit.jupiter.api.Test;

class ProtoStatusTest {
  @Test
  void everyWireStatusMapsToTheSdkStatusOfTheSameName() {
    for (io.tlsd.proto.v1.Status wire : io.tlsd.proto.v1.Status.values()) {
      if (wire == io.tlsd.proto.v1.Status.UNRECOGNIZED) {
        continue;
      }
      assertEquals(wire.name(), ProtoStatus.toSdk(wire).name());
    }
    assertEquals(io.tlsd.proto.v1.Status.values().length - 1, Status.values().length);
  }

  @Test
  void unknownWireStatusIsInternal() {
    assertEquals(Status.INTERNAL, ProtoStatus.toSdk(io.tlsd.proto.v1.Status.UNRECOGNIZED));
  }
}
