package io.tlsd.sdk.internal;

import com.sun.security.auth.module.UnixSystem;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.UserPrincipal;
import jdk.net.ExtendedSocketOptions;

/**
 * The guard on the fallback socket directory {@code /tmp/tlsd-<user>/} (see {@code SocketPaths}):
 * its name is predictable and {@code /tmp} is writable by everyone, so another local user could
 * make it first and then swap the socket in it for one of their own, to read what applications
 * send. The daemon, before it binds there, and the SDK, before it connects there, both require the
 * directory to be a real directory owned by this process's uid and writable by no one else; the
 * SDK, once connected, also requires the listening process to run as that user.
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
    check(socket, TMP, System.getProperty("user.name"), new UnixSystem().getUid());
  }

  /**
   * After connecting to {@code socket}: when it is in {@code /tmp/tlsd-<this user>/}, throws unless
   * the process that listens on it runs as this process's uid, as the kernel reports it. This
   * closes the gap between {@link #check} (which passes a directory that does not exist yet) and
   * the connect, in which another user could make the directory and a socket of theirs.
   */
  public static void checkPeer(Path socket, SocketChannel connected) throws IOException {
    checkPeer(socket, connected, TMP, System.getProperty("user.name"), new UnixSystem().getUid());
  }

  static void checkPeer(Path socket, SocketChannel connected, Path tmp, String user, long uid)
      throws IOException {
    if (fallbackDirectory(socket, tmp, user) == null) {
      return;
    }
    UserPrincipal daemon = connected.getOption(ExtendedSocketOptions.SO_PEERCRED).user();
    // by its number: a uid without a name (an arbitrary-uid container) is found as such
    UserPrincipal me =
        socket.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(Long.toString(uid));
    if (!daemon.equals(me)) {
      throw new IOException("the process listening on " + socket + " runs as " + daemon.getName()
          + ", not as uid " + uid + ": not a tlsd of this user");
    }
  }

  /** The fallback directory {@code socket} is in, or null when it is elsewhere. */
  private static Path fallbackDirectory(Path socket, Path tmp, String user) {
    Path dir = socket.toAbsolutePath().normalize().getParent();
    if (dir == null || !tmp.equals(dir.getParent())
        || !dir.getFileName().toString().equals("tlsd-" + user)) {
      return null;
    }
    return dir;
  }

  static void check(Path socket, Path tmp, String user, long uid) throws IOException {
    Path dir = fallbackDirectory(socket, tmp, user);
    if (dir == null) {
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
    } else {
      int owner = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
      int mode = (Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
      if (owner != uid) {
        problem = "belongs to " + attributes.owner().getName() + " (uid " + owner + "), not to uid " + uid;
      } else if ((mode & 0022) != 0) {
        problem = String.format("may be written by others (mode %04o)", mode & 07777);
      } else {
        return;
      }
    }
    throw new IOException(
        dir
            + " "
            + problem
            + ": another user could swap the tlsd socket in it for their own. Remove it (the daemon"
            + " makes it again, mode 0750), or set XDG_RUNTIME_DIR or an explicit socket path");
  }
}
