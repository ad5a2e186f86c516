package io.tlsd.sdk;

import java.nio.file.Path;

/**
 * The default locations of the daemon's IPC sockets, shared by the daemon and the SDK so that both
 * find each other without configuration.
 *
 * <p>When {@code XDG_RUNTIME_DIR} is set (a per-user, private directory on systemd hosts) the
 * sockets live in {@code $XDG_RUNTIME_DIR/tlsd/}; otherwise in {@code /tmp/tlsd-<user.name>/}, with
 * the user name keeping the sockets of different users apart. Because another user could make
 * that directory first, the daemon will not bind and the SDK will not connect there unless it
 * belongs to this user and no one else may write it. {@code $TLSD_SOCKET} is deliberately
 * not read here: an explicit override is the caller's business.
 *
 * <pre>{@code
 * Path socket = SocketPaths.client();   // e.g. /run/user/1000/tlsd/client.sock
 * TlsdClient client = TlsdClient.builder().socket(socket).build();
 * }</pre>
 */
public final class SocketPaths {
  private SocketPaths() {}

  /** The socket of a daemon in the client role ({@code tlsd client}): {@code .../client.sock}. */
  public static Path client() {
    return resolve(
        "client.sock", System.getenv("XDG_RUNTIME_DIR"), System.getProperty("user.name"));
  }

  /** The socket of a daemon in the server role ({@code tlsd server}): {@code .../server.sock}. */
  public static Path server() {
    return resolve(
        "server.sock", System.getenv("XDG_RUNTIME_DIR"), System.getProperty("user.name"));
  }

  static Path resolve(String fileName, String xdgRuntimeDir, String userName) {
    if (xdgRuntimeDir != null && !xdgRuntimeDir.isEmpty()) {
      return Path.of(xdgRuntimeDir, "tlsd", fileName);
    }
    return Path.of("/tmp", "tlsd-" + userName, fileName);
  }
}
