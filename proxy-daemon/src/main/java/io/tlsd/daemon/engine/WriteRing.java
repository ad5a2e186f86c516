package io.tlsd.daemon.engine;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.tlsd.proto.v1.Status;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Set;
import java.util.stream.Stream;

/**
 * One session's shared-memory write ring, the daemon's side: a file the application maps
 * read-write and puts WRITE plaintext in ({@code Write.ring}), so the bytes do not cross the Unix
 * socket. The daemon does not map it: it reads a write's bytes out of the file ({@code pread}),
 * when the write starts, together with those of the writes queued right behind it whose slices
 * follow on (see {@link #read}).
 *
 * <p>Why a read and not a mapping: the application can shrink the file at any time, and touching
 * a mapped page past the new end raises SIGBUS, which the JVM reports late and inside BoringSSL
 * would end the whole daemon. A read of a shrunk file only comes back short, which fails the
 * write ({@code BAD_REQUEST}) and nothing else.
 *
 * <p>Lifecycle, all on the session's loop: {@link #create} makes the file (mode 0660, a random name,
 * in the daemon's private ring directory); {@link #unlink} removes its name once the application
 * has mapped it (at the session's first request); {@link #close} also closes it, once no request
 * can reach it any more.
 */
public final class WriteRing implements AutoCloseable {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path path;
    private final FileChannel file;
    private final int size;
    private boolean linked = true;
    private boolean closed;

    private WriteRing(Path path, FileChannel file, int size) {
        this.path = path;
        this.file = file;
        this.size = size;
    }

    /**
     * Makes the daemon's ring directory in {@code parent} (e.g. /dev/shm): mode 0710, so the
     * group that may use the IPC socket can open a ring whose name it was told but cannot list
     * the others.
     */
    public static Path createDirectory(Path parent) throws IOException {
        Path dir = Files.createTempDirectory(parent, "tlsd-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x---"));
        return dir;
    }

    /** Removes the ring directory and whatever rings are left in it. */
    public static void deleteDirectory(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Makes a ring of {@code size} bytes in {@code directory} (see {@link #createDirectory}). */
    public static WriteRing create(Path directory, int size) throws IOException {
        if (size <= 0) {
            throw new IllegalArgumentException("size " + size);
        }
        byte[] name = new byte[16];
        RANDOM.nextBytes(name);
        Path path = directory.resolve("ring-" + HexFormat.of().formatHex(name));
        FileChannel file = FileChannel.open(path, Set.of(StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.READ, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-rw----")));
        try {
            // The umask may have narrowed the mode given at creation.
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw----"));
            // Every page now, not as the application first touches it: on a full tmpfs this
            // fails here (the session goes on without a ring) instead of raising SIGBUS in the
            // application's copy later.
            ByteBuffer zeros = ByteBuffer.allocate(Math.min(size, 64 << 10));
            for (long position = 0; position < size; ) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), size - position));
                position += file.write(zeros, position);
            }
            return new WriteRing(path, file, size);
        } catch (IOException | RuntimeException e) {
            file.close();
            Files.deleteIfExists(path);
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public int size() {
        return size;
    }

    /** Removes the file's name; the application's mapping and the daemon's file stay. Idempotent. */
    public void unlink() {
        if (linked) {
            linked = false;
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                // the directory goes with the daemon; nothing else to do here
            }
        }
    }

    /**
     * Checks that {@code [offset, offset + length)} lies inside the ring.
     *
     * @throws Failure BAD_REQUEST if it does not
     */
    void checkSlice(long offset, long length) throws Failure {
        if (offset < 0 || length < 1 || offset + length > size) {
            throw new Failure(Status.BAD_REQUEST, "write: ring slice [" + offset + ", " + (offset + length)
                    + ") is not inside the write ring of " + size + " bytes");
        }
    }

    /**
     * Bytes {@code [offset, offset + length)} of the ring (a slice {@link #checkSlice} accepted),
     * read into a new direct buffer of {@code alloc}'s that the caller owns.
     *
     * @throws Failure BAD_REQUEST for a file the application shrank or that cannot be read
     */
    ByteBuf read(ByteBufAllocator alloc, long offset, int length) throws Failure {
        if (closed) {
            throw new IllegalStateException("ring closed");
        }
        checkSlice(offset, length);
        ByteBuf data = alloc.directBuffer(length);
        try {
            ByteBuffer into = data.nioBuffer(0, length);
            long position = offset;
            while (into.hasRemaining()) {
                if (file.read(into, position) <= 0) {
                    throw new Failure(Status.BAD_REQUEST, "write: the write ring is shorter than " + size
                            + " bytes: the application truncated it");
                }
                position = offset + into.position();
            }
            data.writerIndex(length);
            return data;
        } catch (IOException e) {
            data.release();
            throw new Failure(Status.BAD_REQUEST, "write: cannot read the write ring: " + e);
        } catch (Failure | RuntimeException e) {
            data.release();
            throw e;
        }
    }

    /** Unlinks and closes the ring; later {@link #read} calls fail. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        unlink();
        try {
            file.close();
        } catch (IOException e) {
            // closing a file we only read; nothing to recover
        }
    }
}
