package io.tlsd.daemon.cli;

import io.netty.handler.ssl.OpenSsl;
import io.tlsd.daemon.Version;
import io.netty.channel.epoll.Epoll;
import picocli.CommandLine.Command;

/** {@code tlsd version}: the versions an operator needs in a bug report. */
@Command(name = "version", mixinStandardHelpOptions = true,
        description = "Print the versions of tlsd, its TLS library and the JVM.")
final class VersionCommand implements Runnable {
    @Override
    public void run() {
        System.out.println("tlsd " + Version.VERSION);
        System.out.println("tls: " + (OpenSsl.isAvailable() ? OpenSsl.versionString() : "BoringSSL unavailable ("
                + OpenSsl.unavailabilityCause() + ")"));
        System.out.println("transport: " + (Epoll.isAvailable() ? "epoll" : "nio"));
        System.out.println("java: " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")");
    }
}
