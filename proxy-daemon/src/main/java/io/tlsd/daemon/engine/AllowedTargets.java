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
 * certificate for that name (or for its server_name, which must be allowed too: {@code
 * TlsConnector.refusal}), so a list of names holds: a connection to {@code api.example.com} only
 * succeeds with a server that proves to be it. A host is matched as written, but for ASCII case
 * and a final dot, without a lookup: a name matches only name entries, an IP address only entries
 * with that address; a name outside ASCII (write IDNs as {@code xn--}) or whose last label is all
 * digits ({@code 127.1}, which a resolver would read as an address) matches nothing.
 *
 * <p>Immutable; equal when written alike.
 */
public final class AllowedTargets {
    /** Any host and port: no list. */
    public static final AllowedTargets ANY = new AllowedTargets(List.of(), List.of());

    private static final Pattern NAME =
            Pattern.compile("[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*");
    /** A name a resolver may read as an IPv4 address: {@code 127.1}, {@code 2130706433}. */
    private static final Pattern LAST_LABEL_DIGITS = Pattern.compile("(.*\\.)?[0-9]+");

    private final List<String> written;
    private final List<Entry> entries;

    /**
     * @param host a name in lower case, ".example.com" for a domain's names, an IP address in
     *     canonical form, or "*"
     * @param ip whether {@code host} is an IP address
     * @param port 0 for any
     */
    private record Entry(String host, boolean ip, int port) {
        boolean matches(String target, boolean targetIp, int targetPort) {
            if (port != 0 && port != targetPort) {
                return false;
            }
            if (host.equals("*")) {
                return true;
            }
            return ip == targetIp && (host.equals(target) || !ip && host.startsWith(".") && target.endsWith(host));
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
            return new Entry("*", false, number);
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            String ip = host.substring(1, host.length() - 1);
            if (!NetUtil.isValidIpV6Address(ip) || ip.indexOf('%') >= 0) {
                throw bad(written, "has no IPv6 address between its brackets");
            }
            return new Entry(canonical(ip), true, number);
        }
        if (host.indexOf(':') >= 0) {
            throw bad(written, "has an IPv6 address without brackets: write [ADDRESS]:PORT");
        }
        if (NetUtil.isValidIpV4Address(host)) {
            return new Entry(canonical(host), true, number);
        }
        boolean domain = host.startsWith("*.");
        String name = name(domain ? host.substring(2) : host, true);
        if (name == null) {
            throw bad(written, "has no DNS name, *.DOMAIN, IP address or * for its host");
        }
        return new Entry(domain ? "." + name : name, false, number);
    }

    private static IllegalArgumentException bad(String written, String why) {
        return new IllegalArgumentException("\"" + written + "\" " + why);
    }

    /**
     * {@code host} in lower case without a final dot; null if it is no DNS name, or one whose last
     * label is all digits.
     *
     * @param idn whether a name outside ASCII is turned into its {@code xn--} form (an entry's), or
     *     is no name (a target's: the resolver and the certificate check would not see the same)
     */
    private static String name(String host, boolean idn) {
        String h = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
        if (idn) {
            try {
                h = IDN.toASCII(h);
            } catch (IllegalArgumentException e) {
                return null;
            }
        } else if (h.chars().anyMatch(c -> c > 0x7f)) {
            return null; // before lower-casing, which turns the Kelvin sign into a k
        }
        h = h.toLowerCase(Locale.ROOT);
        if (!NAME.matcher(h).matches() || LAST_LABEL_DIGITS.matcher(h).matches()) {
            return null;
        }
        return h;
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
        boolean isIp = NetUtil.isValidIpV4Address(ip) || NetUtil.isValidIpV6Address(ip) && ip.indexOf('%') < 0;
        String target = isIp ? canonical(ip) : name(host, false);
        if (target == null) {
            return false;
        }
        for (Entry entry : entries) {
            if (entry.matches(target, isIp, port)) {
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
