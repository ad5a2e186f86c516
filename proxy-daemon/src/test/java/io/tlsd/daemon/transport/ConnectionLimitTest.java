package io.tlsd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConnectionLimitTest {
    private static ConnectionLimit limit(int max) {
        return new ConnectionLimit(ch -> "listener test", "max_pending_connections", max);
    }

    @Test
    void admitsUpToTheLimitAndClosesTheNextAtOnce() {
        ConnectionLimit limit = limit(2);
        EmbeddedChannel a = new EmbeddedChannel();
        EmbeddedChannel b = new EmbeddedChannel();
        EmbeddedChannel c = new EmbeddedChannel();
        assertTrue(limit.admit(a));
        assertTrue(limit.admit(b));
        assertFalse(limit.admit(c));
        assertFalse(c.isOpen(), "refused and closed");
        assertTrue(a.isOpen() && b.isOpen());
        assertEquals(2, limit.admitted());
        assertEquals(1, limit.refused());
        a.close();
        b.close();
    }

    @Test
    void newLimitsApplyToTheNextConnectionsAndThoseAdmittedKeepTheirPlaces() {
        ConnectionLimit limit = limit(1);
        EmbeddedChannel a = new EmbeddedChannel();
        assertTrue(limit.admit(a));
        assertFalse(limit.admit(new EmbeddedChannel()));
        limit.limits(2, 0);
        EmbeddedChannel b = new EmbeddedChannel();
        assertTrue(limit.admit(b), "raised");
        limit.limits(1, 0);
        assertTrue(a.isOpen() && b.isOpen(), "lowered: the two admitted stay");
        assertFalse(limit.admit(new EmbeddedChannel()));
        a.close();
        assertFalse(limit.admit(new EmbeddedChannel()), "one place is still held, the limit is one");
        b.close();
        EmbeddedChannel c = new EmbeddedChannel();
        assertTrue(limit.admit(c));
        c.close();
        assertThrows(IllegalArgumentException.class, () -> limit.limits(-1, 0));
    }

    @Test
    void aConnectionThatClosesGivesItsPlaceBack() {
        ConnectionLimit limit = limit(1);
        EmbeddedChannel a = new EmbeddedChannel();
        assertTrue(limit.admit(a));
        assertFalse(limit.admit(new EmbeddedChannel()));
        a.close();
        assertEquals(0, limit.admitted());
        EmbeddedChannel b = new EmbeddedChannel();
        assertTrue(limit.admit(b));
        b.close();
    }

    @Test
    void releaseGivesThePlaceBackOnceThoughTheConnectionClosesLater() {
        ConnectionLimit limit = limit(2);
        EmbeddedChannel a = new EmbeddedChannel();
        EmbeddedChannel b = new EmbeddedChannel();
        assertTrue(limit.admit(a));
        assertTrue(limit.admit(b));
        limit.release(a);
        limit.release(a);
        assertEquals(1, limit.admitted());
        a.close();
        assertEquals(1, limit.admitted(), "b still holds its place");
        EmbeddedChannel c = new EmbeddedChannel();
        assertTrue(limit.admit(c));
        assertFalse(limit.admit(new EmbeddedChannel()));
        b.close();
        c.close();
        assertEquals(0, limit.admitted());
    }

    @Test
    void zeroMeansNoLimit() {
        ConnectionLimit limit = limit(0);
        List<EmbeddedChannel> channels = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            EmbeddedChannel ch = new EmbeddedChannel();
            assertTrue(limit.admit(ch));
            channels.add(ch);
        }
        assertEquals(0, limit.refused());
        assertEquals(10_000, limit.admitted(), "counted all the same");
        channels.forEach(EmbeddedChannel::close);
        assertEquals(0, limit.admitted());
    }

    @Test
    void aNegativeLimitIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> limit(-1));
    }

    /** An embedded channel that says it comes from {@code ip}, port {@code port}. */
    private static EmbeddedChannel from(String ip, int port) {
        InetSocketAddress remote = new InetSocketAddress(ip, port);
        return new EmbeddedChannel() {
            @Override
            protected SocketAddress remoteAddress0() {
                return remote;
            }
        };
    }

    @Test
    void aClientAddressHoldsAtMostItsShareWhateverItsPorts() {
        ConnectionLimit limit = new ConnectionLimit(ch -> "listener test", "max_pending_connections", 10,
                "max_pending_connections_per_client", 2);
        EmbeddedChannel a1 = from("192.0.2.1", 40001);
        EmbeddedChannel a2 = from("192.0.2.1", 40002);
        EmbeddedChannel a3 = from("192.0.2.1", 40003);
        EmbeddedChannel b1 = from("192.0.2.2", 40001);
        assertTrue(limit.admit(a1));
        assertTrue(limit.admit(a2));
        assertFalse(limit.admit(a3), "a third from the same address");
        assertFalse(a3.isOpen());
        assertTrue(limit.admit(b1), "another address has its own share");
        assertEquals(3, limit.admitted());
        assertEquals(1, limit.refused());
        assertEquals(2, limit.clients());

        a1.close(); // its place, and its address's, come back
        EmbeddedChannel a4 = from("192.0.2.1", 40004);
        assertTrue(limit.admit(a4));
        limit.release(a4);
        limit.release(a4);
        a4.close();
        a2.close();
        b1.close();
        assertEquals(0, limit.admitted());
        assertEquals(0, limit.clients(), "no address is remembered once it holds nothing");
    }

    @Test
    void aPerClientLimitSetByAReloadCountsTheConnectionsAlreadyOpen() {
        ConnectionLimit limit = new ConnectionLimit(ch -> "tunnel test", "max_connections", 10,
                "max_connections_per_client", 0);
        EmbeddedChannel a1 = from("192.0.2.1", 1);
        EmbeddedChannel a2 = from("192.0.2.1", 2);
        assertTrue(limit.admit(a1));
        assertTrue(limit.admit(a2));
        limit.limits(10, 2);
        assertFalse(limit.admit(from("192.0.2.1", 3)), "the two open count");
        assertTrue(limit.admit(from("192.0.2.2", 1)));
        limit.limits(10, 0);
        EmbeddedChannel a4 = from("192.0.2.1", 4);
        assertTrue(limit.admit(a4), "no per-client limit any more");
        limit.limits(10, 2);
        a1.close();
        assertFalse(limit.admit(from("192.0.2.1", 5)), "a2 and a4 still hold places");
        a2.close();
        a4.close();
        assertEquals(1, limit.clients(), "only 192.0.2.2 still holds a place");
    }

    @Test
    void aConnectionRefusedByTheOverallLimitLeavesNoPerClientCountBehind() {
        ConnectionLimit limit = new ConnectionLimit(ch -> "tunnel test", "max_connections", 1,
                "max_connections_per_client", 5);
        EmbeddedChannel a = from("192.0.2.1", 1);
        assertTrue(limit.admit(a));
        assertFalse(limit.admit(from("192.0.2.2", 1)));
        assertEquals(1, limit.clients(), "a refused connection leaves no count behind");
        a.close();
        assertEquals(0, limit.clients());
    }

    /**
     * A connection from {@code balancer} that is to begin with a PROXY header, admitted by
     * {@code limit}, and then given the v1 header naming {@code client}.
     */
    private static EmbeddedChannel proxied(ConnectionLimit limit, String balancer, String client, boolean admitted) {
        EmbeddedChannel ch = from(balancer, 50000);
        assertTrue(ProxyProtocolIn.install(ch, ProxySources.ANY, new ProxyProtocolIn.Refusals(), "listener test"));
        assertTrue(limit.admit(ch, true), "the balancer's own address is not what is counted");
        ch.writeInbound(Unpooled.copiedBuffer("PROXY TCP4 " + client + " 10.0.0.9 4000 443\r\n", StandardCharsets.US_ASCII));
        assertEquals(admitted, ch.isOpen(), client);
        assertEquals(new InetSocketAddress(client, 4000), ProxyProtocolIn.clientOf(ch));
        return ch;
    }

    @Test
    void behindABalancerTheClientAPROXYHeaderNamesHoldsTheShare() {
        ConnectionLimit limit = new ConnectionLimit(ch -> "listener test", "max_pending_connections", 10,
                "max_pending_connections_per_client", 2);
        List<Runnable> ran = new ArrayList<>();
        EmbeddedChannel a1 = proxied(limit, "10.0.0.2", "203.0.113.5", true);
        EmbeddedChannel a2 = proxied(limit, "10.0.0.2", "203.0.113.5", true);
        EmbeddedChannel b1 = proxied(limit, "10.0.0.2", "198.51.100.7", true);
        assertEquals(3, limit.admitted());
        assertEquals(2, limit.clients(), "counted per named client, not once for the balancer");
        EmbeddedChannel a3 = proxied(limit, "10.0.0.2", "203.0.113.5", false);
        assertEquals(1, limit.refused());
        assertEquals(3, limit.admitted(), "the refused connection gave its overall place back");

        // what waits for the header runs once it is read and the client admitted, and only then
        EmbeddedChannel waiting = from("10.0.0.2", 50001);
        ProxyProtocolIn.install(waiting, ProxySources.ANY, new ProxyProtocolIn.Refusals(), "listener test");
        assertTrue(limit.admit(waiting, true));
        ProxyProtocolIn.afterHeader(waiting, () -> ran.add(() -> { }));
        assertTrue(ran.isEmpty());
        // the header and the first bytes after it in one read, as balancers send them
        waiting.writeInbound(Unpooled.copiedBuffer("PROXY TCP4 203.0.113.5 10.0.0.9 4001 443\r\nClientHello",
                StandardCharsets.US_ASCII));
        assertFalse(waiting.isOpen(), "203.0.113.5 holds its two places");
        assertTrue(ran.isEmpty(), "not for a refused client");
        assertEquals(0, waiting.inboundMessages().size(), "what came with its header goes nowhere");

        a1.close();
        EmbeddedChannel a4 = from("10.0.0.2", 50002);
        ProxyProtocolIn.install(a4, ProxySources.ANY, new ProxyProtocolIn.Refusals(), "listener test");
        assertTrue(limit.admit(a4, true));
        ProxyProtocolIn.afterHeader(a4, () -> ran.add(() -> { }));
        a4.writeInbound(Unpooled.copiedBuffer("PROXY TCP4 203.0.113.5 10.0.0.9 4002 443\r\n",
                StandardCharsets.US_ASCII));
        assertTrue(a4.isOpen(), "a1 gave its client's place back");
        assertEquals(1, ran.size());
        ProxyProtocolIn.afterHeader(a4, () -> ran.add(() -> { }));
        assertEquals(2, ran.size(), "after the header: at once");

        List.of(a2, a3, b1, a4).forEach(EmbeddedChannel::close);
        assertEquals(0, limit.admitted());
        assertEquals(0, limit.clients());
    }

    @Test
    void aConnectionThatClosesBeforeItsHeaderLeavesNoCountBehind() {
        ConnectionLimit limit = new ConnectionLimit(ch -> "listener test", "max_pending_connections", 10,
                "max_pending_connections_per_client", 1);
        EmbeddedChannel ch = from("10.0.0.2", 50000);
        ProxyProtocolIn.install(ch, ProxySources.ANY, new ProxyProtocolIn.Refusals(), "listener test");
        assertTrue(limit.admit(ch, true));
        ch.close();
        assertEquals(0, limit.admitted());
        assertEquals(0, limit.clients());
        // a header that names no client (UNKNOWN here; LOCAL, the balancer's health check, alike) counts the balancer
        EmbeddedChannel check = from("10.0.0.2", 50001);
        ProxyProtocolIn.install(check, ProxySources.ANY, new ProxyProtocolIn.Refusals(), "listener test");
        assertTrue(limit.admit(check, true));
        check.writeInbound(Unpooled.copiedBuffer("PROXY UNKNOWN\r\n", StandardCharsets.US_ASCII));
        assertTrue(check.isOpen());
        assertEquals(1, limit.clients());
        check.close();
        assertEquals(0, limit.clients());
    }
}
