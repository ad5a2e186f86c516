package io.tlsd.daemon.ipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnknownFieldSet;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.tlsd.proto.v1.Barrier;
import io.tlsd.proto.v1.ClientMessage;
import io.tlsd.proto.v1.Hello;
import io.tlsd.proto.v1.Request;
import io.tlsd.proto.v1.Write;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The WRITE scan of {@link IpcMessageDecoder}: whatever it accepts, protobuf parses to the same
 * request and data; everything else it leaves to protobuf.
 */
class IpcMessageDecoderTest {
    private static final UnpooledByteBufAllocator ALLOC = UnpooledByteBufAllocator.DEFAULT;

    private static byte[] write(long opId, int timeoutMs, long connId, byte[] data) {
        return ClientMessage.newBuilder().setRequest(Request.newBuilder().setOpId(opId).setTimeoutMs(timeoutMs)
                .setWrite(Write.newBuilder().setConnId(connId).setData(ByteString.copyFrom(data)))).build().toByteArray();
    }

    /** Decodes {@code body} both ways and checks they agree; returns whether the scan took it. */
    private static boolean scanAgreesWithProtobuf(byte[] body) {
        ByteBuf frame = Unpooled.directBuffer(body.length).writeBytes(body);
        try {
            WriteFrame scanned = IpcMessageDecoder.decodeWrite(frame, ALLOC);
            if (scanned == null) {
                return false;
            }
            try {
                ClientMessage parsed;
                try {
                    parsed = ClientMessage.parseFrom(body);
                } catch (InvalidProtocolBufferException e) {
                    throw new AssertionError("the scan accepted what protobuf refuses: "
                            + ByteBufUtil.hexDump(body), e);
                }
                Request expected = parsed.getRequest();
                assertEquals(expected.toBuilder().setWrite(expected.getWrite().toBuilder().clearData()).build(),
                        scanned.request(), ByteBufUtil.hexDump(body));
                assertArrayEquals(expected.getWrite().getData().toByteArray(), ByteBufUtil.getBytes(scanned.content()),
                        ByteBufUtil.hexDump(body));
                assertEquals(0, frame.readerIndex(), "the scan does not move the frame");
                return true;
            } finally {
                scanned.release();
            }
        } finally {
            frame.release();
        }
    }

    @Test
    void plainWritesAreScannedIncludingExtremeValues() {
        assertTrue(scanAgreesWithProtobuf(write(1, 0, 1, new byte[] {1, 2, 3})));
        assertTrue(scanAgreesWithProtobuf(write(-1L, -1, Long.MIN_VALUE, new byte[300])));
        assertTrue(scanAgreesWithProtobuf(write(0, 0, 0, new byte[] {0}))); // proto3 defaults: fields absent
        assertTrue(scanAgreesWithProtobuf(write(Long.MAX_VALUE, Integer.MAX_VALUE, 1L << 35, new byte[70_000])));
    }

    @Test
    void fieldsInAnotherOrderAndNonMinimalVarintsAreScannedAsProtobufReadsThem() throws IOException {
        ByteArrayOutputStream write = new ByteArrayOutputStream();
        CodedOutputStream w = CodedOutputStream.newInstance(write);
        w.writeBytes(Write.DATA_FIELD_NUMBER, ByteString.copyFromUtf8("data first"));
        w.writeUInt64(Write.CONN_ID_FIELD_NUMBER, 7);
        w.flush();
        ByteArrayOutputStream request = new ByteArrayOutputStream();
        CodedOutputStream r = CodedOutputStream.newInstance(request);
        r.writeByteArray(Request.WRITE_FIELD_NUMBER, write.toByteArray());
        r.writeUInt32(Request.TIMEOUT_MS_FIELD_NUMBER, 5);
        r.writeRawBytes(new byte[] {0x08, (byte) 0x89, (byte) 0x80, 0x00}); // op_id 9 in three bytes
        r.flush();
        byte[] body = ClientMessage.newBuilder().build().toByteArray();
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        message.writeBytes(body);
        message.write(0x92); // the request tag (18) in two bytes
        message.write(0x00);
        CodedOutputStream m = CodedOutputStream.newInstance(message);
        m.writeUInt32NoTag(request.size());
        m.flush();
        message.writeBytes(request.toByteArray());
        assertTrue(scanAgreesWithProtobuf(message.toByteArray()));
    }

    @Test
    void anythingButAPlainWriteIsLeftToProtobuf() {
        assertNull(decode(ClientMessage.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1)).build()
                .toByteArray()));
        assertNull(decode(ClientMessage.newBuilder().setRequest(Request.newBuilder().setOpId(1)
                .setBarrier(Barrier.newBuilder().setConnId(1))).build().toByteArray()));
        assertNull(decode(new byte[0]));
        assertNull(decode(write(1, 0, 1, new byte[0])), "no data: nothing to save");
        UnknownFieldSet unknown = UnknownFieldSet.newBuilder().addField(99, UnknownFieldSet.Field.newBuilder()
                .addLengthDelimited(ByteString.copyFromUtf8("from a later version")).build()).build();
        assertNull(decode(ClientMessage.newBuilder().setRequest(Request.newBuilder().setOpId(1)
                .setWrite(Write.newBuilder().setConnId(1).setData(ByteString.copyFromUtf8("x"))
                        .setUnknownFields(unknown))).build().toByteArray()), "unknown field in Write");
        assertNull(decode(ClientMessage.newBuilder().setRequest(Request.newBuilder().setOpId(1)
                .setWrite(Write.newBuilder().setConnId(1).setData(ByteString.copyFromUtf8("x")))
                .setUnknownFields(unknown)).build().toByteArray()), "unknown field in Request");
        byte[] once = write(1, 0, 1, new byte[] {1});
        byte[] twice = new byte[once.length * 2];
        System.arraycopy(once, 0, twice, 0, once.length);
        System.arraycopy(once, 0, twice, once.length, once.length);
        assertNull(decode(twice), "a repeated request: protobuf merges the two");
        byte[] truncated = write(1, 0, 1, new byte[10]);
        assertNull(decode(java.util.Arrays.copyOf(truncated, truncated.length - 1)), "protobuf reports the error");
    }

    @Test
    void whateverTheScanAcceptsOfMangledFramesProtobufParsesTheSame() {
        Random random = new Random(4711);
        byte[] valid = write(300, 1000, 2, new byte[40]);
        int accepted = 0;
        for (int i = 0; i < 20_000; i++) {
            byte[] body = valid.clone();
            int changes = 1 + random.nextInt(3);
            for (int c = 0; c < changes; c++) {
                body[random.nextInt(body.length)] = (byte) random.nextInt(256);
            }
            if (random.nextInt(4) == 0) {
                body = java.util.Arrays.copyOf(body, random.nextInt(body.length + 1));
            }
            if (scanAgreesWithProtobuf(body)) {
                accepted++;
            }
        }
        assertTrue(accepted > 1000, "mangled data bytes still scan: " + accepted);
    }

    @Test
    void aWriteFillingItsBufferIsASliceAndASmallOneACopy() {
        byte[] body = write(1, 0, 1, new byte[1000]);
        ByteBuf exact = Unpooled.directBuffer(body.length).writeBytes(body);
        WriteFrame sliced = IpcMessageDecoder.decodeWrite(exact, ALLOC);
        assertNotNull(sliced);
        assertEquals(2, exact.refCnt(), "the slice shares the frame's reference count");
        sliced.release();
        assertEquals(1, exact.refCnt());
        exact.release();

        ByteBuf roomy = Unpooled.directBuffer(body.length * 8).writeBytes(body);
        WriteFrame copied = IpcMessageDecoder.decodeWrite(roomy, ALLOC);
        assertNotNull(copied);
        assertEquals(1, roomy.refCnt(), "a copy: the big buffer is not pinned");
        assertTrue(copied.content().isDirect());
        copied.release();
        roomy.release();
    }

    private static WriteFrame decode(byte[] body) {
        ByteBuf frame = Unpooled.buffer(body.length).writeBytes(body);
        try {
            WriteFrame w = IpcMessageDecoder.decodeWrite(frame, ALLOC);
            if (w != null) {
                w.release();
            }
            return w;
        } finally {
            frame.release();
        }
    }
}
