package io.tlsd.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a short-lived {@code /usr/bin/openssl} command, feeding it no input. */
final class OpensslCommand {
    record Result(int exitCode, String output) {
    }

    private OpensslCommand() {
    }

    /** Runs the command and returns its combined output; fails unless it exits with 0. */
    static String run(String... args) throws IOException, InterruptedException {
        Result result = runAllowingFailure(args);
        if (result.exitCode() != 0) {
            throw new AssertionError("openssl " + String.join(" ", args) + " exited with "
                    + result.exitCode() + ":\n" + result.output());
        }
        return result.output();
    }

    static Result runAllowingFailure(String... args) throws IOException, InterruptedException {
        return runWithInput(new byte[0], args);
    }

    /** Writes {@code input} to stdin, closes it, and collects the output until the process exits. */
    static Result runWithInput(byte[] input, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add("/usr/bin/openssl");
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            process.getOutputStream().write(input);
            process.getOutputStream().close();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                throw new AssertionError("openssl " + String.join(" ", args) + " did not exit:\n" + output);
            }
            return new Result(process.exitValue(), output);
        } finally {
            process.destroyForcibly();
        }
    }
}
