package io.tlsd.daemon.transport;

import io.netty.handler.ipfilter.IpFilterRuleType;
import io.netty.handler.ipfilter.IpSubnetFilterRule;
import io.netty.util.NetUtil;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * Which TCP peers a listener or server tunnel with {@code accept_proxy_protocol} takes PROXY
 * protocol headers from: its {@code proxy_protocol_sources}, addresses and CIDR ranges of the load
 * balancers in front, or {@link #ANY} (every peer's header is believed). A connection from
 * anywhere else is closed before it is read ({@link ProxyProtocolIn#install}).
 *
 * <p>Immutable; equal when written alike (a reload compares them).
 */
public final class ProxySources {
    /** Any peer: the port is reachable by the balancer only. */
    public static final ProxySources ANY = new ProxySources(List.of(), List.of());

    private final List<String> ranges;
    private final List<IpSubnetFilterRule> rules;

    private ProxySources(List<String> ranges, List<IpSubnetFilterRule> rules) {
        this.ranges = ranges;
        this.rules = rules;
    }

    /**
     * The peers in {@code ranges}: IP addresses ({@code 192.0.2.7}, {@code 2001:db8::1}) or CIDR
     * ranges ({@code 10.0.0.0/8}, {@code fd00::/8}).
     *
     * @throws IllegalArgumentException if the list is empty or an entry is neither, naming it
     */
    public static ProxySources of(List<String> ranges) {
        if (ranges.isEmpty()) {
            throw new IllegalArgumentException("lists no address");
        }
        List<IpSubnetFilterRule> rules = new ArrayList<>(ranges.size());
        for (String range : ranges) {
            rules.add(rule(range));
        }
        return new ProxySources(List.copyOf(ranges), List.copyOf(rules));
    }

    private static IpSubnetFilterRule rule(String range) {
        int slash = range.indexOf('/');
        String ip = slash < 0 ? range : range.substring(0, slash);
        boolean v4 = NetUtil.isValidIpV4Address(ip);
        if (ip.indexOf('%') >= 0 || !v4 && !NetUtil.isValidIpV6Address(ip)) {
            throw new IllegalArgumentException("\"" + range + "\" is no IP address or CIDR range"
                    + " (such as 10.0.0.0/8 or 2001:db8::/32)");
        }
        int bits = v4 ? 32 : 128;
        int prefix = bits;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(range.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > bits) {
                throw new IllegalArgumentException("\"" + range + "\": the prefix length must be 0 to " + bits);
            }
        }
        InetAddress address = literal(ip);
        if (!v4 && address instanceof Inet4Address) { // ::ffff:10.0.0.0/104, which peers never show
            if (prefix < 96) {
                throw new IllegalArgumentException("\"" + range + "\": an IPv4-mapped range needs a prefix of 96 to"
                        + " 128; write it as IPv4");
            }
            prefix -= 96;
        }
        byte[] bytes = address.getAddress();
        for (int bit = prefix; bit < bytes.length * 8; bit++) {
            if ((bytes[bit / 8] & (0x80 >>> bit % 8)) != 0) {
                throw new IllegalArgumentException("\"" + range + "\" has address bits set past its prefix of "
                        + prefix + " bits; write the network's address");
            }
        }
        return new IpSubnetFilterRule(address, prefix, IpFilterRuleType.ACCEPT);
    }

    /** An address literal checked above: no name lookup. */
    private static InetAddress literal(String ip) {
        byte[] bytes = NetUtil.createByteArrayFromIpAddressString(ip);
        try {
            return InetAddress.getByAddress(bytes); // 16 bytes of an IPv4-mapped address give an Inet4Address
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("\"" + ip + "\" is no IP address", e);
        }
    }

    /** Whether every peer is trusted. */
    public boolean any() {
        return rules.isEmpty();
    }

    /** Whether a header from {@code peer} is believed. */
    public boolean trusts(SocketAddress peer) {
        if (rules.isEmpty()) {
            return true;
        }
        if (!(peer instanceof InetSocketAddress address) || address.getAddress() == null) {
            return false;
        }
        InetSocketAddress plain = unmapped(address);
        for (IpSubnetFilterRule rule : rules) {
            if (rule.matches(plain)) {
                return true;
            }
        }
        return false;
    }

    /** An IPv4 client of a dual-stack socket, {@code ::ffff:192.0.2.7}, as {@code 192.0.2.7}. */
    private static InetSocketAddress unmapped(InetSocketAddress address) {
        if (!(address.getAddress() instanceof Inet6Address v6)) {
            return address;
        }
        byte[] b = v6.getAddress();
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return address;
            }
        }
        if (b[10] != (byte) 0xff || b[11] != (byte) 0xff) {
            return address;
        }
        try {
            return new InetSocketAddress(InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]}),
                    address.getPort());
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // four bytes are always an address
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ProxySources other && ranges.equals(other.ranges);
    }

    @Override
    public int hashCode() {
        return ranges.hashCode();
    }

    /** "any", or the ranges as configured. */
    @Override
    public String toString() {
        return rules.isEmpty() ? "any" : String.join(", ", ranges);
    }
}
