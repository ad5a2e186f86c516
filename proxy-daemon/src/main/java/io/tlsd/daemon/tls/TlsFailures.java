package io.tlsd.daemon.tls;

import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.tlsd.daemon.engine.Failure;
import io.tlsd.proto.v1.Status;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import javax.net.ssl.SSLPeerUnverifiedException;

/** Turns what a failed handshake threw into the status and detail the application sees. */
public final class TlsFailures {
    private TlsFailures() {
    }

    public static Failure ofHandshake(Throwable cause, String serverName) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof CertificateException || t instanceof CertPathValidatorException
                    || t instanceof CertPathBuilderException || t instanceof SSLPeerUnverifiedException) {
                return new Failure(Status.CERT_INVALID,
                        "certificate of " + serverName + " rejected: " + describeCertProblem(t));
            }
        }
        if (cause instanceof SslHandshakeTimeoutException) {
            return new Failure(Status.HANDSHAKE_FAILED, "TLS handshake with " + serverName + " timed out");
        }
        if (cause instanceof ClosedChannelException) {
            return new Failure(Status.HANDSHAKE_FAILED,
                    "the peer closed the connection during the TLS handshake with " + serverName);
        }
        return new Failure(Status.HANDSHAKE_FAILED,
                "TLS handshake with " + serverName + " failed: " + cause.getMessage());
    }

    /** The most specific message in the chain: the JDK wraps path errors several times. */
    private static String describeCertProblem(Throwable t) {
        Throwable deepest = t;
        while (deepest.getCause() != null) {
            deepest = deepest.getCause();
        }
        String top = String.valueOf(t.getMessage());
        String root = String.valueOf(deepest.getMessage());
        if (deepest == t || top.contains(root.endsWith(".") ? root.substring(0, root.length() - 1) : root)) {
            return top;
        }
        return top + " (" + root + ")";
    }
}
