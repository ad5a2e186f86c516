package io.tlsd.daemon.transport;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

/**
 * Moves a registered channel to another event loop of the same transport: {@code deregister()}
 * on its loop, then {@code register} on the new one (Netty 4.2 supports re-registration). Used
 * where a connection handshakes on one loop and then belongs to a session on another.
 */
public final class LoopHandOver {
    private LoopHandOver() {
    }

    /**
     * Moves {@code ch} to {@code loop} (nothing to do if it is there already). Call it on the
     * channel's loop. The future's listeners run on {@code loop}; it fails with the cause if the
     * channel could not leave its loop or join the new one (for one, because it closed).
     */
    public static Future<Void> moveTo(Channel ch, EventLoop loop) {
        Promise<Void> moved = loop.newPromise();
        if (ch.eventLoop() == loop) {
            return moved.setSuccess(null);
        }
        ch.deregister().addListener(d -> {
            if (!d.isSuccess()) {
                moved.tryFailure(d.cause());
                return;
            }
            loop.register(ch).addListener(r -> {
                if (r.isSuccess()) {
                    moved.trySuccess(null);
                } else {
                    moved.tryFailure(r.cause());
                }
            });
        });
        return moved;
    }
}
