package io.tlsd.daemon.ipc;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import io.tlsd.proto.v1.Request;

/**
 * A WRITE request decoded without copying its plaintext: the request with an empty
 * {@code write.data}, and the plaintext as a buffer of its own (usually a retained slice of the
 * received frame, see {@link IpcMessageDecoder}).
 *
 * <p>Ownership: whoever holds a WriteFrame holds one reference to {@link #content()} and must
 * either release the frame or hand the content on to
 * {@link io.tlsd.daemon.engine.Session#submitWrite}, which then owns it. Being a
 * {@link io.netty.buffer.ByteBufHolder}, a frame nobody handled is released by the pipeline's
 * tail like any other message.
 */
final class WriteFrame extends DefaultByteBufHolder {
    private final Request request;

    /**
     * @param request the WRITE request; its {@code data} is not read (leave it empty)
     * @param data the plaintext; the frame takes over the caller's reference
     */
    WriteFrame(Request request, ByteBuf data) {
        super(data);
        this.request = request;
    }

    Request request() {
        return request;
    }

    @Override
    public WriteFrame replace(ByteBuf content) {
        return new WriteFrame(request, content);
    }

    @Override
    public String toString() {
        return "WriteFrame(op " + request.getOpId() + ", conn " + request.getWrite().getConnId() + ", "
                + content().readableBytes() + " bytes)";
    }
}
