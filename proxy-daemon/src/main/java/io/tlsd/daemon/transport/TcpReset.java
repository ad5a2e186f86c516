package io.tlsd.daemon.transport;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;

/**
 * Closing a TCP connection without the clean ending: an RST (SO_LINGER 0) and, for TLS, no
 * close_notify, so that the peer cannot take a broken stream for a complete one. For a tunnel's
 * side whose other side was cut, and for the connections an application left open.
 */
public final class TcpReset {
    private TcpReset() {
    }

    public static void reset(Channel channel) {
        if (channel.isActive()) {
            channel.config().setOption(ChannelOption.SO_LINGER, 0);
        }
        // Closing from the first context skips every handler's close(), SslHandler's included,
        // which would otherwise send a close_notify first.
        channel.pipeline().firstContext().close();
    }
}
