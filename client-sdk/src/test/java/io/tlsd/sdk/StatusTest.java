package io.tlsd.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StatusTest {
  @Test
  void onlyTransientFailuresAreRetryable() {
    Set<Status> retryable = EnumSet.noneOf(Status.class);
    for (Status status : Status.values()) {
      if (status.isRetryable()) {
        retryable.add(status);
      }
    }
    assertEquals(
        EnumSet.of(
            Status.LIMIT_EXCEEDED, Status.UNAVAILABLE, Status.CONNECT_FAILED, Status.TIMED_OUT),
        retryable);
  }

  @Test
  void exceptionMessageIsStatusAndDetail() {
    TlsdException e = new TlsdException(Status.CERT_INVALID, "certificate expired");
    assertEquals("CERT_INVALID: certificate expired", e.getMessage());
    assertEquals("TIMED_OUT", new TlsdException(Status.TIMED_OUT, "").getMessage());
    assertEquals("", new TlsdException(Status.TIMED_OUT, null).detail());
    assertThrows(IllegalArgumentException.class, () -> new TlsdException(Status.OK, "fine"));
  }
}
