package io.tlsd.daemon.tunnel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.EncoderException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The exact bytes of PROXY protocol v2 headers, written out by hand from haproxy's proxy-protocol.txt. */
class TunnelProxyHeaderEncoderTest {
    private static final String SIGNATURE = "0d0a0d0a000d0a515549540a";

    @Test
    void tcp4WithAlpnAuthorityAndClientCertificate() {
        ProxyHeader header = new ProxyHeader(
                new InetSocketAddress("192.0.2.10", 51234),
                new InetSocketAddress("198.51.100.20", 443),
                "h2", "example.com",
                new ProxyHeader.Tls("TLSv1.3", "TLS_AES_128_GCM_SHA256", "alice", true, true));

        String expected = SIGNATURE
                + "21"                               // version 2, command PROXY
                + "11"                               // TCP over IPv4
                + "0052"                             // 82 bytes follow: 12 + 5 + 14 + 51
                + "c000020a" + "c6336414"            // 192.0.2.10, 198.51.100.20
                + "c822" + "01bb"                    // 51234, 443
                + "01" + "0002" + hex("h2")          // PP2_TYPE_ALPN
                + "02" + "000b" + hex("example.com") // PP2_TYPE_AUTHORITY
                + "20" + "0030"                      // PP2_TYPE_SSL, 48 bytes
                + "07"                               // PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS
                + "00000000"                         // verify: 0, the certificate was verified
                + "21" + "0007" + hex("TLSv1.3")     // PP2_SUBTYPE_SSL_VERSION
                + "22" + "0005" + hex("alice")       // PP2_SUBTYPE_SSL_CN
                + "23" + "0016" + hex("TLS_AES_128_GCM_SHA256"); // PP2_SUBTYPE_SSL_CIPHER
        assertEquals(expected, encodeInPipeline(header));
    }

    @Test
    void tcp6WithoutAlpnOrClientCertificate() {
        ProxyHeader header = new ProxyHeader(
                new InetSocketAddress("2001:db8::1", 40000),
                new InetSocketAddress("2001:db8::2", 8443),
                null, "tunnel.test",
                new ProxyHeader.Tls("TLSv1.3", "TLS_AES_256_GCM_SHA384", null, false, false));

        String expected = SIGNATURE
                + "21"                                              // version 2, command PROXY
                + "21"                                              // TCP over IPv6
                + "005d"                                            // 93 bytes follow: 36 + 14 + 43
                + "20010db8000000000000000000000001"                // 2001:db8::1
                + "20010db8000000000000000000000002"                // 2001:db8::2
                + "9c40" + "20fb"                                   // 40000, 8443
                + "02" + "000b" + hex("tunnel.test")                // PP2_TYPE_AUTHORITY
                + "20" + "0028"                                     // PP2_TYPE_SSL, 40 bytes
                + "01"                                              // PP2_CLIENT_SSL only
                + "00000001"                                        // verify: non-zero, no certificate
                + "21" + "0007" + hex("TLSv1.3")                    // PP2_SUBTYPE_SSL_VERSION
                + "23" + "0016" + hex("TLS_AES_256_GCM_SHA384");    // PP2_SUBTYPE_SSL_CIPHER
        assertEquals(expected, encodeInPipeline(header));
    }

    @Test
    void ipv4NextToIpv6IsSentAsMappedIpv6() {
        ProxyHeader header = new ProxyHeader(
                new InetSocketAddress("192.0.2.10", 1), new InetSocketAddress("2001:db8::2", 2), null, null, null);

        assertEquals(SIGNATURE + "21" + "21" + "0024"
                + "00000000000000000000ffffc000020a" + "20010db8000000000000000000000002"
                + "0001" + "0002", encodeInPipeline(header));
    }

    @Test
    void withoutAddressesTheFamilyIsUnspec() {
        ProxyHeader header = new ProxyHeader(null, null, null, null, null);

        assertEquals(SIGNATURE + "21" + "00" + "0000", encodeInPipeline(header));
    }

    @Test
    void aValueTooLongForItsLengthFieldFails() {
        String huge = "x".repeat(70_000);
        ProxyHeader header = new ProxyHeader(null, null, null, huge, null);
        ByteBuf out = Unpooled.buffer();
        try {
            assertThrows(EncoderException.class, () -> ProxyHeaderEncoder.encode(header, out));
        } finally {
            out.release();
        }
    }

    @Test
    void relayedBytesPassThrough() {
        EmbeddedChannel channel = new EmbeddedChannel(ProxyHeaderEncoder.INSTANCE);
        channel.writeOutbound(Unpooled.copiedBuffer("data", StandardCharsets.US_ASCII));
        ByteBuf out = channel.readOutbound();
        try {
            assertEquals("data", out.toString(StandardCharsets.US_ASCII));
        } finally {
            out.release();
        }
        assertFalse(channel.finishAndReleaseAll());
    }

    private static String encodeInPipeline(ProxyHeader header) {
        EmbeddedChannel channel = new EmbeddedChannel(ProxyHeaderEncoder.INSTANCE);
        channel.writeOutbound(header);
        ByteBuf out = channel.readOutbound();
        try {
            return ByteBufUtil.hexDump(out);
        } finally {
            out.release();
            assertFalse(channel.finishAndReleaseAll(), "one buffer per header");
        }
    }

    private static String hex(String ascii) {
        return ByteBufUtil.hexDump(ascii.getBytes(StandardCharsets.UTF_8));
    }
}
