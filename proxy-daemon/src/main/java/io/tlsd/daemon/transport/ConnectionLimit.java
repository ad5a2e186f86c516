package io.tlsd.daemon.transport;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import io.tlsd.daemon.tls.ConnectionInfos;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * At most {@code max} connections at once from one listening socket. A connection accepted
 * beyond that is closed at once, before any TLS handshake or backend connect is spent on it, so
 * that a flood of clients (or of clients that connect and stay silent until their handshake
 * timeout) bounds the daemon's memory and file descriptors instead of exhausting them.
 *
 * <p>Optionally, at most {@code perClientMax} of those places go to one client address (its IP,
 * whatever its port), so that one host cannot take them all; a connection beyond that is closed
 * at once too. Behind a load balancer that sends a PROXY protocol header ({@link ProxyProtocolIn}),
 * the client is the one the header names, not the balancer: such a connection takes its overall
 * place when it is accepted and its client's share once the header is read, and is closed then if
 * that share is full.
 *
 * <p>A connection holds its place until it closes or {@link #release} gives the place back
 * earlier (a server listener's connection leaves it when an application takes it). Refusals are
 * counted and logged at warn level, at most once every 10 seconds per limit, so that an operator
 * sees a flood without the log being flooded too.
 *
 * <pre>{@code
 * ConnectionLimit limit = new ConnectionLimit(ch -> "listener default", "max_pending_connections", 1024);
 * // in the child ChannelInitializer:
 * if (!limit.admit(ch)) {
 *     return; // closed
 * }
 * }</pre>
 *
 * <p>Thread safety: any thread.
 */
public final class ConnectionLimit {
    private static final Logger log = LoggerFactory.getLogger(ConnectionLimit.class);

    /** A channel's place; a channel is admitted by one limit only, the listener that accepted it. */
    private static final AttributeKey<Place> PLACE = AttributeKey.valueOf(ConnectionLimit.class, "place");

    private final Function<Channel, String> owner;
    private final String setting;
    /** Changed by {@link #limits}. */
    private volatile int max;
    private final String perClientSetting;
    private volatile int perClientMax;
    private final AtomicInteger admitted = new AtomicInteger();
    /** Places held per client address; an address leaves when its last place is given back. */
    private final ConcurrentHashMap<InetAddress, Integer> perClient = new ConcurrentHashMap<>();
    private final LongAdder refused = new LongAdder();
    /** Warnings of each of the two limits. */
    private final WarningRate warnings = new WarningRate();
    private final WarningRate perClientWarnings = new WarningRate();

    /**
     * @param owner what the log names, given the refused channel (which knows the port it reached
     *     when the listener was bound to port 0), e.g. "listener default"
     * @param setting the configuration key that sets {@code max}, named in the warning
     * @param max the most connections at once; 0 for no limit (they are still counted)
     */
    public ConnectionLimit(Function<Channel, String> owner, String setting, int max) {
        this(owner, setting, max, null, 0);
    }

    /**
     * @param perClientSetting the configuration key that sets {@code perClientMax}, named in the warning
     * @param perClientMax the most places one client address holds at once; 0 for no such limit
     */
    public ConnectionLimit(Function<Channel, String> owner, String setting, int max, String perClientSetting,
                           int perClientMax) {
        this.owner = owner;
        this.setting = setting;
        this.perClientSetting = perClientSetting;
        limits(max, perClientMax);
    }

    /**
     * Takes a place for the newly accepted {@code ch}, given back when it closes; or, when every
     * place is taken, closes {@code ch} and returns false. Call it first thing in the child
     * channel's initializer.
     */
    public boolean admit(Channel ch) {
        return admit(ch, false);
    }

    /**
     * As {@link #admit(Channel)}; with {@code clientFromHeader} (the connection begins with a PROXY
     * header, {@link ProxyProtocolIn#install}), its client's share is taken when the header has been
     * read, for the client it names.
     */
    public boolean admit(Channel ch, boolean clientFromHeader) {
        // the client's share first: a client over it must not hold an overall place even briefly
        int max = this.max;
        int perClientMax = this.perClientMax;
        // counted per client without a limit too, so that one set by a reload counts what is open
        InetAddress client = clientFromHeader ? null : clientAddress(ch.remoteAddress());
        if (client != null && !takePerClient(client, perClientMax)) {
            refusePerClient(ch, perClientMax);
            return false;
        }
        int n;
        do {
            n = admitted.get();
            if (max != 0 && n >= max) {
                if (client != null) {
                    givePerClientBack(client);
                }
                refused.increment();
                warn(ch, max);
                ch.close();
                return false;
            }
        } while (!admitted.compareAndSet(n, n + 1));
        Place place = new Place(client);
        ch.attr(PLACE).set(place);
        ch.closeFuture().addListener(f -> place.giveBack());
        return true;
    }

    /**
     * Sets both limits for the connections admitted from now on (a reload); those that hold a place
     * keep it, even beyond a lower limit, and count against it (places are counted per client
     * address with no per-client limit too).
     *
     * @param max the most connections at once; 0 for no limit
     * @param perClientMax the most places one client address holds at once; 0 for no such limit
     */
    public void limits(int max, int perClientMax) {
        if (max < 0) {
            throw new IllegalArgumentException(setting + " < 0");
        }
        if (perClientMax < 0) {
            throw new IllegalArgumentException(perClientSetting + " < 0");
        }
        this.max = max;
        this.perClientMax = perClientMax;
    }

    /**
     * Counts the place {@code ch} holds against the share of its client as a PROXY header named it
     * ({@link ProxyProtocolIn#clientOf}); or, if that client holds its share already, closes
     * {@code ch} and returns false. {@link ProxyProtocolIn} calls it when it has read the header;
     * true if {@code ch} holds no place (admitted by no limit, or given back).
     */
    static boolean admitClient(Channel ch) {
        Place place = ch.attr(PLACE).get();
        return place == null || place.countClient(ch);
    }

    /** Gives {@code ch}'s place back before it closes, because it is no longer this listener's. Idempotent. */
    public void release(Channel ch) {
        Place place = ch.attr(PLACE).getAndSet(null);
        if (place != null) {
            place.giveBack();
        }
    }

    /** "4096", or "none" for 0: a limit in a start-up log line. */
    public static String describe(int max) {
        return max == 0 ? "none" : Integer.toString(max);
    }

    /** "4096", "4096, 16 per client" or "none, 16 per client": both limits in a start-up log line. */
    public static String describe(int max, int perClientMax) {
        return describe(max) + (perClientMax == 0 ? "" : ", " + perClientMax + " per client");
    }

    /** Connections holding a place now (counted with no limit too). */
    public int admitted() {
        return admitted.get();
    }

    /** Connections closed at once since the start because every place was taken, or their client's. */
    public long refused() {
        return refused.sum();
    }

    /** One more place for {@code client}, unless it holds {@code perClientMax} (0: no limit) already. */
    private boolean takePerClient(InetAddress client, int perClientMax) {
        boolean[] taken = {false};
        perClient.compute(client, (address, held) -> {
            int n = held == null ? 0 : held;
            if (perClientMax != 0 && n >= perClientMax) {
                return held;
            }
            taken[0] = true;
            return n + 1;
        });
        return taken[0];
    }

    private void givePerClientBack(InetAddress client) {
        perClient.compute(client, (address, held) -> held == null || held <= 1 ? null : held - 1);
    }

    private static InetAddress clientAddress(SocketAddress address) {
        return address instanceof InetSocketAddress inet ? inet.getAddress() : null;
    }

    /** Client addresses holding a place now. */
    public int clients() {
        return perClient.size();
    }

    /** Closes {@code ch}, whose client holds its share: counted, and warned of at most every 10 s. */
    private void refusePerClient(Channel ch, int perClientMax) {
        refused.increment();
        warnPerClient(ch, perClientMax);
        ch.close();
    }

    private void warnPerClient(Channel ch, int perClientMax) {
        if (perClientWarnings.due()) {
            SocketAddress client = ProxyProtocolIn.clientOf(ch);
            log.warn("{}: {} ({}) reached by {}{}; closing its new connections as they come"
                            + " ({} closed since start by either limit; logged at most every 10 s)",
                    owner.apply(ch), perClientSetting, perClientMax, ConnectionInfos.addressString(client),
                    client.equals(ch.remoteAddress()) ? "" : " (by its PROXY header, from "
                            + ConnectionInfos.addressString(ch.remoteAddress()) + ")",
                    refused.sum());
        }
    }

    private void warn(Channel ch, int max) {
        if (warnings.due()) {
            log.warn("{}: {} ({}) reached; closing new connections as they come, this time from {}"
                            + " ({} closed since start; logged at most every 10 s)",
                    owner.apply(ch), setting, max, ConnectionInfos.addressString(ch.remoteAddress()), refused.sum());
        }
    }

    private final class Place {
        /** The client address counted, or null when none is (yet: one a PROXY header names). */
        private InetAddress client;
        private boolean given;

        Place(InetAddress client) {
            this.client = client;
        }

        /** {@link #admitClient}: takes the share of the client a PROXY header named. */
        boolean countClient(Channel ch) {
            InetAddress named = clientAddress(ProxyProtocolIn.clientOf(ch));
            if (named == null) {
                return true;
            }
            int perClientMax = ConnectionLimit.this.perClientMax;
            if (!takePerClient(named, perClientMax)) {
                refusePerClient(ch, perClientMax); // its close gives the overall place back
                return false;
            }
            synchronized (this) {
                if (!given && client == null) {
                    client = named;
                    return true;
                }
            }
            givePerClientBack(named); // the place was given back meanwhile
            return true;
        }

        void giveBack() {
            InetAddress counted;
            synchronized (this) {
                if (given) {
                    return;
                }
                given = true;
                counted = client;
            }
            admitted.decrementAndGet();
            if (counted != null) {
                givePerClientBack(counted);
            }
        }
    }
}
