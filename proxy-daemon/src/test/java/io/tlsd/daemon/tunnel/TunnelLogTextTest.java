package io.tlsd.daemon.tunnel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.DecoderException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import javax.net.ssl.SSLHandshakeException;
import io.tlsd.daemon.transport.ConnectFailures;
import org.junit.jupiter.api.Test;

/** The reasons the tunnels put in their log lines, and which failures are only noise. */
class TunnelLogTextTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @Test
    void connectFailuresLoseNettysDecorations() {
        assertEquals("Connection refused", ConnectFailures.reason(
                new ConnectException("finishConnect(..) failed with error(-111): Connection refused"), TIMEOUT));
        assertEquals("Connection refused", ConnectFailures.reason(
                new ConnectException("Connection refused: /127.0.0.1:8080"), TIMEOUT));
        assertEquals("Connection refused", ConnectFailures.reason(new ConnectException(
                "finishConnect(..) failed with error(-111): Connection refused: localhost/127.0.0.1:44515"), TIMEOUT));
        assertEquals("No route to host", ConnectFailures.reason(
                new ConnectException("connect(..) failed: No route to host"), TIMEOUT));
        assertEquals("timed out after 10000 ms", ConnectFailures.reason(
                new ConnectTimeoutException("connection timed out: /192.0.2.1:443"), TIMEOUT));
    }

    @Test
    void tlsErrorsAreDescribedByTheirInnermostMessage() {
        DecoderException wrapped = new DecoderException(new SSLHandshakeException("error:10000416:SSL routines"));
        assertEquals("error:10000416:SSL routines", Relay.describe(wrapped));
    }

    @Test
    void resetsAndClosedChannelsAreNoiseOtherErrorsAreNot() {
        assertTrue(Relay.isExpectedNoise(new IOException("recvAddress(..) failed: Connection reset by peer")));
        assertTrue(Relay.isExpectedNoise(new IOException("writevAddresses(..) failed: Broken pipe")));
        assertTrue(Relay.isExpectedNoise(new ClosedChannelException()));
        assertFalse(Relay.isExpectedNoise(new DecoderException(new SSLHandshakeException("bad record mac"))));
    }

    @Test
    void addressesArePrintedWithoutSlashAndIpv6Bracketed() {
        assertEquals("127.0.0.1:4433", Relay.addressString(new InetSocketAddress("127.0.0.1", 4433)));
        assertEquals("[::1]:4433", Relay.addressString(new InetSocketAddress("::1", 4433)));
    }
}
