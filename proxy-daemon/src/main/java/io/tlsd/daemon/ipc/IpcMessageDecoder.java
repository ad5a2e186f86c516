package io.tlsd.daemon.ipc;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageDecoder;
import io.tlsd.proto.v1.ClientMessage;
import java.util.List;

/** One frame → one {@link ClientMessage}. Bytes fields are copied out, so the frame is freed. */
final class IpcMessageDecoder extends MessageToMessageDecoder<ByteBuf> {
    IpcMessageDecoder() {
        super(ByteBuf.class);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf frame, List<Object> out) throws Exception {
        out.add(ClientMessage.parseFrom(new ByteBufInputStream(frame)));
    }
}
