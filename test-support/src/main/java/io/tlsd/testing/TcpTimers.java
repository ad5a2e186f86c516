package io.tlsd.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Which timer the kernel has armed on an established TCP socket of this network namespace, read
 * from {@code /proc/net/tcp} and {@code /proc/net/tcp6} (the {@code tr} column): a test can see
 * that a socket inside a daemon has keepalive on, without access to it.
 */
public final class TcpTimers {
    /** No timer: an idle socket without keepalive. */
    public static final int NONE = 0;
    /** The retransmission timer: data sent and not acknowledged yet. */
    public static final int RETRANSMIT = 1;
    /** The keepalive timer: an idle socket with SO_KEEPALIVE. */
    public static final int KEEPALIVE = 2;

    private static final String ESTABLISHED = "01";

    private TcpTimers() {
    }

    /**
     * The timers of the established sockets whose local port is {@code localPort} and remote port
     * {@code remotePort} (either 0: any), one per socket.
     */
    public static List<Integer> of(int localPort, int remotePort) {
        List<Integer> timers = new ArrayList<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            List<String> lines;
            try {
                lines = Files.readAllLines(Path.of(table));
            } catch (java.nio.file.NoSuchFileException e) {
                continue; // no IPv6
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            for (String line : lines.subList(1, lines.size())) {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when ...
                String[] f = line.trim().split("\\s+");
                if (!f[3].equals(ESTABLISHED) || (localPort != 0 && port(f[1]) != localPort)
                        || (remotePort != 0 && port(f[2]) != remotePort)) {
                    continue;
                }
                timers.add(Integer.parseInt(f[5].substring(0, f[5].indexOf(':')), 16));
            }
        }
        return timers;
    }

    private static int port(String address) {
        return Integer.parseInt(address.substring(address.indexOf(':') + 1), 16);
    }
}
