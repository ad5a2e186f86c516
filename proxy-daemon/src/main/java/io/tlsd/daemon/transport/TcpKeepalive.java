package io.tlsd.daemon.transport;

import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.nio.NioChannelOption;
import java.time.Duration;
import jdk.net.ExtendedSocketOptions;

/**
 * TCP keepalive on the connections applications hold through the daemon (those of OPENs and of
 * listeners), so that a peer that vanished without a word (a host that crashed, a NAT or firewall
 * that forgot the flow) ends its connection with a reset instead of leaving its reads waiting for
 * ever: after {@code idle} without traffic the kernel probes every {@link #INTERVAL} (at most
 * {@code idle}), and {@link #PROBES} probes left unanswered end the connection.
 *
 * @param idle the quiet time before the first probe; {@link Duration#ZERO} turns keepalive off
 */
public record TcpKeepalive(Duration idle) {
    public static final Duration INTERVAL = Duration.ofSeconds(15);
    public static final int PROBES = 4;
    /** Linux's largest TCP_KEEPIDLE. */
    public static final Duration MAX_IDLE = Duration.ofSeconds(32767);
    public static final Duration DEFAULT_IDLE = Duration.ofMinutes(1);
    public static final TcpKeepalive OFF = new TcpKeepalive(Duration.ZERO);

    public TcpKeepalive {
        if (idle.isNegative() || (!idle.isZero() && idle.compareTo(Duration.ofSeconds(1)) < 0)
                || idle.compareTo(MAX_IDLE) > 0) {
            throw new IllegalArgumentException("tcp_keepalive: " + idle.toMillis() + "ms is neither 0 (off) nor"
                    + " between 1s and " + MAX_IDLE.toSeconds() + "s");
        }
    }

    public boolean enabled() {
        return !idle.isZero();
    }

    /** Seconds between probes. */
    int intervalSeconds() {
        return (int) Math.min(INTERVAL.toSeconds(), idle.toSeconds());
    }

    /** Turns keepalive on for {@code ch}, a TCP channel of either transport; nothing when off. */
    public void apply(Channel ch) {
        if (!enabled()) {
            return;
        }
        ChannelConfig config = ch.config();
        config.setOption(ChannelOption.SO_KEEPALIVE, true);
        int idleSeconds = (int) idle.toSeconds();
        if (ch instanceof EpollSocketChannel) {
            config.setOption(EpollChannelOption.TCP_KEEPIDLE, idleSeconds);
            config.setOption(EpollChannelOption.TCP_KEEPINTVL, intervalSeconds());
            config.setOption(EpollChannelOption.TCP_KEEPCNT, PROBES);
        } else {
            config.setOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPIDLE), idleSeconds);
            config.setOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPINTERVAL), intervalSeconds());
            config.setOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPCOUNT), PROBES);
        }
    }

    @Override
    public String toString() {
        return enabled() ? "idle " + idle.toSeconds() + "s, every " + intervalSeconds() + "s, " + PROBES + " probes"
                : "off";
    }
}
