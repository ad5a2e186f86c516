package io.tlsd.daemon.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.tlsd.daemon.engine.DaemonCounters;
import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.daemon.transport.Transport;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The socket file and real Unix-socket sessions, on both transports; no TLS (no role needed). */
class DebugServerTest {
    @TempDir
    Path dir;

    private EventLoopGroup control;
    private EventLoopGroup workers;
    private final DaemonCounters counters = new DaemonCounters();

    private DebugServer bind(Transport transport, Path path) throws Exception {
        if (control == null) {
            control = transport.newGroup(1, new DefaultThreadFactory("test-control"));
            workers = transport.newGroup(2, new DefaultThreadFactory("test-worker"));
        }
        return DebugServer.bind(path, transport, control, workers,
                new DebugServer.Settings("client", SessionLimits.DEFAULTS), null, null, counters);
    }

    @AfterEach
    void stopLoops() {
        if (control != null) {
            workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            control.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static Transport[] transports() {
        return Transport.select("auto") == Transport.EPOLL ? Transport.values() : new Transport[] {Transport.NIO};
    }

    /** Sends {@code input}, half-closes, and returns every line until the daemon closes. */
    private static List<String> converse(Path socket, String input) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(ByteBuffer.wrap(input.getBytes(StandardCharsets.UTF_8)));
            ch.shutdownOutput();
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            List<String> lines = new ArrayList<>();
            for (String line; (line = in.readLine()) != null; ) {
                lines.add(line);
            }
            return lines;
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void theSocketIsOwnerOnlyAndGoneAfterClose(Transport transport) throws Exception {
        assumeTrue(List.of(transports()).contains(transport), "epoll unavailable");
        Path path = dir.resolve("run/debug.sock");
        DebugServer server = bind(transport, path);
        assertEquals(path, server.path());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
        try (Stream<Path> files = Files.list(path.getParent())) {
            assertEquals(List.of(path), files.toList(), "no staging directory is left behind");
        }
        server.close();
        assertFalse(Files.exists(path));
        server.close(); // twice is fine
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void aClientThatStopsSendingGetsItsRepliesThenTheSessionEnds(Transport transport) throws Exception {
        assumeTrue(List.of(transports()).contains(transport), "epoll unavailable");
        try (DebugServer server = bind(transport, dir.resolve("debug.sock"))) {
            List<String> lines = converse(server.path(), "conns\nbogus\r\nopen localhost 4433\nstats\n");
            assertEquals(4, lines.size(), lines.toString());
            assertEquals("ok 0 connections", lines.get(0));
            assertEquals("error unknown command 'bogus'; try help", lines.get(1));
            assertEquals("error BAD_REQUEST: OPEN needs the client role (tlsd client); this daemon is the server role",
                    lines.get(2), "no connector: the engine refuses, as for an IPC session");
            assertTrue(lines.get(3).startsWith("ok sessions=1 "), lines.get(3));
            awaitNoSessions();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void quitClosesTheConnection(Transport transport) throws Exception {
        assumeTrue(List.of(transports()).contains(transport), "epoll unavailable");
        try (DebugServer server = bind(transport, dir.resolve("debug.sock"))) {
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(server.path()));
                ch.write(ByteBuffer.wrap("QUIT\n".getBytes(StandardCharsets.UTF_8)));
                BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
                assertEquals("ok bye", in.readLine());
                assertEquals(null, in.readLine());
            }
            awaitNoSessions();
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void closingTheServerTellsOpenSessions(Transport transport) throws Exception {
        assumeTrue(List.of(transports()).contains(transport), "epoll unavailable");
        DebugServer server = bind(transport, dir.resolve("debug.sock"));
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(server.path()));
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            ch.write(ByteBuffer.wrap("conns\n".getBytes(StandardCharsets.UTF_8)));
            assertEquals("ok 0 connections", in.readLine());
            server.close();
            assertEquals("error UNAVAILABLE: tlsd is shutting down", in.readLine());
            assertEquals(null, in.readLine());
        }
        awaitNoSessions();
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void aStaleSocketIsReplaced(Transport transport) throws Exception {
        assumeTrue(List.of(transports()).contains(transport), "epoll unavailable");
        Path path = dir.resolve("debug.sock");
        try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            crashed.bind(UnixDomainSocketAddress.of(path)); // closing it leaves the file behind
        }
        assertTrue(Files.exists(path));
        try (DebugServer server = bind(transport, path)) {
            assertEquals(List.of("ok 0 connections"), converse(server.path(), "conns\n"));
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void aLiveSocketIsNotTaken(Transport transport) throws Exception {
        assumeTrue(List.of(transports()).contains(transport), "epoll unavailable");
        Path path = dir.resolve("debug.sock");
        try (DebugServer first = bind(transport, path)) {
            IOException e = assertThrows(IOException.class, () -> bind(transport, path));
            assertEquals("another daemon is listening on " + path, e.getMessage());
            assertEquals(List.of("ok 0 connections"), converse(first.path(), "conns\n"), "the first one still serves");
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void aFileThatIsNotASocketIsLeftAlone(Transport transport) throws Exception {
        assumeTrue(List.of(transports()).contains(transport), "epoll unavailable");
        Path path = Files.writeString(dir.resolve("important.txt"), "keep me");
        IOException e = assertThrows(IOException.class, () -> bind(transport, path));
        assertEquals(path + " exists and is not a socket; not replacing it", e.getMessage());
        assertEquals("keep me", Files.readString(path));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(path), files.toList());
        }
    }

    @ParameterizedTest
    @EnumSource(Transport.class)
    void aPathTooLongForTheStagingSocketIsRefusedClearly(Transport transport) throws Exception {
        assumeTrue(List.of(transports()).contains(transport), "epoll unavailable");
        Path deep = Files.createDirectories(dir.resolve("d".repeat(Math.max(1, 100 - dir.toString().length()))));
        IOException e = assertThrows(IOException.class, () -> bind(transport, deep.resolve("debug.sock")));
        assertTrue(e.getMessage().contains("is too long"), e.getMessage());
        try (Stream<Path> files = Files.list(deep)) {
            assertEquals(0, files.count());
        }
    }

    private void awaitNoSessions() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (counters.snapshot().sessions() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, counters.snapshot().sessions(), counters.snapshot().toString());
    }
}
