package io.tlsd.sdk.internal;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SharedTmpSocketDirectoryTest {
  private static final String USER = System.getProperty("user.name");
  private static final long UID = new com.sun.security.auth.module.UnixSystem().getUid();

  @TempDir Path tmp;

  private Path dir(String mode) throws IOException {
    Path dir = Files.createDirectory(tmp.resolve("tlsd-" + USER));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString(mode));
    return dir;
  }

  private String refusal(Path socket) {
    return assertThrows(
            IOException.class, () -> SharedTmpSocketDirectory.check(socket, tmp, USER, UID))
        .getMessage();
  }

  @Test
  void privateDirectoryAndMissingDirectoryPass() throws IOException {
    Path socket = tmp.resolve("tlsd-" + USER).resolve("client.sock");
    assertDoesNotThrow(() -> SharedTmpSocketDirectory.check(socket, tmp, USER, UID));
    dir("rwxr-x---");
    assertDoesNotThrow(() -> SharedTmpSocketDirectory.check(socket, tmp, USER, UID));
  }

  @Test
  void directoryOthersMayWriteIsRefused() throws IOException {
    Path dir = dir("rwxrwxrwx");
    String message = refusal(dir.resolve("client.sock"));
    assertTrue(message.contains("may be written by others (mode 0777)"), message);
    assertTrue(message.contains("XDG_RUNTIME_DIR"), message);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwx---"));
    assertTrue(refusal(dir.resolve("client.sock")).contains("mode 0770"));
  }

  @Test
  void symbolicLinkIsRefused() throws IOException {
    Path target = Files.createDirectory(tmp.resolve("elsewhere"));
    Path link = Files.createSymbolicLink(tmp.resolve("tlsd-" + USER), target);
    assertTrue(refusal(link.resolve("client.sock")).contains("is a symbolic link"));
  }

  @Test
  void directoryOfAnotherUserIsRefused() throws IOException {
    assumeTrue(UID == 0, "only root can give a directory away");
    Path dir = dir("rwxr-x---");
    UserPrincipal nobody =
        dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
    Files.setOwner(dir, nobody);
    String message = refusal(dir.resolve("client.sock"));
    assertTrue(message.contains("belongs to nobody (uid 65534), not to uid 0"), message);
  }

  @Test
  void theListeningProcessMustRunAsThisUser() throws IOException {
    Path dir = dir("rwxr-x---");
    Path socket = dir.resolve("client.sock");
    try (java.nio.channels.ServerSocketChannel server =
            java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX);
        java.nio.channels.SocketChannel client =
            java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
      server.bind(java.net.UnixDomainSocketAddress.of(socket));
      client.connect(java.net.UnixDomainSocketAddress.of(socket));
      assertDoesNotThrow(() -> SharedTmpSocketDirectory.checkPeer(socket, client, tmp, USER, UID));
      // as seen by another user: the listener (this process) is not them
      String message =
          assertThrows(
                  IOException.class,
                  () -> SharedTmpSocketDirectory.checkPeer(socket, client, tmp, USER, UID + 1))
              .getMessage();
      assertTrue(message.contains("runs as " + USER + ", not as uid " + (UID + 1)), message);
    }
  }

  @Test
  void otherPathsAreNotChecked() throws IOException {
    Path open = Files.createDirectory(tmp.resolve("shared"));
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
    assertDoesNotThrow(
        () -> SharedTmpSocketDirectory.check(open.resolve("client.sock"), tmp, USER, UID));
    Path someoneElses = Files.createDirectory(tmp.resolve("tlsd-" + USER + "x"));
    Files.setPosixFilePermissions(someoneElses, PosixFilePermissions.fromString("rwxrwxrwx"));
    assertDoesNotThrow(
        () -> SharedTmpSocketDirectory.check(someoneElses.resolve("client.sock"), tmp, USER, UID));
  }
}
