package io.tlsd.daemon.cli;

import io.netty.util.ResourceLeakDetector;
import io.tlsd.daemon.Version;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code tlsd}: the one executable. Each role and tool is a subcommand with its own
 * {@code --help}.
 *
 * <p>Exit codes: 0 success; 1 the operation failed (connection, TLS, certificate); 2 usage or
 * configuration error; 69 the daemon is not reachable; 70 internal error.
 */
@Command(name = "tlsd",
        mixinStandardHelpOptions = true,
        versionProvider = TlsdCommand.VersionProvider.class,
        description = "TLS 1.3 offload daemon: applications hand it their TLS connections over a Unix socket.",
        subcommands = {ClientCommand.class, ServerCommand.class, ConnectCommand.class, AcceptCommand.class,
                DemoCommand.class, CheckConfigCommand.class, VersionCommand.class,
                CommandLine.HelpCommand.class})
public final class TlsdCommand implements Runnable {
    static final int EXIT_FAILED = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_UNAVAILABLE = 69;
    static final int EXIT_INTERNAL = 70;
    /** sysexits' EX_NOPERM: the socket's mode or the daemon's allowed_peers keep this process out. */
    static final int EXIT_NO_PERMISSION = 77;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        quietLeakDetector();
        System.exit(run(args));
    }

    /**
     * Turns Netty's buffer leak detector off unless the JVM was started with
     * {@code -Dio.netty.leakDetection.level=...}. Netty's default samples one buffer in 128 and
     * records a stack trace for each: 5 % of a worker loop's CPU in a profile of the SDK's bulk
     * path. The tests run with it at PARANOID; an operator chasing a leak turns it on with
     * {@code TLSD_JAVA_OPTS=-Dio.netty.leakDetection.level=simple}.
     */
    static void quietLeakDetector() {
        if (System.getProperty("io.netty.leakDetection.level") == null
                && System.getProperty("io.netty.leakDetectionLevel") == null) {
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        }
    }

    /** Runs the command line and returns the exit code (tests call this instead of main). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new TlsdCommand());
        // the daemon options shared by both roles, less those of the other role: refused, not ignored
        withoutOptions(cli.getSubcommands().get("client"), "--signing");
        withoutOptions(cli.getSubcommands().get("server"), "--send-buffer", "--max-handshakes-in-flight",
                "--allow-target");
        cli.setExitCodeExceptionMapper(e -> e instanceof IllegalArgumentException
                || e instanceof CommandLine.ParameterException ? EXIT_USAGE : EXIT_INTERNAL);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof IllegalArgumentException) {
                cmd.getErr().println(cmd.getCommandName() + ": " + e.getMessage());
                return EXIT_USAGE;
            }
            cmd.getErr().println(cmd.getCommandName() + ": internal error: " + e);
            e.printStackTrace(cmd.getErr());
            return EXIT_INTERNAL;
        });
        return cli.execute(args);
    }

    private static void withoutOptions(CommandLine command, String... names) {
        for (String name : names) {
            command.getCommandSpec().remove(command.getCommandSpec().findOption(name));
        }
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
    }

    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"tlsd " + Version.VERSION};
        }
    }
}
