package io.tlsd.daemon.ipc;

import com.google.protobuf.CodedOutputStream;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;
import io.tlsd.proto.v1.DaemonMessage;
import java.io.IOException;

/** {@link DaemonMessage} → length prefix and message, written into one buffer. */
@ChannelHandler.Sharable
final class IpcMessageEncoder extends MessageToByteEncoder<DaemonMessage> {
    static final IpcMessageEncoder INSTANCE = new IpcMessageEncoder();

    private IpcMessageEncoder() {
        super(DaemonMessage.class);
    }

    @Override
    protected ByteBuf allocateBuffer(ChannelHandlerContext ctx, DaemonMessage msg, boolean preferDirect) {
        return ctx.alloc().ioBuffer(IpcFrameDecoder.LENGTH_BYTES + msg.getSerializedSize());
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, DaemonMessage msg, ByteBuf out) throws IOException {
        int size = msg.getSerializedSize();
        out.writeInt(size);
        CodedOutputStream coded = CodedOutputStream.newInstance(out.nioBuffer(out.writerIndex(), size));
        msg.writeTo(coded);
        coded.checkNoSpaceLeft();
        out.writerIndex(out.writerIndex() + size);
    }
}
