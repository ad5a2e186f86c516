package io.tlsd.sdk.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;

/**
 * The guard on the fallback socket directory {@code /tmp/tlsd-<user>/} (see {@code SocketPaths}):
 * its name is predictable and {@code /tmp} is writable by everyone, so another local user could
 * make it first and then swap the socket in it for one of their own, to read what applications
 * send. The daemon, before it binds there, and the SDK, before it connects there, both require the
 * directory to be a real directory owned by this process's user and writable by no one else.
 *
 * <p>Other directories are the operator's choice and are not checked: a socket in a volume shared
 * between containers, say, is often in a directory that everyone may write.
 */
public final class SharedTmpSocketDirectory {
  private static final Path TMP = Path.of("/tmp");

  private SharedTmpSocketDirectory() {}

  /**
   * Throws when {@code socket} is in {@code /tmp/tlsd-<this user>/}, that directory exists and is
   * not safe; does nothing for any other path.
   */
  public static void check(Path socket) throws IOException {
    check(socket, TMP, System.getProperty("user.name"));
  }

  static void check(Path socket, Path tmp, String user) throws IOException {
    Path dir = socket.toAbsolutePath().normalize().getParent();
    if (dir == null || !tmp.equals(dir.getParent())
        || !dir.getFileName().toString().equals("tlsd-" + user)) {
      return;
    }
    PosixFileAttributes attributes;
    try {
      attributes = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return;
    }
    String problem;
    if (attributes.isSymbolicLink()) {
      problem = "is a symbolic link";
    } else if (!attributes.isDirectory()) {
      problem = "is not a directory";
    } else if (!attributes.owner().getName().equals(user)) {
      problem = "belongs to " + attributes.owner().getName() + ", not to " + user;
    } else {
      int mode = (Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
      if ((mode & 0022) == 0) {
        return;
      }
      problem = String.format("may be written by others (mode %04o)", mode & 07777);
    }
    throw new IOException(
        dir
            + " "
            + problem
            + ": another user could swap the tlsd socket in it for their own. Remove it (the daemon"
            + " makes it again, mode 0750), or set XDG_RUNTIME_DIR or an explicit socket path");
  }
}
