package io.tlsd.daemon.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.embedded.EmbeddedChannel;
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
}
