package io.tlsd.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.daemon.cli.TlsdCommand;
import io.tlsd.testing.Issued;
import io.tlsd.testing.TlsPeer;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tlsd connect} as a user runs it: a separate process, stdin in, stdout out, an exit code. */
class ConnectCommandTest {
    @TempDir
    static Path dir;
    static ClientDaemonFixture fixture;
    static Issued localhost;

    @BeforeAll
    static void setUp() throws Exception {
        fixture = new ClientDaemonFixture(dir);
        localhost = fixture.pki.issueServer("localhost", "localhost");
    }

    @AfterAll
    static void tearDown() {
        fixture.close();
    }

    /** The outcome of one run of the command. */
    record Run(int exitCode, String stdout, String stderr) {
    }

    static Run tlsd(String stdin, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                TlsdCommand.class.getName()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        var out = p.getInputStream().readAllBytes();
        var err = p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "tlsd did not exit");
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    @Test
    void echoHelloThroughOpensslReverser() throws Exception {
        try (TlsPeer server = TlsPeer.opensslServer(localhost, "-rev")) {
            Run run = tlsd("hello\n", "connect", "--socket", fixture.socket().toString(),
                    "localhost:" + server.port());
            assertEquals("olleh\n", run.stdout(), run.stderr());
            assertEquals(0, run.exitCode(), run.stderr());
        }
    }

    @Test
    void wrongServerNameFailsNamingTheCertificateProblem() throws Exception {
        try (TlsPeer server = TlsPeer.opensslServer(localhost, "-rev")) {
            Run run = tlsd("hello\n", "connect", "--socket", fixture.socket().toString(),
                    "--servername", "wrong.example", "localhost:" + server.port());
            assertEquals(1, run.exitCode(), run.stderr());
            assertEquals("", run.stdout());
            assertTrue(run.stderr().contains("CERT_INVALID"), run.stderr());
            assertTrue(run.stderr().contains("wrong.example"), run.stderr());
        }
    }

    @Test
    void daemonNotRunningExits69() throws Exception {
        Run run = tlsd("", "connect", "--socket", dir.resolve("nobody-here.sock").toString(), "localhost:1");
        assertEquals(69, run.exitCode(), run.stderr());
        assertTrue(run.stderr().contains("nobody-here.sock"), run.stderr());
    }

    @Test
    void badTargetIsAUsageError() throws Exception {
        Run run = tlsd("", "connect", "--socket", fixture.socket().toString(), "no-port-here");
        assertEquals(2, run.exitCode(), run.stderr());
        assertTrue(run.stderr().contains("HOST:PORT"), run.stderr());
    }
}
