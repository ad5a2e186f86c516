package io.tlsd.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Exit codes scripts rely on, for every subcommand. */
class TlsdCommandTest {
    @ParameterizedTest
    @ValueSource(strings = {"client", "server", "connect", "accept", "demo", "check-config", "version"})
    void everySubcommandHasHelp(String subcommand) {
        assertEquals(0, TlsdCommand.run(subcommand, "--help"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"client --no-such-flag", "connect", "check-config", "frobnicate",
            "client --transport carrier-pigeon --socket /tmp/x.sock", "server --cert only.pem"})
    void usageErrorsExitTwo(String line) {
        assertEquals(2, TlsdCommand.run(line.split(" ")));
    }
}
