package io.tlsd.daemon.transport;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.tlsd.sdk.internal.SharedTmpSocketDirectory;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Binding a Unix-domain server socket at a path the way a daemon must: the file never exists with
 * a wider mode than asked, not even briefly (it is bound in a fresh private directory, restricted,
 * then renamed into place); a stale socket left by a crash is replaced; a socket something
 * answers on, or a path that is not a socket, is left alone and the bind fails saying why. In
 * the fallback directory {@code /tmp/tlsd-<user>/} the bind also fails when another user could
 * swap the socket ({@link SharedTmpSocketDirectory}).
 */
public final class UnixSocketFile {
    /** sun_path of struct sockaddr_un is 108 bytes, including the terminating NUL. */
    private static final int MAX_SOCKET_PATH_BYTES = 107;
    private static final SecureRandom RANDOM = new SecureRandom();

    private UnixSocketFile() {
    }

    /**
     * Binds {@code bootstrap} at {@code path} with file mode {@code mode} (e.g. "rw-rw----").
     * Missing parent directories are made with mode 0750.
     */
    public static Channel bind(ServerBootstrap bootstrap, Transport transport, Path path, String mode)
            throws IOException, InterruptedException {
        Path target = path.toAbsolutePath();
        Path dir = target.getParent();
        prepare(target, dir);
        byte[] nonce = new byte[4];
        RANDOM.nextBytes(nonce);
        Path staging = dir.resolve(".tlsd-bind-" + HexFormat.of().formatHex(nonce));
        Path staged = staging.resolve("s");
        if (staged.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH_BYTES) {
            throw new IOException("socket path " + path + " is too long: it is bound as " + staged
                    + " first, longer than the " + MAX_SOCKET_PATH_BYTES + " bytes a Unix socket path may have");
        }
        Files.createDirectory(staging, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Channel channel = null;
        try {
            channel = bootstrap.channel(transport.domainServerChannel())
                    .bind(transport.domainAddress(staged))
                    .sync()
                    .channel();
            Files.setPosixFilePermissions(staged, PosixFilePermissions.fromString(mode));
            Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
            return channel;
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (channel != null) {
                channel.close().awaitUninterruptibly();
            }
            Files.deleteIfExists(staged);
            throw e;
        } finally {
            Files.deleteIfExists(staging);
        }
    }

    /**
     * Fails, as {@link #bind} would, if another daemon answers on {@code path} (the likeliest
     * reason for a bind to fail): for a daemon that binds other sockets first, so that it does not
     * take their ports only to give them back. {@link #bind} still checks the rest.
     */
    public static void requireFree(Path path) throws IOException {
        Path target = path.toAbsolutePath();
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && isLive(target)) {
            throw new IOException("another daemon is listening on " + target);
        }
    }

    private static void prepare(Path path, Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-x---")));
        }
        SharedTmpSocketDirectory.check(path);
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & 0170000) != 0140000) { // S_IFSOCK
            throw new IOException(path + " exists and is not a socket; not replacing it");
        }
        if (isLive(path)) {
            throw new IOException("another daemon is listening on " + path);
        }
        Files.delete(path); // left by a daemon that crashed
    }

    private static boolean isLive(Path path) {
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
