package io.tlsd.daemon.ipc;

import com.google.protobuf.WireFormat;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageDecoder;
import io.tlsd.proto.v1.ClientMessage;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Write;
import java.util.List;

/**
 * One frame → one {@link ClientMessage}, or a {@link WriteFrame} for a WRITE request, whose
 * plaintext is then not copied: it stays where the frame decoder put it and travels on as a
 * retained slice of the frame, down to the connection's {@code SslHandler} (which encrypts
 * straight from it, as the IPC channel reads into direct memory; a heap frame, as in some tests,
 * is copied to direct memory by SslHandler, once).
 *
 * <p>Why not protobuf aliasing: the protobuf-java this daemon uses (4.36) has no decoder for
 * direct {@code ByteBuffer}s any more (4.32 still had {@code UnsafeDirectNioDecoder});
 * {@code CodedInputStream.newInstance(ByteBuffer)} copies the whole buffer into a {@code byte[]}
 * first, so even with aliasing enabled a {@code bytes} field is a copy, never a view of the frame. So a WRITE is recognised by a strict scan of the wire format
 * ({@link #decodeWrite}) that accepts only the plain shape every encoder produces:
 * {@code ClientMessage{request{op_id?, timeout_ms?, write{conn_id?, data}}}}, each field at most
 * once, no unknown field. Anything else (another request, a repeated or unknown field, a
 * malformed frame) goes to protobuf, which then decides exactly as before, errors included. Every
 * frame the scan accepts is one protobuf parses to the same values.
 *
 * <p>Buffer ownership: {@link MessageToMessageDecoder} releases the frame after {@code decode};
 * a WriteFrame holds its own reference to the plaintext (see {@link WriteFrame}). Nothing passed
 * on aliases the frame otherwise: protobuf copies what it parses.
 */
final class IpcMessageDecoder extends MessageToMessageDecoder<ByteBuf> {
    /**
     * A slice keeps the whole buffer it was cut from alive (the frame decoder's cumulation, up to
     * a little more than {@code max_frame_bytes}). A write may pin at most this many times its
     * own size; a smaller one is copied into a buffer of its own instead, so that what a session
     * pins stays proportional to its (bounded) queued write bytes.
     */
    static final int MAX_PINNED_BYTES_PER_BYTE = 4;

    private static final int CLIENT_MESSAGE_REQUEST =
            tag(ClientMessage.REQUEST_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int REQUEST_OP_ID = tag(Request.OP_ID_FIELD_NUMBER, WireFormat.WIRETYPE_VARINT);
    private static final int REQUEST_TIMEOUT_MS = tag(Request.TIMEOUT_MS_FIELD_NUMBER, WireFormat.WIRETYPE_VARINT);
    private static final int REQUEST_WRITE = tag(Request.WRITE_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    private static final int WRITE_CONN_ID = tag(Write.CONN_ID_FIELD_NUMBER, WireFormat.WIRETYPE_VARINT);
    private static final int WRITE_DATA = tag(Write.DATA_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);

    IpcMessageDecoder() {
        super(ByteBuf.class);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf frame, List<Object> out) throws Exception {
        WriteFrame write = decodeWrite(frame, ctx.alloc());
        // From a ByteBuffer, protobuf copies just the frame's bytes; from a stream it would
        // allocate a 4 KiB buffer per message, and most requests are a few dozen bytes.
        out.add(write != null ? write : ClientMessage.parseFrom(frame.nioBuffer()));
    }

    /**
     * The frame as a WRITE whose data is not copied (or, for a small write in a big buffer, copied
     * once into {@code alloc}'s memory), or null when it is not a plain WRITE request; the frame's
     * indexes are left alone either way.
     */
    static WriteFrame decodeWrite(ByteBuf frame, ByteBufAllocator alloc) {
        Scan scan = new Scan(frame);
        if (!scan.clientMessage(frame.writerIndex()) || scan.dataLength <= 0) {
            return null; // not a plain WRITE, or one without data: protobuf's (cheap) business
        }
        Request request = Request.newBuilder()
                .setOpId(scan.opId)
                .setTimeoutMs((int) scan.timeoutMs) // uint32: protobuf keeps the low 32 bits too
                .setWrite(Write.newBuilder().setConnId(scan.connId)) // data travels beside it
                .build();
        int length = scan.dataLength;
        ByteBuf data;
        if ((long) length * MAX_PINNED_BYTES_PER_BYTE >= pinnableCapacity(frame)) {
            // shares the frame's memory and reference count: one more reference, no copy
            data = frame.retainedSlice(scan.dataIndex, length);
        } else {
            data = alloc.directBuffer(length).writeBytes(frame, scan.dataIndex, length);
        }
        return new WriteFrame(request, data);
    }

    /** The capacity of the buffer a slice of {@code frame} keeps alive. */
    private static int pinnableCapacity(ByteBuf frame) {
        ByteBuf root = frame;
        for (ByteBuf parent = root.unwrap(); parent != null; parent = parent.unwrap()) {
            root = parent;
        }
        return root.capacity();
    }

    private static int tag(int fieldNumber, int wireType) {
        return fieldNumber << 3 | wireType;
    }

    /**
     * A cursor over the frame's bytes (absolute indexes, so the frame itself is not moved) and
     * what it found. Each method returns false as soon as the bytes are not the plain shape.
     */
    private static final class Scan {
        private final ByteBuf buf;
        private int pos;
        private boolean malformed;

        long opId;
        long timeoutMs;
        long connId;
        int dataIndex;
        int dataLength = -1;

        Scan(ByteBuf buf) {
            this.buf = buf;
            this.pos = buf.readerIndex();
        }

        /** {@code ClientMessage}: exactly one field, {@code request}. */
        boolean clientMessage(int end) {
            if (pos >= end || varint(end) != CLIENT_MESSAGE_REQUEST) {
                return false;
            }
            int requestEnd = lengthDelimited(end);
            return requestEnd == end && request(requestEnd);
        }

        /** {@code Request}: {@code op_id}, {@code timeout_ms} (both optional) and {@code write}, each once. */
        private boolean request(int end) {
            boolean opIdSeen = false;
            boolean timeoutSeen = false;
            boolean writeSeen = false;
            while (pos < end) {
                long field = varint(end);
                if (field == REQUEST_OP_ID && !opIdSeen) {
                    opIdSeen = true;
                    opId = varint(end);
                } else if (field == REQUEST_TIMEOUT_MS && !timeoutSeen) {
                    timeoutSeen = true;
                    timeoutMs = varint(end) & 0xFFFF_FFFFL;
                } else if (field == REQUEST_WRITE && !writeSeen) {
                    writeSeen = true;
                    int writeEnd = lengthDelimited(end);
                    if (writeEnd < 0 || !write(writeEnd)) {
                        return false;
                    }
                } else {
                    return false; // another op, an unknown or repeated field, or a malformed tag
                }
                if (malformed) {
                    return false;
                }
            }
            return writeSeen;
        }

        /** {@code Write}: {@code conn_id} (optional) and {@code data}, each once. */
        private boolean write(int end) {
            boolean connIdSeen = false;
            while (pos < end) {
                long field = varint(end);
                if (field == WRITE_CONN_ID && !connIdSeen) {
                    connIdSeen = true;
                    connId = varint(end);
                } else if (field == WRITE_DATA && dataLength < 0) {
                    int dataEnd = lengthDelimited(end);
                    if (dataEnd < 0) {
                        return false;
                    }
                    dataIndex = pos;
                    dataLength = dataEnd - pos;
                    pos = dataEnd;
                } else {
                    return false;
                }
                if (malformed) {
                    return false;
                }
            }
            return true;
        }

        /**
         * A base-128 varint of at most 10 bytes ending before {@code end}, decoded as protobuf
         * decodes it; sets {@link #malformed} (and returns -1) for a truncated or overlong one.
         */
        private long varint(int end) {
            long result = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) {
                    break;
                }
                byte b = buf.getByte(pos++);
                result |= (long) (b & 0x7F) << shift;
                if (b >= 0) {
                    return result;
                }
            }
            malformed = true;
            return -1;
        }

        /** Reads a length-delimited field's length; returns where its bytes end, or -1. */
        private int lengthDelimited(int end) {
            long length = varint(end);
            if (malformed || length < 0 || length > end - pos) {
                malformed = true;
                return -1;
            }
            return pos + (int) length;
        }
    }
}
