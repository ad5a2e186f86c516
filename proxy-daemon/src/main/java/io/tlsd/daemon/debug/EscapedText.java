package io.tlsd.daemon.debug;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Bytes as one printable line and back. Printable ASCII stands for itself; {@code \n}, {@code \r},
 * {@code \t} and {@code \\} are written so; every other byte (controls, DEL, and each byte of a
 * non-ASCII UTF-8 character) is {@code \xNN}. The form is unambiguous, so what {@code read}
 * prints can be pasted into {@code writeraw} to send the same bytes.
 */
final class EscapedText {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private EscapedText() {
    }

    static String escape(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length + 16);
        for (byte b : bytes) {
            int c = b & 0xff;
            switch (c) {
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (c >= 0x20 && c < 0x7f) {
                        out.append((char) c);
                    } else {
                        out.append("\\x").append(HEX[c >> 4]).append(HEX[c & 0xf]);
                    }
                }
            }
        }
        return out.toString();
    }

    /**
     * Makes free text (a detail from the engine, a certificate subject) safe to print inside one
     * reply line: line breaks and other control characters are escaped, everything else is kept.
     */
    static String oneLine(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= 0x20 && c != 0x7f) {
                if (out != null) {
                    out.append(c);
                }
                continue;
            }
            if (out == null) {
                out = new StringBuilder(text.length() + 8).append(text, 0, i);
            }
            switch (c) {
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> out.append("\\x").append(HEX[c >> 4]).append(HEX[c & 0xf]);
            }
        }
        return out == null ? text : out.toString();
    }

    /**
     * The bytes {@code text} stands for: the escapes above, other characters as UTF-8.
     *
     * @throws IllegalArgumentException on a dangling or unknown escape
     */
    static byte[] unescape(String text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c != '\\') {
                int end = i + 1;
                while (end < text.length() && text.charAt(end) != '\\') {
                    end++;
                }
                out.writeBytes(text.substring(i, end).getBytes(StandardCharsets.UTF_8));
                i = end;
                continue;
            }
            if (i + 1 >= text.length()) {
                throw new IllegalArgumentException("a lone \\ at the end");
            }
            char e = text.charAt(i + 1);
            switch (e) {
                case 'n' -> out.write('\n');
                case 'r' -> out.write('\r');
                case 't' -> out.write('\t');
                case '\\' -> out.write('\\');
                case 'x' -> {
                    if (i + 4 > text.length()) {
                        throw new IllegalArgumentException("\\x needs two hex digits");
                    }
                    int hi = Character.digit(text.charAt(i + 2), 16);
                    int lo = Character.digit(text.charAt(i + 3), 16);
                    if (hi < 0 || lo < 0) {
                        throw new IllegalArgumentException("\\x needs two hex digits");
                    }
                    out.write(hi << 4 | lo);
                    i += 2;
                }
                default -> throw new IllegalArgumentException("unknown escape \\" + e);
            }
            i += 2;
        }
        return out.toByteArray();
    }
}
