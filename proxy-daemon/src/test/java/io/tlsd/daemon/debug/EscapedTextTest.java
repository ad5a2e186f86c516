package io.tlsd.daemon.debug;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class EscapedTextTest {

    @Test
    void printableAsciiStandsForItselfAndTheRestIsEscaped() {
        assertEquals("GET / HTTP/1.1\\r\\n", EscapedText.escape("GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("\\t\\\\\\x00\\x7f\\xff", EscapedText.escape(new byte[] {'\t', '\\', 0, 0x7f, (byte) 0xff}));
        assertEquals("caf\\xc3\\xa9", EscapedText.escape("café".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void everyByteSurvivesTheRoundTrip() {
        byte[] all = new byte[256];
        for (int i = 0; i < all.length; i++) {
            all[i] = (byte) i;
        }
        String line = EscapedText.escape(all);
        assertEquals(-1, line.indexOf('\n'));
        assertArrayEquals(all, EscapedText.unescape(line));
    }

    @Test
    void unescapeTakesOtherCharactersAsUtf8() {
        assertArrayEquals("é\n".getBytes(StandardCharsets.UTF_8), EscapedText.unescape("é\\n"));
        assertArrayEquals(new byte[] {(byte) 0xAB}, EscapedText.unescape("\\xAb"));
    }

    @Test
    void unescapeRefusesBrokenEscapes() {
        assertEquals("a lone \\ at the end", assertThrows(IllegalArgumentException.class,
                () -> EscapedText.unescape("abc\\")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> EscapedText.unescape("\\x"));
        assertThrows(IllegalArgumentException.class, () -> EscapedText.unescape("\\xg0"));
        assertThrows(IllegalArgumentException.class, () -> EscapedText.unescape("\\u0041"));
    }

    @Test
    void oneLineEscapesOnlyControlCharacters() {
        assertEquals("CN=caf\u00e9, O=\"x\\y\"", EscapedText.oneLine("CN=caf\u00e9, O=\"x\\y\""));
        assertEquals("a\\nb\\r\\tc\\x1b", EscapedText.oneLine("a\nb\r\tc\u001b"));
    }
}
