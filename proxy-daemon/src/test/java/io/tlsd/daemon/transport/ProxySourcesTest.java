package io.tlsd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProxySourcesTest {
    private static InetSocketAddress peer(String ip) throws Exception {
        return new InetSocketAddress(InetAddress.getByName(ip), 40000);
    }

    @Test
    void addressesAndRangesOfBothFamilies() throws Exception {
        ProxySources sources = ProxySources.of(List.of("10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"));
        assertTrue(sources.trusts(peer("10.200.3.4")));
        assertTrue(sources.trusts(peer("192.0.2.7")));
        assertFalse(sources.trusts(peer("192.0.2.8")), "an address alone is a /32");
        assertFalse(sources.trusts(peer("11.0.0.1")));
        assertTrue(sources.trusts(peer("2001:db8:1::5")));
        assertTrue(sources.trusts(peer("::1")));
        assertFalse(sources.trusts(peer("2001:db9::1")));
        assertFalse(sources.trusts(peer("127.0.0.1")), "::1 is not 127.0.0.1");
        assertFalse(sources.any());
        assertEquals("10.0.0.0/8, 192.0.2.7, 2001:db8::/32, ::1", sources.toString());
    }

    @Test
    void anIpv4ClientOfADualStackSocketIsMatchedAsIpv4() throws Exception {
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        mapped[12] = 10;
        mapped[15] = 9;
        InetAddress v6 = java.net.Inet6Address.getByAddress(null, mapped, -1);
        assertTrue(ProxySources.of(List.of("10.0.0.0/24")).trusts(new InetSocketAddress(v6, 1)));
        assertFalse(ProxySources.of(List.of("10.0.1.0/24")).trusts(new InetSocketAddress(v6, 1)));
    }

    @Test
    void anIpv4MappedEntryIsAnIpv4One() throws Exception {
        assertTrue(ProxySources.of(List.of("::ffff:10.0.0.7")).trusts(peer("10.0.0.7")));
        assertFalse(ProxySources.of(List.of("::ffff:10.0.0.7")).trusts(peer("10.0.0.8")));
        assertTrue(ProxySources.of(List.of("::ffff:10.0.0.0/104")).trusts(peer("10.9.9.9")), "a /8");
        assertFalse(ProxySources.of(List.of("::ffff:10.0.0.0/120")).trusts(peer("10.0.1.1")), "a /24");
    }

    @Test
    void anyTrustsEveryPeerAndAWideRangeToo() throws Exception {
        assertTrue(ProxySources.ANY.any());
        assertTrue(ProxySources.ANY.trusts(peer("203.0.113.1")));
        assertEquals("any", ProxySources.ANY.toString());
        assertTrue(ProxySources.of(List.of("0.0.0.0/0")).trusts(peer("203.0.113.1")));
        assertFalse(ProxySources.of(List.of("0.0.0.0/0")).trusts(peer("2001:db8::1")), "a family apart");
    }

    @Test
    void whatIsNoAddressOrRangeIsRefusedByName() {
        for (String bad : List.of("balancer.internal", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::1/129",
                "10.0.0.0/-1", "", "fe80::1%eth0", "10.1.2.3/8", "2001:db8::1/32", "::ffff:10.0.0.0/64")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ProxySources.of(List.of("10.0.0.1", bad)), bad);
            assertTrue(e.getMessage().contains("\"" + bad + "\""), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> ProxySources.of(List.of()));
    }

    @Test
    void equalWhenWrittenAlike() {
        assertEquals(ProxySources.of(List.of("10.0.0.0/8")), ProxySources.of(List.of("10.0.0.0/8")));
        assertNotEquals(ProxySources.of(List.of("10.0.0.0/8")), ProxySources.of(List.of("10.0.0.0/16")));
        assertNotEquals(ProxySources.ANY, ProxySources.of(List.of("0.0.0.0/0")));
    }

    /** An embedded channel whose peer is {@code peer}. */
    private static EmbeddedChannel from(InetSocketAddress peer) {
        return new EmbeddedChannel() {
            @Override
            protected java.net.SocketAddress remoteAddress0() {
                return peer;
            }
        };
    }

    @Test
    void onlyAListedPeerGetsTheHeadersReader() throws Exception {
        ProxySources balancers = ProxySources.of(List.of("10.0.0.0/8"));
        ProxyProtocolIn.Refusals refusals = new ProxyProtocolIn.Refusals();
        EmbeddedChannel balancer = from(peer("10.1.2.3"));
        assertTrue(ProxyProtocolIn.install(balancer, balancers, refusals, "listener web"));
        assertTrue(balancer.isOpen());
        assertTrue(balancer.pipeline().names().contains("proxy-decoder"));
        balancer.finishAndReleaseAll();

        EmbeddedChannel direct = from(peer("198.51.100.4"));
        assertFalse(ProxyProtocolIn.install(direct, balancers, refusals, "listener web"));
        assertFalse(direct.isOpen(), "closed before a byte is read");
        assertFalse(direct.pipeline().names().contains("proxy-decoder"));
        assertEquals(1, refusals.untrusted());
    }

    @Test
    void aConnectionFromElsewhereIsClosedBeforeItIsRead() {
        EmbeddedChannel ch = new EmbeddedChannel(); // its peer is no IP address: trusted by ANY only
        assertFalse(ProxyProtocolIn.install(ch, ProxySources.of(List.of("127.0.0.1")), new ProxyProtocolIn.Refusals(),
                "listener web"));
        assertFalse(ch.isOpen());
        EmbeddedChannel trusted = new EmbeddedChannel();
        assertTrue(ProxyProtocolIn.install(trusted, ProxySources.ANY, new ProxyProtocolIn.Refusals(), "listener web"));
        assertTrue(trusted.isOpen());
        assertTrue(trusted.pipeline().names().contains("proxy-decoder"));
        trusted.finishAndReleaseAll();
    }
}
