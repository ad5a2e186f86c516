package io.tlsd.daemon.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.EncoderException;
import io.netty.handler.codec.MessageToByteEncoder;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * Encodes a {@link ProxyHeader} as a PROXY protocol version 2 header (binary format, command
 * PROXY), as haproxy's proxy-protocol.txt specifies: the 12-byte signature, version and command
 * {@code 0x21}, family {@code 0x11} (TCP over IPv4) or {@code 0x21} (TCP over IPv6), the
 * big-endian length of what follows, the addresses and ports, then the TLVs: PP2_TYPE_ALPN,
 * PP2_TYPE_AUTHORITY and PP2_TYPE_SSL with its sub-TLVs.
 *
 * <p>An IPv4 address paired with an IPv6 one is sent as IPv4-mapped IPv6, since one header has
 * one family. Without addresses the family is UNSPEC and the receiver uses the connection's own.
 */
@ChannelHandler.Sharable
final class ProxyHeaderEncoder extends MessageToByteEncoder<ProxyHeader> {
    static final ProxyHeaderEncoder INSTANCE = new ProxyHeaderEncoder();

    static final byte[] SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    static final int VERSION_2_PROXY = 0x21;
    static final int UNSPEC = 0x00;
    static final int TCP_OVER_IPV4 = 0x11;
    static final int TCP_OVER_IPV6 = 0x21;

    static final int PP2_TYPE_ALPN = 0x01;
    static final int PP2_TYPE_AUTHORITY = 0x02;
    static final int PP2_TYPE_SSL = 0x20;
    static final int PP2_SUBTYPE_SSL_VERSION = 0x21;
    static final int PP2_SUBTYPE_SSL_CN = 0x22;
    static final int PP2_SUBTYPE_SSL_CIPHER = 0x23;

    static final int PP2_CLIENT_SSL = 0x01;
    static final int PP2_CLIENT_CERT_CONN = 0x02;
    static final int PP2_CLIENT_CERT_SESS = 0x04;

    private static final int MAX_LENGTH = 0xFFFF;

    private ProxyHeaderEncoder() {
        super(ProxyHeader.class, false); // a heap buffer: the header is built once and small
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, ProxyHeader header, ByteBuf out) {
        encode(header, out);
    }

    static void encode(ProxyHeader header, ByteBuf out) {
        out.writeBytes(SIGNATURE);
        out.writeByte(VERSION_2_PROXY);
        InetSocketAddress source = header.source();
        InetSocketAddress destination = header.destination();
        boolean hasAddresses = source != null && destination != null
                && !source.isUnresolved() && !destination.isUnresolved();
        boolean ipv4 = hasAddresses && source.getAddress() instanceof Inet4Address
                && destination.getAddress() instanceof Inet4Address;
        out.writeByte(!hasAddresses ? UNSPEC : ipv4 ? TCP_OVER_IPV4 : TCP_OVER_IPV6);
        int lengthIndex = out.writerIndex();
        out.writeShort(0); // patched below
        if (hasAddresses) {
            out.writeBytes(addressBytes(source.getAddress(), ipv4));
            out.writeBytes(addressBytes(destination.getAddress(), ipv4));
            out.writeShort(source.getPort());
            out.writeShort(destination.getPort());
        }
        if (header.alpn() != null) {
            writeTlv(out, PP2_TYPE_ALPN, header.alpn().getBytes(StandardCharsets.US_ASCII));
        }
        if (header.authority() != null) {
            writeTlv(out, PP2_TYPE_AUTHORITY, header.authority().getBytes(StandardCharsets.UTF_8));
        }
        if (header.tls() != null) {
            writeSsl(out, header.tls());
        }
        int length = out.writerIndex() - lengthIndex - 2;
        if (length > MAX_LENGTH) {
            throw new EncoderException("PROXY header of " + length + " bytes exceeds " + MAX_LENGTH);
        }
        out.setShort(lengthIndex, length);
    }

    private static void writeSsl(ByteBuf out, ProxyHeader.Tls tls) {
        out.writeByte(PP2_TYPE_SSL);
        int lengthIndex = out.writerIndex();
        out.writeShort(0);
        int client = PP2_CLIENT_SSL
                | (tls.certificateOnConnection() ? PP2_CLIENT_CERT_CONN : 0)
                | (tls.certificateInSession() ? PP2_CLIENT_CERT_SESS : 0);
        out.writeByte(client);
        out.writeInt(tls.certificateInSession() ? 0 : 1); // verify: 0 = a certificate was verified
        writeTlv(out, PP2_SUBTYPE_SSL_VERSION, tls.version().getBytes(StandardCharsets.US_ASCII));
        if (tls.clientCommonName() != null) {
            writeTlv(out, PP2_SUBTYPE_SSL_CN, tls.clientCommonName().getBytes(StandardCharsets.UTF_8));
        }
        writeTlv(out, PP2_SUBTYPE_SSL_CIPHER, tls.cipher().getBytes(StandardCharsets.US_ASCII));
        int length = out.writerIndex() - lengthIndex - 2;
        if (length > MAX_LENGTH) {
            throw new EncoderException("PP2_TYPE_SSL of " + length + " bytes exceeds " + MAX_LENGTH);
        }
        out.setShort(lengthIndex, length);
    }

    private static void writeTlv(ByteBuf out, int type, byte[] value) {
        if (value.length > MAX_LENGTH) {
            throw new EncoderException("PROXY TLV 0x" + Integer.toHexString(type) + " of " + value.length
                    + " bytes exceeds " + MAX_LENGTH);
        }
        out.writeByte(type);
        out.writeShort(value.length);
        out.writeBytes(value);
    }

    private static byte[] addressBytes(InetAddress address, boolean ipv4) {
        byte[] raw = address.getAddress();
        if (ipv4 || raw.length == 16) {
            return raw;
        }
        byte[] mapped = new byte[16]; // ::ffff:a.b.c.d
        mapped[10] = (byte) 0xFF;
        mapped[11] = (byte) 0xFF;
        System.arraycopy(raw, 0, mapped, 12, 4);
        return mapped;
    }
}
