package io.tlsd.daemon.transport;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolException;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.util.AttributeKey;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code accept_proxy_protocol}: connections that reach a listener or server tunnel through a load
 * balancer (HAProxy {@code send-proxy(-v2)}, an AWS NLB, Envoy...) begin with a PROXY protocol
 * header, v1 or v2, that names the client the balancer accepted. The header is read and taken off
 * before anything else sees the bytes, and the client it names stands for the connection's peer
 * ({@link #clientOf}): in {@code ConnectionInfo.peer_address}, in the log lines, and in the PROXY
 * header a tunnel sends its backend. A connection whose first bytes are no valid header is
 * closed, with a warning (at most every 10 s) that names the TCP peer. A header of another family
 * than TCP over IPv4 or IPv6 (UDP, UNIX), or with the LOCAL command (the balancer's own health
 * check), keeps the TCP peer. The header is believed: with {@code proxy_protocol_sources} ({@link
 * ProxySources}) only from the balancers it lists, whose connections alone are taken; without it
 * from any peer, so only for ports that nothing but the balancer can reach. A {@link
 * ConnectionLimit}'s share per client goes to the client the header names, once it is read.
 */
public final class ProxyProtocolIn {
    private static final AttributeKey<InetSocketAddress> CLIENT = AttributeKey.valueOf("tlsd.proxied.client");
    private static final AttributeKey<InetSocketAddress> DESTINATION =
            AttributeKey.valueOf("tlsd.proxied.destination");

    /**
     * The most TLV bytes a v2 header may carry: balancers send a few dozen (AWS's VPC endpoint
     * id, say); the decoder's default of 64 KiB would let each connection that has not even
     * begun TLS make the daemon hold that much.
     */
    static final int MAX_TLV_BYTES = 4096;

    private static final Logger log = LoggerFactory.getLogger(ProxyProtocolIn.class);

    private ProxyProtocolIn() {
    }

    /**
     * Puts the header's reader first in {@code ch}'s pipeline, ahead of TLS; or, if {@code ch}'s
     * TCP peer is not among {@code sources}, closes it with a warning (at most every 10 s).
     *
     * @param refusals the listener's or tunnel's count of connections closed, and its warnings' rates
     * @param owner names the listener or tunnel in the warnings
     * @return false if {@code ch} was closed
     */
    public static boolean install(Channel ch, ProxySources sources, Refusals refusals, String owner) {
        if (!sources.trusts(ch.remoteAddress())) {
            refusals.untrusted.increment();
            if (refusals.untrustedWarnings.due()) {
                log.warn("{}: connection from {} closed: not among proxy_protocol_sources ({}); {} such since start,"
                        + " logged at most every 10 s", owner, addressString(ch.remoteAddress()), sources,
                        refusals.untrusted());
            }
            ch.close();
            return false;
        }
        ChannelPipeline pipeline = ch.pipeline();
        pipeline.addFirst("proxy-header", new Reader(refusals.badHeaderWarnings, owner));
        pipeline.addFirst("proxy-decoder", new HAProxyMessageDecoder(MAX_TLV_BYTES));
        return true;
    }

    private static String addressString(SocketAddress address) {
        return address instanceof InetSocketAddress inet ? NetUtil.toSocketAddressString(inet) : String.valueOf(address);
    }

    /**
     * One listener's or tunnel's connections closed for want of a PROXY header or of a trusted
     * peer, and the rates of its warnings about them: its own, so that one noisy port does not
     * hide another's.
     */
    public static final class Refusals {
        private final LongAdder untrusted = new LongAdder();
        private final WarningRate untrustedWarnings = new WarningRate();
        private final WarningRate badHeaderWarnings = new WarningRate();

        /** Connections closed since start because their peer was not among the sources. */
        public long untrusted() {
            return untrusted.sum();
        }
    }

    /**
     * Runs {@code action} on {@code ch}'s event loop once its PROXY header has been read and its
     * client admitted ({@link ConnectionLimit}), or now if it has been read or none is awaited;
     * never if it closes first. Call it on {@code ch}'s event loop.
     */
    public static void afterHeader(Channel ch, Runnable action) {
        Reader reader = ch.pipeline().get(Reader.class);
        if (reader == null) {
            action.run();
        } else {
            reader.then.add(action);
        }
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
        private final WarningRate warnings;
        private final String owner;
        /** {@link #afterHeader}'s actions. */
        private final List<Runnable> then = new ArrayList<>(1);
        /** The client the header named was refused: what came with the header goes nowhere. */
        private boolean refused;

        Reader(WarningRate warnings, String owner) {
            this.warnings = warnings;
            this.owner = owner;
        }

        /** The decoder closed the connection: its first bytes were no PROXY header. */
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            Throwable why = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
            if (!(why instanceof HAProxyProtocolException)) {
                ctx.fireExceptionCaught(cause);
                return;
            }
            if (warnings.due()) {
                log.warn("{}: connection from {} closed: it did not begin with a PROXY protocol header ({});"
                        + " is it the load balancer, sending one (HAProxy send-proxy-v2)? Logged at most every 10 s",
                        owner, addressString(ctx.channel().remoteAddress()),
                        why.getMessage());
            }
            ctx.close();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (refused) {
                ReferenceCountUtil.release(msg);
                return;
            }
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
            if (!ConnectionLimit.admitClient(ctx.channel())) {
                refused = true; // closed: the client holds its share of the listener's places already
                return;
            }
            ctx.pipeline().remove(this);
            for (Runnable action : then) {
                try {
                    action.run();
                } catch (RuntimeException e) {
                    ctx.fireExceptionCaught(e); // as if from this handler: the connection's own handling
                }
            }
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
