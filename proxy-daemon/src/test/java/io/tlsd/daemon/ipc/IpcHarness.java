package io.tlsd.daemon.ipc;

import io.tlsd.daemon.testing.FakeConnector;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.proto.v1.Barrier;
import io.tlsd.proto.v1.Cancel;
import io.tlsd.proto.v1.ClientMessage;
import io.tlsd.proto.v1.Close;
import io.tlsd.proto.v1.Completion;
import io.tlsd.proto.v1.DaemonMessage;
import io.tlsd.proto.v1.Hello;
import io.tlsd.proto.v1.Open;
import io.tlsd.proto.v1.Read;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Write;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** An IPC session on an {@link EmbeddedChannel}, driven frame by frame. */
final class IpcHarness implements AutoCloseable {
    final FakeConnector connector = new FakeConnector();
    final DaemonCounters counters = new DaemonCounters();
    final EmbeddedChannel ipc;
    /** The session's daemon's drain (not started unless a test starts it). */
    final DrainDeadline drain = new DrainDeadline();
    private long nextOpId = 1;

    IpcHarness(SessionLimits limits) {
        this(new IpcServer.Settings("client", "tlsd test", limits, Duration.ofSeconds(10)));
    }

    IpcHarness(IpcServer.Settings settings) {
        ipc = new EmbeddedChannel(new IpcChannelInitializer(settings, connector, null, counters,
                new DefaultChannelGroup(ImmediateEventExecutor.INSTANCE), drain, new SessionSlots(settings.maxSessions())));
    }

    IpcHarness() {
        this(SessionLimits.DEFAULTS);
    }

    DaemonMessage hello() {
        send(ClientMessage.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setAppName("test")).build());
        return next();
    }

    void send(ClientMessage msg) {
        sendRaw(appendFrame(Unpooled.buffer(), msg));
    }

    /** {@code msg} framed as the SDK frames it (4-byte length, then the message), after what {@code out} holds. */
    private static ByteBuf appendFrame(ByteBuf out, ClientMessage msg) {
        byte[] body = msg.toByteArray();
        return out.writeInt(body.length).writeBytes(body);
    }

    void sendRaw(ByteBuf bytes) {
        ipc.writeInbound(bytes);
        ipc.runPendingTasks();
    }

    long request(Request.Builder request) {
        long id = nextOpId++;
        send(ClientMessage.newBuilder().setRequest(request.setOpId(id)).build());
        return id;
    }

    /** Sends the requests in one read of the socket; returns their op ids. */
    long[] requestsInOneRead(Request.Builder... requests) {
        ByteBuf frames = Unpooled.buffer();
        long[] ids = new long[requests.length];
        for (int i = 0; i < requests.length; i++) {
            ids[i] = nextOpId++;
            appendFrame(frames, ClientMessage.newBuilder().setRequest(requests[i].setOpId(ids[i])).build());
        }
        sendRaw(frames);
        return ids;
    }

    long open() {
        return request(Request.newBuilder().setOpen(Open.newBuilder().setHost("example.test").setPort(443)));
    }

    /** Opens a connection whose handshake succeeds; returns its conn_id. */
    long established() {
        long op = open();
        connector.last().succeed();
        Completion c = completion();
        assertEquals(op, c.getOpId());
        assertTrue(c.hasConnection(), c.toString());
        return c.getConnection().getConnId();
    }

    long read(long conn, int max) {
        return request(Request.newBuilder().setRead(Read.newBuilder().setConnId(conn).setMaxBytes(max)));
    }

    long read(long conn, int max, int timeoutMs) {
        return request(Request.newBuilder().setTimeoutMs(timeoutMs)
                .setRead(Read.newBuilder().setConnId(conn).setMaxBytes(max)));
    }

    long write(long conn, String text) {
        return request(Request.newBuilder().setWrite(Write.newBuilder().setConnId(conn)
                .setData(ByteString.copyFromUtf8(text))));
    }

    /**
     * A WRITE the test framed itself, in a buffer of its own, as a socket read would deliver it.
     *
     * @param buffer the buffer it arrived in; the pipeline owns it, a test only looks at its
     *     reference count (0 once the daemon released every reference)
     * @param dataAddress the address of the data in {@code buffer}, or -1 (no Unsafe)
     */
    record SentWrite(long opId, ByteBuf buffer, long dataAddress) {
    }

    /**
     * Sends a WRITE of {@code size} bytes in a direct buffer exactly as big as the frame, so that
     * the daemon keeps the data where it is (a slice of the frame).
     */
    SentWrite writeInOwnBuffer(long conn, int size, int timeoutMs) {
        return writeInOwnBuffer(conn, size, timeoutMs, 0);
    }

    /** As above, with {@code spare} unused bytes of capacity after the frame. */
    SentWrite writeInOwnBuffer(long conn, int size, int timeoutMs, int spare) {
        byte[] data = new byte[size];
        for (int i = 0; i < size; i++) {
            data[i] = (byte) ('a' + i % 26);
        }
        long id = nextOpId++;
        byte[] body = ClientMessage.newBuilder().setRequest(Request.newBuilder().setOpId(id).setTimeoutMs(timeoutMs)
                .setWrite(Write.newBuilder().setConnId(conn).setData(ByteString.copyFrom(data)))).build().toByteArray();
        ByteBuf buffer = Unpooled.directBuffer(4 + body.length + spare).writeInt(body.length).writeBytes(body);
        long dataAddress = buffer.hasMemoryAddress()
                ? buffer.memoryAddress() + 4 + body.length - size : -1; // data is the last field
        sendRaw(buffer);
        return new SentWrite(id, buffer, dataAddress);
    }

    long barrier(long conn) {
        return request(Request.newBuilder().setBarrier(Barrier.newBuilder().setConnId(conn)));
    }

    long close(long conn) {
        return request(Request.newBuilder().setClose(Close.newBuilder().setConnId(conn)));
    }

    long cancel(long target) {
        return request(Request.newBuilder().setCancel(Cancel.newBuilder().setTargetOpId(target)));
    }

    /** Bytes from the TLS peer, as the SslHandler would pass them up. */
    void peerSends(String text) {
        connector.last().channel.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        ipc.runPendingTasks();
    }

    /** The next message the daemon sent, or null. */
    DaemonMessage next() {
        ipc.runPendingTasks();
        ByteBuf frame = ipc.readOutbound();
        if (frame == null) {
            return null;
        }
        try {
            int length = frame.readInt();
            assertEquals(length, frame.readableBytes(), "frame length prefix");
            return DaemonMessage.parseFrom(new ByteBufInputStream(frame));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            frame.release();
        }
    }

    Completion completion() {
        DaemonMessage msg = next();
        assertNotNull(msg, "expected a completion, the daemon sent nothing");
        assertTrue(msg.hasCompletion(), "expected a completion, got " + msg);
        return msg.getCompletion();
    }

    /** The next completion, which must be {@code opId}'s. */
    Completion completion(long opId) {
        Completion c = completion();
        assertEquals(opId, c.getOpId(), c.toString());
        return c;
    }

    void assertNothingSent() {
        DaemonMessage msg = next();
        assertEquals(null, msg, "expected no message");
    }

    @Override
    public void close() {
        for (FakeConnector.Attempt a : connector.attempts) {
            a.channel.finishAndReleaseAll();
        }
        ipc.finishAndReleaseAll();
    }
}
