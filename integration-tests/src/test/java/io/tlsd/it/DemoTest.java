package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tlsd demo}, the first command of the README, on a machine that has never run tlsd. */
class DemoTest {
    @TempDir
    Path state;

    @Test
    void demoMakesARoundTripAndReusesItsLocalCa() throws Exception {
        var first = ConnectCommandTest.tlsd("", "demo", "--state-dir", state.toString());
        assertEquals(0, first.exitCode(), first.stdout() + first.stderr());
        assertTrue(first.stdout().contains("TLSv1.3"), first.stdout());
        assertTrue(first.stdout().contains("server app replied \"HELLO THROUGH TLSD\""), first.stdout());
        assertTrue(first.stdout().contains("group "), "the key-exchange group is shown: " + first.stdout());
        assertTrue(first.stdout().endsWith("ok\n"), first.stdout());
        String ca = Files.readString(state.resolve("ca.pem"));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(state.resolve("ca.key"))));

        var second = ConnectCommandTest.tlsd("", "demo", "--state-dir", state.toString());
        assertEquals(0, second.exitCode(), second.stdout() + second.stderr());
        assertEquals(ca, Files.readString(state.resolve("ca.pem")), "the local CA is made once and reused");
    }
}
