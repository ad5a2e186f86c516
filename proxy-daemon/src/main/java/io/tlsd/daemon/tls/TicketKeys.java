package io.tlsd.daemon.tls;

import io.netty.handler.ssl.OpenSslServerSessionContext;
import io.netty.handler.ssl.OpenSslSessionTicketKey;
import io.netty.handler.ssl.SslContext;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Set;
import java.util.WeakHashMap;

/**
 * TLS 1.3 session-ticket keys of the server role, shared by every listener context so a ticket
 * issued under one SNI name resumes under the same daemon. {@link #rotate()} (on a schedule)
 * puts a fresh key in front for new tickets and keeps the previous ones for resuming, so a
 * rotation never invalidates a ticket younger than {@code kept} rotation periods.
 *
 * <p>Contexts are held weakly: one that a certificate reload replaced goes away with the last
 * connection that uses it (its engines hold it), and is not rotated after that.
 */
public final class TicketKeys {
    private final SecureRandom random = new SecureRandom();
    private final int kept;
    private final ArrayDeque<OpenSslSessionTicketKey> keys = new ArrayDeque<>();
    /** Guarded by this. */
    private final Set<SslContext> contexts = Collections.newSetFromMap(new WeakHashMap<>());

    public TicketKeys(int kept) {
        if (kept < 1) {
            throw new IllegalArgumentException("kept < 1");
        }
        this.kept = kept;
        keys.addFirst(newKey());
    }

    /** Makes {@code context} use these keys, now and after every rotation. */
    public synchronized void attach(SslContext context) {
        if (context.sessionContext() instanceof OpenSslServerSessionContext) {
            contexts.add(context);
            apply(context);
        }
    }

    public synchronized void rotate() {
        keys.addFirst(newKey());
        while (keys.size() > kept) {
            keys.removeLast();
        }
        contexts.forEach(this::apply);
    }

    private void apply(SslContext context) {
        ((OpenSslServerSessionContext) context.sessionContext())
                .setTicketKeys(keys.toArray(new OpenSslSessionTicketKey[0]));
    }

    private OpenSslSessionTicketKey newKey() {
        byte[] name = new byte[16];
        byte[] hmac = new byte[16];
        byte[] aes = new byte[16];
        random.nextBytes(name);
        random.nextBytes(hmac);
        random.nextBytes(aes);
        return new OpenSslSessionTicketKey(name, hmac, aes);
    }
}
