package io.tlsd.daemon.tls;

import com.google.protobuf.ByteString;
import io.netty.channel.Channel;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslHandler;
import io.netty.internal.tcnative.SSL;
import io.netty.util.NetUtil;
import io.tlsd.daemon.transport.ProxyProtocolIn;
import io.tlsd.proto.v1.ConnectionInfo;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.security.cert.Certificate;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/** What both roles tell the application about an established TLS connection. */
public final class ConnectionInfos {
    private ConnectionInfos() {
    }

    /** Protocol, cipher, ALPN, resumption, addresses and the peer's certificates, if any. */
    public static ConnectionInfo.Builder of(Channel ch, long connectionId) {
        SslHandler tls = ch.pipeline().get(SslHandler.class);
        SSLEngine engine = tls.engine();
        SSLSession session = engine.getSession();
        ConnectionInfo.Builder info = ConnectionInfo.newBuilder()
                .setConnId(connectionId)
                .setProtocol(session.getProtocol())
                .setCipherSuite(session.getCipherSuite())
                .setAlpn(tls.applicationProtocol() == null ? "" : tls.applicationProtocol())
                .setResumed(isResumed(engine))
                .setKeyExchangeGroup(groupOf(engine))
                .setPeerAddress(addressString(ProxyProtocolIn.clientOf(ch)))
                .setLocalAddress(addressString(ch.localAddress()));
        try {
            Certificate[] chain = session.getPeerCertificates();
            if (chain.length > 0 && chain[0] instanceof X509Certificate leaf) {
                info.setPeerSubject(leaf.getSubjectX500Principal().getName());
            }
            for (Certificate cert : chain) {
                info.addPeerCertificates(ByteString.copyFrom(cert.getEncoded()));
            }
        } catch (SSLPeerUnverifiedException | CertificateEncodingException e) {
            // the peer sent no certificate (a client under optional authentication)
        }
        return info;
    }

    private static String groupOf(SSLEngine engine) {
        if (engine instanceof ReferenceCountedOpenSslEngine openssl) {
            try {
                long ssl = openssl.sslPointer(); // 0 once BoringSSL freed the engine (peer already gone)
                String group = ssl == 0 ? null : SSL.getGroupName(ssl);
                return group == null ? "" : group;
            } catch (Exception e) {
                return "";
            }
        }
        return "";
    }

    private static boolean isResumed(SSLEngine engine) {
        if (engine instanceof ReferenceCountedOpenSslEngine openssl) {
            long ssl = openssl.sslPointer(); // 0 once BoringSSL freed the engine (peer already gone)
            return ssl != 0 && SSL.isSessionReused(ssl);
        }
        return false;
    }

    public static String addressString(SocketAddress address) {
        if (address instanceof InetSocketAddress inet) {
            return NetUtil.toSocketAddressString(inet);
        }
        return String.valueOf(address);
    }
}
