package io.tlsd.daemon.cli;

import io.tlsd.daemon.DaemonConfig;
import io.tlsd.daemon.TlsdDaemon;
import io.tlsd.daemon.localca.LocalCertificateAuthority;
import io.tlsd.daemon.logging.DaemonLog;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.sdk.ConnectionInfo;
import io.tlsd.sdk.Operation;
import io.tlsd.sdk.TlsConnection;
import io.tlsd.sdk.TlsdClient;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tlsd demo}: a server daemon and a client daemon on the embedded default, and one round
 * trip between two applications through them, using the SDK. Shows that everything works on this
 * machine, and what was negotiated.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Start a server daemon and a client daemon on the embedded default, make a round trip "
                + "through the SDK, print what happened, and exit 0."})
final class DemoCommand implements Callable<Integer> {
    private static final Duration T = Duration.ofSeconds(10);

    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "Where the local CA is kept (default: $XDG_STATE_HOME/tlsd or ~/.local/state/tlsd)")
    Path stateDir;

    @Override
    public Integer call() throws Exception {
        DaemonLog.level("warn"); // the demo prints its own story
        LocalCertificateAuthority ca = LocalCertificateAuthority.open(
                stateDir != null ? stateDir : LocalCertificateAuthority.defaultStateDir());
        Path run = Files.createTempDirectory("tlsd-demo-");
        ListenerConfig listener = ListenerConfig.simple("default", new InetSocketAddress("127.0.0.1", 0),
                ca.serverChain(), ca.serverKey());
        try (TlsdDaemon server = TlsdDaemon.start(DaemonConfig.builder().role(DaemonConfig.Role.SERVER)
                     .socket(run.resolve("server.sock")).listeners(List.of(listener)).build());
             TlsdDaemon client = TlsdDaemon.start(DaemonConfig.builder().role(DaemonConfig.Role.CLIENT)
                     .socket(run.resolve("client.sock")).caFile(ca.caCertificate()).build());
             TlsdClient serverApp = TlsdClient.builder().socket(server.socketPath()).appName("demo-server").build();
             TlsdClient clientApp = TlsdClient.builder().socket(client.socketPath()).appName("demo-client").build()) {
            int port = server.listenerAddress("default").getPort();
            System.out.println("tlsd demo");
            System.out.println("  local CA       " + ca.caCertificate());
            System.out.println("  server daemon  " + server.socketPath() + ", listener 'default' on 127.0.0.1:" + port);
            System.out.println("  client daemon  " + client.socketPath() + ", trusting the local CA");

            Operation<TlsConnection> accepting = serverApp.accept("default");
            TlsConnection outbound = clientApp.open("localhost", port).await(T);
            TlsConnection inbound = accepting.await(T);
            describe("client opened ", outbound.info(), "verified as ");
            describe("server accepted", inbound.info(), "SNI ");

            String hello = "hello through tlsd\n";
            outbound.write(hello.getBytes(StandardCharsets.UTF_8)).await(T);
            String received = readLine(inbound);
            inbound.write(received.toUpperCase(Locale.ROOT).getBytes(StandardCharsets.UTF_8)).await(T);
            String reply = readLine(outbound);
            System.out.println("  round trip     client wrote \"" + hello.strip() + "\", server app replied \""
                    + reply.strip() + "\"");
            outbound.close().await(T);
            inbound.close().await(T);
            if (!reply.equals(hello.toUpperCase(Locale.ROOT))) {
                System.out.println("FAILED: unexpected reply");
                return TlsdCommand.EXIT_FAILED;
            }
            System.out.println("ok");
            return 0;
        } finally {
            try (Stream<Path> files = Files.walk(run)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void describe(String who, ConnectionInfo info, String nameLabel) {
        System.out.println("  " + who + " " + info.protocol() + ", " + info.cipherSuite()
                + (info.keyExchangeGroup().isEmpty() ? "" : ", group " + info.keyExchangeGroup())
                + ", " + nameLabel + (info.serverName().isEmpty() ? "-" : info.serverName())
                + (info.resumed() ? ", resumed" : "") + ", peer " + info.peerAddress()
                + (info.peerSubject().isEmpty() ? "" : ", peer certificate " + info.peerSubject()));
    }

    private static String readLine(TlsConnection conn) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (!out.toString(StandardCharsets.UTF_8).endsWith("\n")) {
            byte[] chunk = conn.read(4096).await(T);
            if (chunk.length == 0) {
                throw new IllegalStateException("the connection closed early");
            }
            out.write(chunk);
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
