package io.tlsd.daemon.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.ssl.SslHandler;
import io.tlsd.daemon.transport.ProxyProtocolIn;
import io.tlsd.daemon.transport.TcpReset;
import java.util.ArrayDeque;

/**
 * One end of a tunnelled connection: a channel, how its output is ended cleanly, and what the
 * {@link Relay} knows about each direction through it. Touched by the channel's event loop only.
 */
abstract class End {
    final Channel channel;
    /** "client", "target" or "backend", for log lines. */
    final String role;

    /** Bytes read from this end before the other end was ready; bounded by {@link Relay}. */
    final ArrayDeque<ByteBuf> held = new ArrayDeque<>();
    int heldBytes;
    /** The last write into this end's channel; ending its output waits for it. */
    ChannelFuture lastWrite;
    /** This end's peer sends nothing more (FIN, or close_notify for TLS). */
    boolean inputEnded;
    /** Nothing more is written into this end (its output is ending or has ended). */
    boolean outputEnded;

    private End(Channel channel, String role) {
        this.channel = channel;
        this.role = role;
    }

    static End plain(Channel channel, String role) {
        return new Plain(channel, role);
    }

    static End tls(Channel channel, SslHandler tls, String role) {
        return new Tls(channel, tls, role);
    }

    /** Ends this end's output cleanly: a TCP FIN, or a TLS close_notify on a connection kept open. */
    abstract ChannelFuture endOutput();

    abstract boolean isTls();

    /** "TLSv1.3 TLS_AES_128_GCM_SHA256" once handshaken; null for plain TCP or before. */
    abstract String tlsSession();

    /** Whether the peer ended its output with a close_notify (always false for plain TCP). */
    abstract boolean receivedCloseNotify();

    /**
     * Whether this end can still carry bytes to its peer. False for a TLS end whose engine
     * answered the peer's close_notify with its own (see {@link Relay#closeNotifyReceived}).
     */
    abstract boolean canSend();

    /**
     * Closes without the clean ending: an RST (SO_LINGER 0) and, for TLS, no close_notify, so
     * that the peer cannot take a broken stream for a complete one.
     */
    void reset() {
        TcpReset.reset(channel);
    }

    String peer() {
        return Relay.addressString(ProxyProtocolIn.clientOf(channel));
    }

    private static final class Plain extends End {
        Plain(Channel channel, String role) {
            super(channel, role);
        }

        @Override
        boolean isTls() {
            return false;
        }

        @Override
        String tlsSession() {
            return null;
        }

        @Override
        ChannelFuture endOutput() {
            return ((DuplexChannel) channel).shutdownOutput();
        }

        @Override
        boolean receivedCloseNotify() {
            return false;
        }

        @Override
        boolean canSend() {
            return true;
        }
    }

    private static final class Tls extends End {
        private final SslHandler tls;

        Tls(Channel channel, SslHandler tls, String role) {
            super(channel, role);
            this.tls = tls;
        }

        @Override
        boolean isTls() {
            return true;
        }

        @Override
        String tlsSession() {
            if (!tls.handshakeFuture().isSuccess()) {
                return null;
            }
            javax.net.ssl.SSLSession session = tls.engine().getSession();
            return session.getProtocol() + " " + session.getCipherSuite();
        }

        @Override
        ChannelFuture endOutput() {
            return tls.closeOutbound();
        }

        @Override
        boolean receivedCloseNotify() {
            // Not SslCloseCompletionEvent alone: netty's OpenSSL engine also fires it once we
            // sent our own close_notify, before the peer sent anything. And not after the channel
            // closed, when SslHandler marks the engine's inbound done itself.
            return channel.isActive() && tls.engine().isInboundDone();
        }

        @Override
        boolean canSend() {
            return !tls.engine().isOutboundDone();
        }
    }
}
