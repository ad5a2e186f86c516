package io.tlsd.daemon.debug;

import com.google.protobuf.ByteString;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.unix.PeerCredentials;
import io.netty.handler.codec.TooLongFrameException;
import io.tlsd.daemon.engine.Acceptor;
import io.tlsd.daemon.engine.CompletionSink;
import io.tlsd.daemon.engine.Connector;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.engine.Session;
import io.tlsd.daemon.logging.DaemonLog;
import io.tlsd.daemon.transport.Transport;
import io.tlsd.proto.v1.Accept;
import io.tlsd.proto.v1.Close;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.ConnectionInfo;
import io.tlsd.proto.v1.Open;
import io.tlsd.proto.v1.Read;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Status;
import io.tlsd.proto.v1.Write;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One debug connection: each command line becomes a request to this connection's own engine
 * {@link Session} (pinned, like an IPC session, to the channel's loop), and each completion
 * becomes reply lines.
 *
 * <p>Commands run <b>one at a time</b>: a line that arrives while a command waits for the engine
 * (an open, a read waiting for data) is queued and runs after it, so replies are never
 * interleaved and always come in the order of the commands. While a command runs, the socket is
 * not read (auto-read off), so the queue holds at most what one read burst brought.
 */
final class DebugSessionHandler extends ChannelInboundHandlerAdapter implements CompletionSink {
    private static final Logger log = LoggerFactory.getLogger(DebugSessionHandler.class);

    /** Stands in the queue for a line the frame decoder discarded as too long. */
    private static final Object LINE_TOO_LONG = new Object();

    /** A command waiting for the completion of its op, and what to print when it comes. */
    private record Running(long opId, Consumer<Completion> onCompletion) {
    }

    private final DebugServer.Settings settings;
    private final Connector connector;
    private final Acceptor acceptor;
    private final DaemonCounters counters;
    /** This session's open connections as the open (or accept) completion described them. */
    private final Map<Long, ConnectionInfo> connections = new TreeMap<>();
    private final ArrayDeque<Object> waiting = new ArrayDeque<>();

    private ChannelHandlerContext ctx;
    private Session session;
    private Running running;
    private long lastOpId;
    private boolean draining;
    private boolean inputEnded;
    private boolean ended;

    DebugSessionHandler(DebugServer.Settings settings, Connector connector, Acceptor acceptor,
                        DaemonCounters counters) {
        this.settings = settings;
        this.connector = connector;
        this.acceptor = acceptor;
        this.counters = counters;
    }

    // ---------------------------------------------------------------- channel events

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        PeerCredentials creds = Transport.credentialsOf(ctx.channel());
        session = new Session(ctx.channel().eventLoop(), settings.limits(), connector, acceptor, this, counters, null,
                creds);
        counters.sessionStarted();
        log.info("debug session {} started ({})", ctx.channel().id(), Transport.describe(creds));
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        String line = (String) msg; // the decoders before us have released the bytes
        if (!ended && !line.isBlank()) {
            waiting.add(line);
            drain();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            // "printf 'stats\n' | nc -N" or socat: the client is done sending but still
            // listening. Answer what it sent, then close.
            inputEnded = true;
            drain();
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            session.sinkWritable();
            drain();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof TooLongFrameException) {
            // The decoder has discarded the line and goes on with the next one; the reply
            // takes the line's place in the order of commands.
            waiting.add(LINE_TOO_LONG);
            drain();
        } else if (cause instanceof IOException) {
            log.debug("debug session {}: {}", ctx.channel().id(), cause.toString());
            ctx.close();
        } else {
            log.warn("debug session {} failed", ctx.channel().id(), cause);
            ended = true;
            ctx.writeAndFlush("error INTERNAL: " + EscapedText.oneLine(cause.toString()))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        ended = true;
        waiting.clear();
        running = null;
        if (session == null) {
            ctx.fireChannelInactive();
            return;
        }
        int ops = session.opsInFlight();
        int conns = session.connectionCount();
        session.end();
        counters.sessionEnded();
        log.info("debug session {} closed: dropped {} ops, closed {} connections", ctx.channel().id(), ops, conns);
        ctx.fireChannelInactive();
    }

    // ---------------------------------------------------------------- the command queue

    /** Runs queued commands until one has to wait for the engine; never re-entered. */
    private void drain() {
        if (draining) {
            return; // an event fired while a reply was written or a command submitted; the loop goes on
        }
        draining = true;
        try {
            Object next;
            while (!ended && running == null && ctx.channel().isWritable() && (next = waiting.poll()) != null) {
                execute(next);
            }
        } finally {
            draining = false;
        }
        if (ended) {
            return;
        }
        ctx.flush();
        boolean idle = running == null && waiting.isEmpty();
        if (idle && inputEnded) {
            ended = true;
            ctx.close();
            return;
        }
        ctx.channel().config().setAutoRead(idle && ctx.channel().isWritable());
    }

    private void execute(Object item) {
        if (item == LINE_TOO_LONG) {
            reply("error line too long (limit " + settings.maxLineBytes() + " bytes); it was discarded");
            return;
        }
        DebugCommand command;
        try {
            command = DebugCommand.parse((String) item);
        } catch (DebugCommand.Unusable e) {
            reply("error " + e.getMessage());
            return;
        }
        if (command instanceof DebugCommand.Help) {
            help();
        } else if (command instanceof DebugCommand.Open open) {
            open(open);
        } else if (command instanceof DebugCommand.Accept accept) {
            accept(accept);
        } else if (command instanceof DebugCommand.Write write) {
            write(write);
        } else if (command instanceof DebugCommand.Read read) {
            read(read);
        } else if (command instanceof DebugCommand.Close close) {
            close(close);
        } else if (command instanceof DebugCommand.Conns) {
            conns();
        } else if (command instanceof DebugCommand.Stats) {
            stats();
        } else if (command instanceof DebugCommand.LogLevel logLevel) {
            logLevel(logLevel);
        } else if (command instanceof DebugCommand.Quit) {
            quit();
        } else {
            throw new AssertionError("unexpected command: " + command);
        }
    }

    /** Submits one request; {@code onCompletion} prints the reply when the engine answers. */
    private void submit(Request.Builder request, Consumer<Completion> onCompletion) {
        long opId = ++lastOpId;
        running = new Running(opId, onCompletion); // before submit: the engine may answer at once
        session.submit(request.setOpId(opId).build());
    }

    /** Prints an OK completion with {@code onOk}, any other as {@code error STATUS: detail}. */
    private Consumer<Completion> okOr(Consumer<Completion> onOk) {
        return c -> {
            if (c.getStatus() == Status.OK) {
                onOk.accept(c);
            } else {
                reply(failure(c));
            }
        };
    }

    @Override
    public void send(Completion completion) {
        if (ended) {
            return;
        }
        if (running == null || completion.getOpId() != running.opId()) {
            // cannot happen with one op at a time; say so rather than print a stray line
            log.warn("debug session {}: completion of an op it is not waiting for: {}", ctx.channel().id(),
                    completion.getOpId());
            return;
        }
        Running done = running;
        running = null;
        done.onCompletion().accept(completion);
        if (!draining) {
            ctx.flush();
            // The next command runs later, not from here: the engine calls us in the middle of
            // its own work (an open completes before its connection is marked open).
            ctx.executor().execute(this::drain);
        }
    }

    @Override
    public boolean isWritable() {
        return ctx.channel().isWritable();
    }

    // ---------------------------------------------------------------- commands

    private void help() {
        DebugCommand.Verb[] verbs = DebugCommand.Verb.values();
        int width = 0;
        for (DebugCommand.Verb verb : verbs) {
            width = Math.max(width, verb.usage.length());
        }
        for (DebugCommand.Verb verb : verbs) {
            reply(String.format("%-" + width + "s  %s", verb.usage, verb.description));
        }
        reply("ok " + verbs.length + " commands; replies end with a line starting ok, eof or error"
                + " ('ok read' is followed by one data line)");
    }

    private void open(DebugCommand.Open open) {
        Open.Builder request = Open.newBuilder().setHost(open.host()).setPort(open.port());
        if (!open.serverName().isEmpty()) {
            request.setServerName(open.serverName());
        }
        submit(Request.newBuilder().setOpen(request), okOr(this::opened));
    }

    private void accept(DebugCommand.Accept accept) {
        submit(Request.newBuilder().setTimeoutMs(accept.timeoutMs())
                .setAccept(Accept.newBuilder().setListener(accept.listener())), okOr(this::opened));
    }

    private void opened(Completion c) {
        ConnectionInfo info = c.getConnection();
        connections.put(info.getConnId(), info);
        reply("ok conn " + info.getConnId() + " " + info.getProtocol() + " " + info.getCipherSuite()
                + " alpn=" + orDash(info.getAlpn()) + " peer=" + orDash(info.getPeerAddress())
                + " subject=" + (info.getPeerSubject().isEmpty() ? "-" : quoted(info.getPeerSubject())));
    }

    private void write(DebugCommand.Write write) {
        submit(Request.newBuilder().setWrite(Write.newBuilder()
                        .setConnId(write.connId()).setData(ByteString.copyFrom(write.data()))),
                okOr(c -> reply("ok wrote " + c.getBytesWritten() + " bytes")));
    }

    private void read(DebugCommand.Read read) {
        int max = read.maxBytes() != 0 ? read.maxBytes()
                : Math.min(DebugCommand.DEFAULT_READ_BYTES, settings.limits().maxReadBytes());
        Request.Builder request = Request.newBuilder().setTimeoutMs(read.timeoutMs())
                .setRead(Read.newBuilder().setConnId(read.connId()).setMaxBytes(max));
        submit(request, c -> {
            switch (c.getStatus()) {
                case OK -> {
                    reply("ok read " + c.getData().size() + " bytes");
                    reply(EscapedText.escape(c.getData().toByteArray()));
                }
                case EOF -> reply("eof");
                case TIMED_OUT -> reply("error TIMED_OUT: no data on connection " + read.connId() + " within "
                        + read.timeoutMs() + " ms");
                default -> reply(failure(c));
            }
        });
    }

    private void close(DebugCommand.Close close) {
        submit(Request.newBuilder().setClose(Close.newBuilder().setConnId(close.connId())), okOr(c -> {
            connections.remove(close.connId());
            reply("ok closed");
        }));
    }

    private void conns() {
        List<Session.ConnectionView> views = session.connectionViews();
        for (Session.ConnectionView view : views) {
            ConnectionInfo info = connections.getOrDefault(view.connId(), ConnectionInfo.getDefaultInstance());
            reply("conn " + view.connId() + " " + view.state() + " peer=" + orDash(info.getPeerAddress())
                    + " " + info.getProtocol() + " " + info.getCipherSuite() + " buffered=" + view.bufferedBytes());
        }
        reply("ok " + views.size() + " connections");
    }

    private void stats() {
        DaemonCounters.Snapshot snapshot = counters.snapshot();
        StringBuilder line = new StringBuilder("ok");
        try {
            // every counter the snapshot has, so a new one shows up here without a change
            for (RecordComponent component : DaemonCounters.Snapshot.class.getRecordComponents()) {
                line.append(' ').append(snakeCase(component.getName())).append('=')
                        .append(component.getAccessor().invoke(snapshot));
            }
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("a record accessor of DaemonCounters.Snapshot failed", e);
        }
        reply(line.toString());
    }

    private void logLevel(DebugCommand.LogLevel command) {
        String before = DaemonLog.levelName();
        if (command.level() == null) {
            reply("ok loglevel " + before);
            return;
        }
        // At warn, under the level that shows it: the one before (unless that is error) or the new one.
        boolean shownBefore = log.isWarnEnabled();
        if (shownBefore) {
            log.warn("debug session {} changes the log level from {} to {}", ctx.channel().id(), before,
                    command.level());
        }
        DaemonLog.level(command.level());
        if (!shownBefore) {
            log.warn("debug session {} changed the log level from {} to {}", ctx.channel().id(), before,
                    command.level());
        }
        reply("ok loglevel " + command.level() + " (was " + before + ")");
    }

    private void quit() {
        ended = true;
        waiting.clear();
        ctx.writeAndFlush("ok bye").addListener(ChannelFutureListener.CLOSE);
    }

    // ---------------------------------------------------------------- formatting

    /** One reply line; the encoder appends the newline. Flushed when the queue pauses. */
    private void reply(String line) {
        ctx.write(line, ctx.voidPromise());
    }

    private static String failure(Completion c) {
        String detail = c.getDetail();
        return "error " + c.getStatus().name() + (detail.isEmpty() ? "" : ": " + EscapedText.oneLine(detail));
    }

    private static String orDash(String s) {
        return s.isEmpty() ? "-" : EscapedText.oneLine(s);
    }

    private static String quoted(String s) {
        return '"' + EscapedText.oneLine(s.replace("\\", "\\\\").replace("\"", "\\\"")) + '"';
    }

    static String snakeCase(String camel) {
        StringBuilder out = new StringBuilder(camel.length() + 4);
        for (int i = 0; i < camel.length(); i++) {
            char c = camel.charAt(i);
            if (Character.isUpperCase(c)) {
                out.append('_').append(Character.toLowerCase(c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
