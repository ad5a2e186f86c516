package io.tlsd.daemon.transport;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.util.AttributeKey;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * {@code accept_proxy_protocol}: connections that reach a listener or server tunnel through a load
 * balancer (HAProxy {@code send-proxy(-v2)}, an AWS NLB, Envoy...) begin with a PROXY protocol
 * header, v1 or v2, that names the client the balancer accepted. The header is read and taken off
 * before anything else sees the bytes, and the client it names stands for the connection's peer
 * ({@link #clientOf}): in {@code ConnectionInfo.peer_address}, in the log lines, and in the PROXY
 * header a tunnel sends its backend. A connection whose first bytes are no valid header is
 * closed. Only for ports that nothing but the balancer can reach: the header is believed.
 */
public final class ProxyProtocolIn {
    private static final AttributeKey<InetSocketAddress> CLIENT = AttributeKey.valueOf("tlsd.proxied.client");
    private static final AttributeKey<InetSocketAddress> DESTINATION =
            AttributeKey.valueOf("tlsd.proxied.destination");

    private ProxyProtocolIn() {
    }

    /** Puts the header's reader first in {@code pipeline}, ahead of TLS. */
    public static void install(ChannelPipeline pipeline) {
        pipeline.addFirst("proxy-header", new Reader());
        pipeline.addFirst("proxy-decoder", new HAProxyMessageDecoder());
    }

    /** The client: the one a PROXY header named, else the TCP peer. */
    public static SocketAddress clientOf(Channel ch) {
        InetSocketAddress proxied = ch.hasAttr(CLIENT) ? ch.attr(CLIENT).get() : null;
        return proxied != null ? proxied : ch.remoteAddress();
    }

    /** The address the client connected to: the one a PROXY header named, else this socket's. */
    public static SocketAddress destinationOf(Channel ch) {
        InetSocketAddress proxied = ch.hasAttr(DESTINATION) ? ch.attr(DESTINATION).get() : null;
        return proxied != null ? proxied : ch.localAddress();
    }

    /** Takes the decoded header: keeps the addresses of a PROXY over TCP, then leaves the pipeline. */
    private static final class Reader extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof HAProxyMessage header)) {
                ctx.fireChannelRead(msg);
                return;
            }
            try {
                // LOCAL (the balancer's own health check) and UNKNOWN keep the TCP peer
                if (header.command() == HAProxyCommand.PROXY
                        && (header.proxiedProtocol() == HAProxyProxiedProtocol.TCP4
                            || header.proxiedProtocol() == HAProxyProxiedProtocol.TCP6)) {
                    ctx.channel().attr(CLIENT).set(address(header.sourceAddress(), header.sourcePort()));
                    ctx.channel().attr(DESTINATION).set(address(header.destinationAddress(),
                            header.destinationPort()));
                }
            } finally {
                header.release();
            }
            ctx.pipeline().remove(this);
            if (!ctx.channel().config().isAutoRead()) {
                // the read TLS asked for brought the header: ask again, for its ClientHello
                ctx.channel().read();
            }
        }

        private static InetSocketAddress address(String ip, int port) {
            byte[] bytes = NetUtil.createByteArrayFromIpAddressString(ip);
            try {
                return new InetSocketAddress(InetAddress.getByAddress(bytes), port);
            } catch (java.net.UnknownHostException e) {
                throw new IllegalArgumentException("a PROXY header's address " + ip + " is not an IP address", e);
            }
        }
    }
}
