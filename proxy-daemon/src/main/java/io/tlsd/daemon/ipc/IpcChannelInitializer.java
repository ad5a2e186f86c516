package io.tlsd.daemon.ipc;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.tlsd.daemon.engine.Acceptor;
import io.tlsd.daemon.engine.Connector;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.engine.SessionLimits;

/** The pipeline of one application's IPC channel, in reading order. */
final class IpcChannelInitializer extends ChannelInitializer<Channel> {
    /** Replaced by {@link #limits}; a session gets those of the moment it connects. */
    private volatile IpcServer.Settings settings;
    private final Connector connector;
    private final Acceptor acceptor;
    private final DaemonCounters counters;
    private final ChannelGroup sessions;
    private final DrainDeadline drain;
    private final SessionSlots slots;

    IpcChannelInitializer(IpcServer.Settings settings, Connector connector, Acceptor acceptor,
                          DaemonCounters counters, ChannelGroup sessions, DrainDeadline drain, SessionSlots slots) {
        this.settings = settings;
        this.connector = connector;
        this.acceptor = acceptor;
        this.counters = counters;
        this.sessions = sessions;
        this.drain = drain;
        this.slots = slots;
    }

    /** The sessions that connect from now on get {@code next}. One caller at a time (a reload). */
    void limits(SessionLimits next) {
        settings = settings.withLimits(next);
    }

    @Override
    protected void initChannel(Channel ch) {
        IpcServer.Settings settings = this.settings;
        sessions.add(ch); // so that shutdown can say Goodbye to each
        ch.pipeline()
                // one syscall for the completions produced while handling one read burst
                .addLast("flush", new FlushConsolidationHandler(256, true))
                // bytes → frames, refusing oversized lengths before buffering them
                .addLast("frames", new IpcFrameDecoder(settings.limits().maxFrameBytes()))
                // frames → ClientMessage
                .addLast("decoder", new IpcMessageDecoder())
                // DaemonMessage → length-prefixed frame
                .addLast("encoder", IpcMessageEncoder.INSTANCE)
                // Hello, requests into the op engine, completions out
                .addLast("session", new IpcSessionHandler(settings, connector, acceptor, counters, drain, slots));
    }
}
