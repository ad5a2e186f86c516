package io.tlsd.daemon.tunnel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.tlsd.daemon.testing.StderrCapture;
import io.tlsd.daemon.transport.ConnectionLimit;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Relay} and {@link RelayHandler} between two plain channels: backpressure, half-close
 * propagation and teardown, without sockets.
 */
class TunnelRelayTest {
    private EmbeddedDuplexChannel client;
    private EmbeddedDuplexChannel backend;
    private Relay relay;
    private final Listener listener = new Listener(new ConnectionLimit(ch -> "tunnel test", "max_connections", 0));

    @BeforeEach
    void relayBetweenTwoPlainChannels() {
        relayBetweenTwoPlainChannels(false);
    }

    private void relayBetweenTwoPlainChannels(boolean accessLog) {
        client = new EmbeddedDuplexChannel();
        backend = new EmbeddedDuplexChannel();
        relay = new Relay("tunnel test", End.plain(client, "client"), listener, accessLog);
        client.pipeline().addLast("relay", new RelayHandler(relay, relay.accepted()));
        End backendEnd = End.plain(backend, "backend");
        backend.pipeline().addLast("relay", new RelayHandler(relay, backendEnd));
        relay.attach(backendEnd);
    }

    @AfterEach
    void releaseEverything() {
        client.finishAndReleaseAll();
        backend.finishAndReleaseAll();
    }

    @Test
    void bytesReadBeforeStartAreHeldAndSentFirst() {
        client.writeInbound(text("early"));
        assertEquals(List.of(), backend.log, "nothing reaches a backend that is not ready");

        relay.start(null);

        assertEquals(List.of("write:early", "read"), backend.log);
        assertEquals(List.of("read"), client.log, "the next chunk is asked for once the held one is out");
        assertEquals("early", readText(backend));
    }

    @Test
    void bytesRelayedAreCountedPerDirectionHeldOnesWhenSent() {
        client.writeInbound(text("early"));
        assertEquals(0, listener.stats().bytesFromClients(), "held, not relayed yet");
        relay.start(null);
        client.writeInbound(text("one"));
        backend.writeInbound(text("reply"));

        assertEquals(8, listener.stats().bytesFromClients());
        assertEquals(5, listener.stats().bytesToClients());
        assertEquals("earlyone", readText(backend) + readText(backend));
        assertEquals("reply", readText(client));
    }

    @Test
    void readsTheNextChunkOnlyAfterTheWriteSucceeded() {
        relay.start(null);
        client.log.clear();
        backend.log.clear();
        backend.holdWrites();

        client.writeInbound(text("one"));
        assertEquals(List.of("write:one"), backend.log);
        assertEquals(0, client.reads(), "no read while the write is pending");

        backend.completeWrites();
        assertEquals(1, client.reads());
        readText(backend);
    }

    @Test
    void aFinEndsTheOtherOutputAfterThePendingWriteAndTheOtherDirectionFlows() {
        relay.start(null);
        client.log.clear();
        backend.log.clear();
        backend.holdWrites();

        client.writeInbound(text("last"));
        client.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertEquals(List.of("write:last"), backend.log, "the FIN waits for the bytes before it");

        backend.completeWrites();
        assertEquals(List.of("write:last", "shutdownOutput"), backend.log);
        assertEquals(0, client.reads(), "no read after the client's FIN");

        backend.writeInbound(text("reply"));
        assertEquals(List.of("write:reply"), client.log);
        assertTrue(client.isOpen() && backend.isOpen(), "half-closed, not closed");
        assertEquals(1, backend.reads(), "the backend is still read");
        readText(backend);
        readText(client);
    }

    @Test
    void whenBothDirectionsEndedBothChannelsClose() {
        relay.start(null);

        client.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertTrue(backend.isOutputShutdown());
        assertTrue(client.isOpen());

        backend.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertTrue(client.isOutputShutdown());
        assertFalse(client.isOpen());
        assertFalse(backend.isOpen());
        assertEquals("done", relay.ending());
    }

    @Test
    void withAnAccessLogARelayedConnectionGetsOneLineWhenItEnds() {
        releaseEverything();
        relayBetweenTwoPlainChannels(true);
        String logged = StderrCapture.of(() -> {
            relay.start(null);
            client.writeInbound(text("hello"));
            backend.writeInbound(text("hi"));
            readText(backend);
            readText(client);
            client.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
            backend.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        });
        List<String> lines = logged.lines().filter(l -> l.contains("tunnel test:")).toList();
        assertEquals(1, lines.size(), logged);
        assertTrue(lines.get(0).matches(".* INFO Relay - tunnel test: client embedded done after \\d+ ms:"
                + " 5 bytes from the client, 2 bytes to it"), lines.get(0));
    }

    @Test
    void withAnAccessLogAConnectionNeverRelayedGetsNoLine() {
        releaseEverything();
        relayBetweenTwoPlainChannels(true);
        String logged = StderrCapture.of(() -> relay.abort()); // e.g. its target could not be reached
        assertEquals("reset", relay.ending());
        assertFalse(logged.contains("tunnel test:"), logged);
    }

    @Test
    void aFinBeforeStartEndsTheDirectionAfterTheHeldBytes() {
        client.writeInbound(text("x"));
        client.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);

        relay.start(null);

        assertEquals(List.of("write:x", "shutdownOutput", "read"), backend.log);
        assertEquals(List.of(), client.log, "the client's input has ended: never read again");
        readText(backend);
    }

    @Test
    void anErrorResetsBothEnds() {
        relay.start(null);

        client.pipeline().fireExceptionCaught(new IOException("boom"));

        assertFalse(client.isOpen());
        assertFalse(backend.isOpen());
        assertFalse(backend.isOutputShutdown(), "a reset, not a clean FIN");
        assertEquals("client failed: boom (reset)", relay.ending());
    }

    @Test
    void aChannelClosingUnderTheRelayResetsTheOther() {
        relay.start(null);

        backend.close();

        assertFalse(client.isOpen());
        assertFalse(client.isOutputShutdown());
        assertEquals("backend closed abruptly (reset)", relay.ending());
    }

    @Test
    void idleClosesBoth() {
        relay.start(null);

        client.pipeline().fireUserEventTriggered(IdleStateEvent.ALL_IDLE_STATE_EVENT);

        assertFalse(client.isOpen());
        assertFalse(backend.isOpen());
        assertEquals("idle timeout", relay.ending());
    }

    @Test
    void holdingMoreThanTheBoundResetsInsteadOfBuffering() {
        client.writeInbound(Unpooled.wrappedBuffer(new byte[Relay.MAX_HELD_BYTES]));
        assertTrue(client.isOpen());

        client.writeInbound(text("one byte too many"));

        assertFalse(client.isOpen());
        assertFalse(backend.isOpen());
        assertEquals(List.of(), backend.log, "held bytes are released, not sent");
    }

    @Test
    void bytesReadAfterCloseAreReleased() {
        relay.start(null);
        relay.close();
        ByteBuf late = text("late");

        relay.read(relay.accepted(), late);

        assertEquals(0, late.refCnt());
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    private static String readText(EmbeddedDuplexChannel channel) {
        ByteBuf buf = channel.readOutbound();
        try {
            return buf.toString(StandardCharsets.UTF_8);
        } finally {
            buf.release();
        }
    }
}
