package io.tlsd.daemon.ipc;

import io.netty.channel.unix.PeerCredentials;
import java.util.List;
import java.util.Set;

/**
 * Which local processes may open a session on the IPC socket, by the user and group the kernel
 * reports for the connecting process ({@code SO_PEERCRED}), on top of the socket file's mode: a
 * second check for where file permissions are weaker than they look (a socket in a volume shared
 * between containers, a group that holds more users than the applications).
 *
 * <pre>{@code
 * AllowedPeers peers = AllowedPeers.of(List.of(1000), List.of(2000)); // uid 1000, or gid 2000
 * peers.allows(1000, 100); // true
 * }</pre>
 *
 * @param uids users allowed, whatever their group
 * @param gids groups allowed, whatever the user: the effective gid of the process when it
 *     connected (supplementary groups are not reported)
 */
public record AllowedPeers(Set<Integer> uids, Set<Integer> gids) {
    /** Anyone who can connect to the socket file. */
    public static final AllowedPeers ANYONE = new AllowedPeers(Set.of(), Set.of());

    public AllowedPeers {
        uids = Set.copyOf(uids);
        gids = Set.copyOf(gids);
    }

    public static AllowedPeers of(List<Integer> uids, List<Integer> gids) {
        return new AllowedPeers(Set.copyOf(uids), Set.copyOf(gids));
    }

    /** Whether any check beyond the socket file's mode is made. */
    public boolean restricts() {
        return !uids.isEmpty() || !gids.isEmpty();
    }

    /** Whether a process of user {@code uid} and group {@code gid} may open a session. */
    public boolean allows(int uid, int gid) {
        return !restricts() || uids.contains(uid) || gids.contains(gid);
    }

    /** Whether the process of {@code peer} may open a session; unknown credentials (null) only when no list restricts. */
    public boolean allows(PeerCredentials peer) {
        return !restricts() || peer != null && allows(peer.uid(), peer.gids()[0]);
    }

    /** "uids [1000] or gids [2000]", "anyone who can open the socket": for logs. */
    public String describe() {
        if (!restricts()) {
            return "anyone who can open the socket";
        }
        return (uids.isEmpty() ? "" : "uids " + uids.stream().sorted().toList())
                + (!uids.isEmpty() && !gids.isEmpty() ? " or " : "")
                + (gids.isEmpty() ? "" : "gids " + gids.stream().sorted().toList());
    }
}
