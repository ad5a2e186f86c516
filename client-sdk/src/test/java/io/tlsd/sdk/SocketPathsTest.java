package io.tlsd.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class SocketPathsTest {
  @Test
  void usesXdgRuntimeDirWhenSet() {
    assertEquals(
        Path.of("/run/user/1000/tlsd/client.sock"),
        SocketPaths.resolve("client.sock", "/run/user/1000", "alice"));
  }

  @Test
  void fallsBackToAPerUserDirectoryInTmp() {
    assertEquals(
        Path.of("/tmp/tlsd-alice/server.sock"), SocketPaths.resolve("server.sock", null, "alice"));
    assertEquals(
        Path.of("/tmp/tlsd-alice/client.sock"), SocketPaths.resolve("client.sock", "", "alice"));
  }

  @Test
  void publicMethodsFollowTheEnvironment() {
    String xdg = System.getenv("XDG_RUNTIME_DIR");
    Path base =
        xdg != null && !xdg.isEmpty()
            ? Path.of(xdg, "tlsd")
            : Path.of("/tmp", "tlsd-" + System.getProperty("user.name"));
    assertEquals(base.resolve("client.sock"), SocketPaths.client());
    assertEquals(base.resolve("server.sock"), SocketPaths.server());
  }
}
