package io.tlsd.testing;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Tells whether a given process has a TCP socket in LISTEN state on a port, from Linux's
 * {@code /proc}.
 *
 * <p>This replaces the usual "poll until a TCP connect succeeds": a probe connection is a real
 * client to the peer, and {@code openssl s_server -naccept 1} counts it as its one connection and
 * exits. Checking that the socket belongs to the child also rules out mistaking another process
 * that grabbed the port for a ready peer.
 */
final class ListeningSockets {
    private static final String LISTEN = "0A";

    private ListeningSockets() {
    }

    static boolean isListening(long pid, int port) throws IOException {
        Set<String> inodes = listeningInodes(port);
        if (inodes.isEmpty()) {
            return false;
        }
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : fds) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (NoSuchFileException e) {
                    continue; // closed while we were listing
                }
                if (target.startsWith("socket:[") && inodes.contains(target.substring(8, target.length() - 1))) {
                    return true;
                }
            }
        } catch (NoSuchFileException e) {
            return false; // the process is gone
        }
        return false;
    }

    private static Set<String> listeningInodes(int port) throws IOException {
        String hexPort = String.format(Locale.ROOT, ":%04X", port);
        Set<String> inodes = new HashSet<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path path = Path.of(table);
            if (!Files.exists(path)) {
                continue; // no IPv6 in this kernel
            }
            List<String> lines = Files.readAllLines(path);
            // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            for (String line : lines.subList(1, lines.size())) {
                String[] columns = line.trim().split("\\s+");
                if (columns.length > 9 && columns[1].endsWith(hexPort) && columns[3].equals(LISTEN)) {
                    inodes.add(columns[9]);
                }
            }
        }
        return inodes;
    }
}
