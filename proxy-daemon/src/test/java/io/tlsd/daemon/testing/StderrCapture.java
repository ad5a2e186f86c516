package io.tlsd.daemon.testing;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** What the daemon logs (to {@code System.err}, looked up at each event) while a piece of code runs. */
public final class StderrCapture {
    private StderrCapture() {
    }

    /** Runs {@code code} with {@code System.err} captured; returns what was written to it. */
    public static String of(Runnable code) {
        PrintStream original = System.err;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setErr(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            code.run();
        } finally {
            System.setErr(original);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
