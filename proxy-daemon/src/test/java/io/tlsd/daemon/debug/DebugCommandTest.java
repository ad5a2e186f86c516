package io.tlsd.daemon.debug;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Parsing lines into commands, and the words the human reads when a line is not one. */
class DebugCommandTest {

    private static DebugCommand parse(String line) throws DebugCommand.Unusable {
        return DebugCommand.parse(line);
    }

    private static String error(String line) {
        return assertThrows(DebugCommand.Unusable.class, () -> parse(line)).getMessage();
    }

    private static String text(DebugCommand command) {
        return new String(assertInstanceOf(DebugCommand.Write.class, command).data(), StandardCharsets.UTF_8);
    }

    @Test
    void openTakesHostPortAndAnOptionalServerName() throws Exception {
        assertEquals(new DebugCommand.Open("localhost", 4433, ""), parse("open localhost 4433"));
        assertEquals(new DebugCommand.Open("127.0.0.1", 4433, "localhost"), parse("OPEN 127.0.0.1 4433 localhost"));
        assertEquals(new DebugCommand.Open("h", 1, ""), parse("  open   h   1  "), "extra spaces between words");
    }

    @Test
    void readDefaultsItsSizeAndTimeout() throws Exception {
        assertEquals(new DebugCommand.Read(3, 0, DebugCommand.DEFAULT_READ_TIMEOUT_MS), parse("read 3"));
        assertEquals(new DebugCommand.Read(3, 10, DebugCommand.DEFAULT_READ_TIMEOUT_MS), parse("read 3 10"));
        assertEquals(new DebugCommand.Read(3, 10, 0), parse("read 3 10 0"));
    }

    @Test
    void acceptDefaultsItsListenerAndTimeout() throws Exception {
        assertEquals(new DebugCommand.Accept("", DebugCommand.DEFAULT_ACCEPT_TIMEOUT_MS), parse("accept"));
        assertEquals(new DebugCommand.Accept("public", 0), parse("accept public 0"));
    }

    @Test
    void writeTextIsTheRestOfTheLineAfterOneSpace() throws Exception {
        assertEquals("hello world\n", text(parse("write 1 hello world")));
        assertEquals("  two leading spaces \n", text(parse("write 1   two leading spaces ")));
        assertEquals("a\\nb\n", text(parse("write 1 a\\nb")), "write does not unescape");
        assertEquals("\n", text(parse("write 1")), "a bare newline");
        assertEquals("\n", text(parse("write 1 ")));
        assertEquals("héllo\n", text(parse("write 1 héllo")));
    }

    @Test
    void writerawUnescapesAndAddsNothing() throws Exception {
        assertArrayEquals(new byte[] {'G', 'E', 'T', '\r', '\n'},
                ((DebugCommand.Write) parse("writeraw 2 GET\\r\\n")).data());
        assertEquals(2, ((DebugCommand.Write) parse("writeraw 2 x")).connId());
    }

    @Test
    void mistakesSayWhatIsExpected() {
        assertEquals("unknown command 'foo'; try help", error("foo"));
        assertEquals("unknown command 'Writ'; try help", error("Writ 1 x"));
        assertEquals("usage: write ID TEXT", error("write"));
        assertEquals("usage: write ID TEXT", error("write -1 x"));
        assertEquals("usage: read ID [MAX [TIMEOUT_MS]]", error("read 1 2 3 4"));
        assertEquals("usage: accept [LISTENER [TIMEOUT_MS]]", error("accept default soon"));
        assertEquals("usage: writeraw ID TEXT (\\x needs two hex digits)", error("writeraw 1 \\x4"));
        assertEquals("usage: help", error("help me"));
        assertEquals("usage: quit", error("quit now"));
    }
}
