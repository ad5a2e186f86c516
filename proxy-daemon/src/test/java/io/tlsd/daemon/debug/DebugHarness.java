package io.tlsd.daemon.debug;

import io.tlsd.daemon.testing.FakeConnector;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.engine.SessionLimits;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** A debug session on an {@link EmbeddedChannel}: the whole pipeline, fed line by line. */
final class DebugHarness implements AutoCloseable {
    final FakeConnector connector;
    final FakeAcceptor acceptor;
    final DaemonCounters counters = new DaemonCounters();
    final EmbeddedChannel debug;

    private DebugHarness(FakeConnector connector, FakeAcceptor acceptor, DebugServer.Settings settings) {
        this.connector = connector;
        this.acceptor = acceptor;
        debug = new EmbeddedChannel(new DebugChannelInitializer(settings, connector, acceptor, counters,
                new DefaultChannelGroup(ImmediateEventExecutor.INSTANCE)));
        // Only advanceTimeBy moves the clock: a test that stops 1 ms short of a deadline must not
        // see it pass because the machine was slow.
        debug.freezeTime();
    }

    /** The client role, with the given line limit. */
    static DebugHarness client(int maxLineBytes) {
        return new DebugHarness(new FakeConnector(), null,
                new DebugServer.Settings("client", SessionLimits.DEFAULTS, maxLineBytes));
    }

    static DebugHarness client() {
        return client(DebugServer.Settings.DEFAULT_MAX_LINE_BYTES);
    }

    static DebugHarness server() {
        return new DebugHarness(null, new FakeAcceptor(), new DebugServer.Settings("server", SessionLimits.DEFAULTS));
    }

    /** Types {@code line} and Enter. */
    void type(String line) {
        sendRaw(line + "\n");
    }

    void sendRaw(String bytes) {
        debug.writeInbound(Unpooled.copiedBuffer(bytes, StandardCharsets.UTF_8));
        debug.runPendingTasks();
    }

    /** Types {@code line} and returns every line the daemon answered so far. */
    List<String> ask(String line) {
        type(line);
        return replies();
    }

    /** Every reply line written so far, in order. */
    List<String> replies() {
        debug.runPendingTasks();
        debug.runPendingTasks(); // what a scheduled task (a deadline) queued: the next command
        StringBuilder text = new StringBuilder();
        ByteBuf buf;
        while ((buf = debug.readOutbound()) != null) {
            try {
                text.append(buf.toString(StandardCharsets.UTF_8));
            } finally {
                buf.release();
            }
        }
        List<String> lines = new ArrayList<>();
        int start = 0;
        int nl;
        while ((nl = text.indexOf("\n", start)) >= 0) {
            lines.add(text.substring(start, nl));
            start = nl + 1;
        }
        assertEquals(text.length(), start, "a reply must end with a newline: " + text);
        return lines;
    }

    /** Opens a connection whose handshake succeeds; returns the ok line. */
    String established() {
        type("open localhost 4433");
        connector.last().succeed();
        List<String> replies = replies();
        assertEquals(1, replies.size(), replies.toString());
        return replies.get(0);
    }

    /** Bytes from the TLS peer of the last connection, as the SslHandler would pass them up. */
    void peerSends(byte[] bytes) {
        connector.last().channel.writeInbound(Unpooled.wrappedBuffer(bytes));
        debug.runPendingTasks();
    }

    void peerSends(String text) {
        peerSends(text.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void close() {
        if (connector != null) {
            for (FakeConnector.Attempt a : connector.attempts) {
                a.channel.finishAndReleaseAll();
            }
        }
        if (acceptor != null) {
            acceptor.clients.forEach(EmbeddedChannel::finishAndReleaseAll);
        }
        debug.finishAndReleaseAll();
    }
}
