package io.tlsd.daemon.debug;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.LineEncoder;
import io.netty.handler.codec.string.LineSeparator;
import io.netty.handler.codec.string.StringDecoder;
import io.tlsd.daemon.engine.Acceptor;
import io.tlsd.daemon.engine.Connector;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.engine.SessionLimits;
import java.nio.charset.StandardCharsets;

/** The pipeline of one debug connection, in reading order. */
final class DebugChannelInitializer extends ChannelInitializer<Channel> {
    /** Replaced by {@link #limits}; a session gets those of the moment it connects. */
    private volatile DebugServer.Settings settings;
    private final Connector connector;
    private final Acceptor acceptor;
    private final DaemonCounters counters;
    private final ChannelGroup sessions;

    DebugChannelInitializer(DebugServer.Settings settings, Connector connector, Acceptor acceptor,
                            DaemonCounters counters, ChannelGroup sessions) {
        this.settings = settings;
        this.connector = connector;
        this.acceptor = acceptor;
        this.counters = counters;
        this.sessions = sessions;
    }

    /** The debug sessions that connect from now on get {@code next}. One caller at a time (a reload). */
    void limits(SessionLimits next) {
        DebugServer.Settings now = settings;
        settings = new DebugServer.Settings(now.role(), next, now.maxLineBytes());
    }

    @Override
    protected void initChannel(Channel ch) {
        DebugServer.Settings settings = this.settings;
        sessions.add(ch); // so that shutdown can tell each one
        ch.pipeline()
                // bytes → lines without \n or \r\n; a longer line is discarded and reported
                .addLast("lines", new LineBasedFrameDecoder(settings.maxLineBytes(), true, false))
                // line → String (UTF-8)
                .addLast("decoder", new StringDecoder(StandardCharsets.UTF_8))
                // reply String → UTF-8 bytes and \n: every message written is exactly one line
                .addLast("encoder", new LineEncoder(LineSeparator.UNIX, StandardCharsets.UTF_8))
                // commands, one at a time, into this connection's engine session; replies out
                .addLast("session", new DebugSessionHandler(settings, connector, acceptor, counters));
    }
}
