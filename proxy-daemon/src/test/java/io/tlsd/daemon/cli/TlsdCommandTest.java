package io.tlsd.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetector.Level;
import io.tlsd.daemon.DaemonConfig;
import picocli.CommandLine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Exit codes scripts rely on, for every subcommand. */
class TlsdCommandTest {
    @ParameterizedTest
    @ValueSource(strings = {"client", "server", "connect", "accept", "demo", "check-config", "version"})
    void everySubcommandHasHelp(String subcommand) {
        assertEquals(0, TlsdCommand.run(subcommand, "--help"));
    }

    @Test
    void handshakesInFlightAreAdaptiveANumberOrNone() {
        assertEquals(DaemonConfig.ADAPTIVE_HANDSHAKES, handshakesInFlight());
        assertEquals(DaemonConfig.ADAPTIVE_HANDSHAKES, handshakesInFlight("--max-handshakes-in-flight", "adaptive"));
        assertEquals(3, handshakesInFlight("--max-handshakes-in-flight", "3"));
        assertEquals(0, handshakesInFlight("--max-handshakes-in-flight", "0"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> handshakesInFlight("--max-handshakes-in-flight", "many"));
        assertTrue(e.getMessage().startsWith("--max-handshakes-in-flight: expected adaptive"), e.getMessage());
    }

    private static int handshakesInFlight(String... args) {
        DaemonOptions options = new DaemonOptions();
        new CommandLine(options).parseArgs(args);
        return options.builder().build().maxHandshakesInFlight();
    }

    @ParameterizedTest
    @ValueSource(strings = {"client --no-such-flag", "connect", "check-config", "frobnicate",
            "client --transport carrier-pigeon --socket /tmp/x.sock", "server --cert only.pem",
            "client --max-handshakes-in-flight -1",
            // an option of the other role: refused, not ignored
            "server --send-buffer 1MiB", "server --max-handshakes-in-flight 4", "client --signing off-loop"})
    void usageErrorsExitTwo(String line) {
        assertEquals(2, TlsdCommand.run(line.split(" ")));
    }

    @Test
    void theLeakDetectorIsOffUnlessTheJvmWasToldOtherwise() {
        String property = "io.netty.leakDetection.level";
        String given = System.getProperty(property);
        Level before = ResourceLeakDetector.getLevel();
        try {
            System.setProperty(property, "paranoid");
            ResourceLeakDetector.setLevel(Level.PARANOID);
            TlsdCommand.quietLeakDetector();
            assertEquals(Level.PARANOID, ResourceLeakDetector.getLevel(), "an operator's choice stays");

            System.clearProperty(property);
            TlsdCommand.quietLeakDetector();
            assertEquals(Level.DISABLED, ResourceLeakDetector.getLevel());
        } finally {
            if (given == null) {
                System.clearProperty(property);
            } else {
                System.setProperty(property, given);
            }
            ResourceLeakDetector.setLevel(before);
        }
    }
}
