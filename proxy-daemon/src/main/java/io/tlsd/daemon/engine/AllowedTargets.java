package io.tlsd.daemon.engine;

import io.netty.util.NetUtil;
import java.net.IDN;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Which hosts and ports applications may OPEN connections to ({@code allowed_targets}, client
 * role): entries {@code HOST:PORT}, where HOST is a DNS name ({@code api.example.com}), every
 * name under a domain ({@code *.example.com}, at any depth, not the domain itself), an IP address
 * ({@code 10.0.0.5}, {@code [2001:db8::1]}) or {@code *}, and PORT a number or {@code *}.
 *
 * <p>An OPEN names its target as the application wrote it, and the daemon verifies the server's
 * certificate for that name, so a list of names holds: a connection to {@code api.example.com}
 * only succeeds with a server that proves to be it. A name is matched as written (no lookup): an
 * IP address matches only an entry with that address.
 *
 * <p>Immutable; equal when written alike.
 */
public final class AllowedTargets {
    /** Any host and port: no list. */
    public static final AllowedTargets ANY = new AllowedTargets(List.of(), List.of());

    private static final Pattern NAME =
            Pattern.compile("[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*");

    private final List<String> written;
    private final List<Entry> entries;

    /** {@code host}: a name in lower case, ".example.com" for a domain's names, an IP in canonical form, or "*". */
    private record Entry(String host, int port) {
        boolean matches(String target, int targetPort) {
            if (port != 0 && port != targetPort) {
                return false;
            }
            return host.equals("*") || host.equals(target) || host.startsWith(".") && target.endsWith(host);
        }
    }

    private AllowedTargets(List<String> written, List<Entry> entries) {
        this.written = written;
        this.entries = entries;
    }

    /**
     * The targets {@code entries} name.
     *
     * @throws IllegalArgumentException if the list is empty or an entry is not {@code HOST:PORT},
     *     naming it
     */
    public static AllowedTargets of(List<String> entries) {
        if (entries.isEmpty()) {
            throw new IllegalArgumentException("lists no target");
        }
        List<Entry> parsed = new ArrayList<>(entries.size());
        for (String entry : entries) {
            parsed.add(entry(entry));
        }
        return new AllowedTargets(List.copyOf(entries), List.copyOf(parsed));
    }

    private static Entry entry(String written) {
        int colon = written.lastIndexOf(':');
        if (colon < 1 || colon == written.length() - 1) {
            throw bad(written, "is not HOST:PORT (such as api.example.com:443, *.internal:* or [2001:db8::1]:443)");
        }
        String host = written.substring(0, colon);
        String port = written.substring(colon + 1);
        int number = 0;
        if (!port.equals("*")) {
            try {
                number = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                number = -1;
            }
            if (number < 1 || number > 65535) {
                throw bad(written, "has no port 1 to 65535, or *");
            }
        }
        if (host.equals("*")) {
            return new Entry("*", number);
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            String ip = host.substring(1, host.length() - 1);
            if (!NetUtil.isValidIpV6Address(ip) || ip.indexOf('%') >= 0) {
                throw bad(written, "has no IPv6 address between its brackets");
            }
            return new Entry(canonical(ip), number);
        }
        if (host.indexOf(':') >= 0) {
            throw bad(written, "has an IPv6 address without brackets: write [ADDRESS]:PORT");
        }
        if (NetUtil.isValidIpV4Address(host)) {
            return new Entry(canonical(host), number);
        }
        boolean domain = host.startsWith("*.");
        String name = name(domain ? host.substring(2) : host);
        if (name == null) {
            throw bad(written, "has no DNS name, *.DOMAIN, IP address or * for its host");
        }
        return new Entry(domain ? "." + name : name, number);
    }

    private static IllegalArgumentException bad(String written, String why) {
        return new IllegalArgumentException("\"" + written + "\" " + why);
    }

    /** {@code host} in lower case, in ASCII (IDN), without a final dot; null if it is no DNS name. */
    private static String name(String host) {
        String h = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
        try {
            h = IDN.toASCII(h).toLowerCase(Locale.ROOT);
        } catch (IllegalArgumentException e) {
            return null;
        }
        return NAME.matcher(h).matches() ? h : null;
    }

    private static String canonical(String ip) {
        try {
            return InetAddress.getByAddress(NetUtil.createByteArrayFromIpAddressString(ip)).getHostAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("\"" + ip + "\" is no IP address", e);
        }
    }

    /** Whether there is no list. */
    public boolean any() {
        return entries.isEmpty();
    }

    /** Whether an OPEN of {@code host} (as the application wrote it) and {@code port} may go on. */
    public boolean allows(String host, int port) {
        if (entries.isEmpty()) {
            return true;
        }
        String ip = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        String target;
        if (NetUtil.isValidIpV4Address(ip) || NetUtil.isValidIpV6Address(ip) && ip.indexOf('%') < 0) {
            target = canonical(ip);
        } else {
            target = name(host);
            if (target == null) {
                return false;
            }
        }
        for (Entry entry : entries) {
            if (entry.matches(target, port)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AllowedTargets other && written.equals(other.written);
    }

    @Override
    public int hashCode() {
        return written.hashCode();
    }

    /** "any", or the entries as configured. */
    @Override
    public String toString() {
        return entries.isEmpty() ? "any" : String.join(", ", written);
    }
}
