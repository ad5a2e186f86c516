package io.tlsd.daemon.ipc;

import io.netty.handler.codec.LengthFieldBasedFrameDecoder;

/**
 * Splits the IPC byte stream into frames: a 4-byte big-endian length, then that many bytes.
 * A length above the limit fails at once (before its bytes arrive), so a hostile length cannot
 * make the daemon buffer anything.
 */
final class IpcFrameDecoder extends LengthFieldBasedFrameDecoder {
    static final int LENGTH_BYTES = 4;

    IpcFrameDecoder(int maxFrameBytes) {
        super(maxFrameBytes + LENGTH_BYTES, 0, LENGTH_BYTES, 0, LENGTH_BYTES, true);
    }
}
