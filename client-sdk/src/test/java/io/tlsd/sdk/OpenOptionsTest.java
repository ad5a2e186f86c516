package io.tlsd.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class OpenOptionsTest {
  @Test
  void defaults() {
    OpenOptions options = OpenOptions.builder("example.test", 443).build();
    assertEquals("example.test", options.host());
    assertEquals(443, options.port());
    assertNull(options.serverName());
    assertEquals(List.of(), options.alpn());
    assertEquals(Duration.ZERO, options.timeout());
    assertEquals(0, options.timeoutMillis);
  }

  @Test
  void portAndHostAreValidated() {
    assertEquals(
        "port must be in 1..65535 but was 0",
        assertThrows(IllegalArgumentException.class, () -> OpenOptions.builder("example.test", 0))
            .getMessage());
    assertEquals(
        "port must be in 1..65535 but was 65536",
        assertThrows(
                IllegalArgumentException.class, () -> OpenOptions.builder("example.test", 65536))
            .getMessage());
    assertEquals(
        "host is empty",
        assertThrows(IllegalArgumentException.class, () -> OpenOptions.builder("", 443))
            .getMessage());
    assertEquals(
        "host == null",
        assertThrows(NullPointerException.class, () -> OpenOptions.builder(null, 443))
            .getMessage());
    OpenOptions.builder("example.test", 1).build();
    OpenOptions.builder("example.test", 65535).build();
  }

  @Test
  void settersValidate() {
    OpenOptions.Builder builder = OpenOptions.builder("example.test", 443);
    assertEquals(
        "timeout < 0",
        assertThrows(IllegalArgumentException.class, () -> builder.timeout(Duration.ofMillis(-5)))
            .getMessage());
    assertEquals(
        "timeout > 4294967295 ms",
        assertThrows(IllegalArgumentException.class, () -> builder.timeout(Duration.ofDays(50)))
            .getMessage());
    assertEquals(
        "serverName is empty",
        assertThrows(IllegalArgumentException.class, () -> builder.serverName("")).getMessage());
    assertEquals(
        "alpn protocol must be 1..255 bytes: \"\"",
        assertThrows(IllegalArgumentException.class, () -> builder.alpn("h2", "")).getMessage());
  }

  @Test
  void timeoutRoundsSubMillisecondsUp() {
    OpenOptions options =
        OpenOptions.builder("example.test", 443).timeout(Duration.ofNanos(1_500_000)).build();
    assertEquals(2, options.timeoutMillis);
  }

  @Test
  void optionsDoNotChangeWhenTheAlpnListDoes() {
    List<String> protocols = new ArrayList<>(List.of("h2"));
    OpenOptions.Builder builder = OpenOptions.builder("example.test", 443).alpn(protocols);
    OpenOptions first = builder.build();
    protocols.add("http/1.1");
    builder.alpn("http/1.1");
    assertEquals(List.of("h2"), first.alpn());
    assertEquals(List.of("http/1.1"), builder.build().alpn());
  }
}
