package io.tlsd.daemon;

import io.tlsd.daemon.engine.AllowedTargets;
import io.tlsd.daemon.engine.SessionLimits;
import io.tlsd.daemon.ipc.AllowedPeers;
import io.tlsd.daemon.ipc.IpcServer;
import io.tlsd.daemon.logging.DaemonLog;
import io.tlsd.daemon.server.ListenerConfig;
import io.tlsd.daemon.tls.TlsConnector;
import io.tlsd.daemon.tls.TlsParameters;
import io.tlsd.daemon.tls.signing.SigningPolicy;
import io.tlsd.daemon.transport.TcpKeepalive;
import io.tlsd.daemon.tunnel.TunnelConfig;
import io.tlsd.sdk.SocketPaths;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Everything a daemon is started with. Immutable; {@link #builder()} holds the defaults and
 * {@link #toBuilder()} derives a changed copy.
 *
 * <pre>{@code
 * DaemonConfig config = DaemonConfig.builder()
 *         .socket(Path.of("/run/tlsd/client.sock"))
 *         .caFile(Path.of("/etc/tlsd/ca.pem"))
 *         .build();
 * }</pre>
 */
public final class DaemonConfig {
    /** Off: see {@link #workerBusyPoll()}; its gains and costs are in docs/benchmarks.md. */
    public static final Duration DEFAULT_WORKER_BUSY_POLL = Duration.ZERO;
    /** {@link #maxHandshakesInFlight()}: a limit per target, learned (the default). */
    public static final int ADAPTIVE_HANDSHAKES = TlsConnector.ADAPTIVE;
    /**
     * {@link #drainTimeout()} by default: with the few seconds closing what is left takes, within
     * the 30 s a Kubernetes pod gets between SIGTERM and SIGKILL (systemd waits 90 s), so that the
     * daemon closes its connections itself (close_notify) rather than being killed.
     */
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(15);


    /** Which half of tlsd a daemon is. */
    public enum Role {
        /** Outbound TLS: applications OPEN connections. */
        CLIENT,
        /** TLS termination: applications ACCEPT connections from listeners. */
        SERVER;

        public String wireName() {
            return name().toLowerCase();
        }
    }

    private final Role role;
    private final Path socket;
    private final List<ListenerConfig> listeners;
    private final List<TunnelConfig> tunnels;
    private final boolean ipcEnabled;
    private final Duration ticketKeyRotation;
    private final Path caFile;
    private final Path crlFile;
    private final ListenerConfig.CertificateSpec clientCertificate;
    private final TlsParameters tls;
    private final String transport;
    private final int workerThreads;
    private final int handshakeThreads;
    private final int maxHandshakesInFlight;
    private final Duration workerBusyPoll;
    private final SessionLimits limits;
    private final Duration connectTimeout;
    private final Duration handshakeTimeout;
    private final Duration helloTimeout;
    private final Duration drainTimeout;
    private final Path debugSocket;
    private final InetSocketAddress metrics;
    private final Path sharedMemoryDir;
    private final int writeRingBytes;
    private final int sendBufferBytes;
    private final TcpKeepalive tcpKeepalive;
    private final int maxSessions;
    private final int maxSessionsPerUid;
    private final AllowedTargets allowedTargets;
    private final String logLevel;
    private final AllowedPeers allowedPeers;
    private final DaemonLog.Format logFormat;
    private final SigningPolicy signing;

    private DaemonConfig(Builder b) {
        this.role = b.role;
        this.socket = b.socket; // null: the role's default, resolved in socket()
        this.listeners = List.copyOf(b.listeners);
        this.tunnels = List.copyOf(b.tunnels);
        Set<String> tunnelNames = new HashSet<>();
        for (TunnelConfig t : tunnels) {
            if (!tunnelNames.add(t.name())) {
                // logs and metrics name tunnels: two of a name could not be told apart
                throw new IllegalArgumentException("two tunnels are named '" + t.name() + "'");
            }
        }
        this.ipcEnabled = b.ipcEnabled;
        this.ticketKeyRotation = b.ticketKeyRotation;
        this.caFile = b.caFile;
        this.crlFile = b.crlFile;
        this.clientCertificate = b.clientCertificate;
        this.tls = new TlsParameters(b.tlsProvider, b.tlsProtocols, b.tlsGroups);
        this.transport = b.transport;
        this.workerThreads = b.workerThreads;
        this.handshakeThreads = b.handshakeThreads;
        this.maxHandshakesInFlight = b.maxHandshakesInFlight;
        this.workerBusyPoll = b.workerBusyPoll;
        this.limits = b.limits;
        this.connectTimeout = b.connectTimeout;
        this.handshakeTimeout = b.handshakeTimeout;
        this.helloTimeout = b.helloTimeout;
        this.drainTimeout = b.drainTimeout;
        this.debugSocket = b.debugSocket;
        this.metrics = b.metrics;
        this.sharedMemoryDir = b.sharedMemoryDir;
        this.writeRingBytes = b.writeRingBytes;
        this.sendBufferBytes = b.sendBufferBytes;
        this.tcpKeepalive = b.tcpKeepalive;
        this.maxSessions = b.maxSessions;
        this.maxSessionsPerUid = b.maxSessionsPerUid;
        this.allowedTargets = b.allowedTargets;
        this.logLevel = b.logLevel;
        this.allowedPeers = b.allowedPeers;
        this.logFormat = b.logFormat;
        this.signing = b.signing;
    }

    public static Builder builder() {
        return new Builder();
    }

    public Role role() {
        return role;
    }

    /** Server role: the listeners applications accept from. */
    public List<ListenerConfig> listeners() {
        return listeners;
    }

    /** Plain↔TLS tunnels run by this daemon (client role: plain in, TLS out; server role: the reverse). */
    public List<TunnelConfig> tunnels() {
        return tunnels;
    }

    /** Whether applications get an IPC socket; false for a tunnel-only daemon. */
    public boolean ipcEnabled() {
        return ipcEnabled;
    }

    /** Server role: how often session-ticket keys are replaced (the previous two still resume). */
    public Duration ticketKeyRotation() {
        return ticketKeyRotation;
    }

    public Builder toBuilder() {
        return new Builder(this);
    }

    /** The IPC socket's path. */
    public Path socket() {
        if (socket != null) {
            return socket;
        }
        return role == Role.SERVER ? SocketPaths.server() : SocketPaths.client();
    }

    /** Client role: PEM trust anchors for verifying servers; null means the JDK's trust store. */
    public Path caFile() {
        return caFile;
    }

    /**
     * Client role: revocation lists that servers' certificates are checked against (strictly, see
     * {@link io.tlsd.daemon.tls.RevocationLists}); null for no revocation check.
     */
    public Path crlFile() {
        return crlFile;
    }

    /** Client role: the certificate presented to servers that ask for one (mTLS), or null. */
    public ListenerConfig.CertificateSpec clientCertificate() {
        return clientCertificate;
    }

    /** TLS protocol versions enabled, e.g. {@code [TLSv1.3]}. */
    public List<String> tlsProtocols() {
        return tls.protocols();
    }

    /** "boringssl" (netty-tcnative) or "jdk". */
    public String tlsProvider() {
        return tls.provider();
    }

    /** Key-exchange groups in order of preference; empty for the TLS library's defaults. */
    public List<String> tlsGroups() {
        return tls.groups();
    }

    /** Provider, protocol versions and groups together, as the TLS contexts take them. */
    public TlsParameters tlsParameters() {
        return tls;
    }

    /** "auto", "epoll" or "nio". */
    public String transport() {
        return transport;
    }

    /** Worker event loops; each session and its connections live on one. */
    public int workerThreads() {
        return workerThreads;
    }

    /**
     * Event loops that connect (client role), accept (server role listeners) and handshake before
     * a connection moves to its session's worker loop; 0 for handshakes on the worker loops.
     */
    public int handshakeThreads() {
        return handshakeThreads;
    }

    /**
     * Client role: the most outbound connection attempts (TCP connect and TLS handshake) under way
     * at once, the others waiting their turn. {@link #ADAPTIVE_HANDSHAKES} (the default): a limit
     * per target (address and port), learned from how long its attempts take, so that a storm of
     * new connections to a target nearby, where an attempt's time is mostly CPU, runs a few at once
     * and leaves established connections' latency low, while a target far away, where it is mostly
     * round trips, gets as many at once as its rate needs (in flight = rate × attempt time). A
     * positive number: that many at once, over all targets. 0: no limit.
     */
    public int maxHandshakesInFlight() {
        return maxHandshakesInFlight;
    }

    /**
     * The longest a worker loop polls for more I/O before it blocks (adaptive: it polls only
     * while that catches work); zero: it always blocks.
     */
    public Duration workerBusyPoll() {
        return workerBusyPoll;
    }

    public SessionLimits limits() {
        return limits;
    }

    public Duration connectTimeout() {
        return connectTimeout;
    }

    public Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    public Duration helloTimeout() {
        return helloTimeout;
    }

    /**
     * How long a graceful stop (SIGTERM) waits for the connections under way to end before it
     * closes them; zero stops at once.
     */
    public Duration drainTimeout() {
        return drainTimeout;
    }

    /** Where the line-based debug socket listens (mode 0600), or null: off, the default. */
    public Path debugSocket() {
        return debugSocket;
    }

    /** Where Prometheus metrics are served ({@code GET /metrics}), or null for nowhere. */
    public InetSocketAddress metrics() {
        return metrics;
    }

    /** Where the daemon makes its directory of write rings (default /dev/shm). */
    public Path sharedMemoryDir() {
        return sharedMemoryDir;
    }

    /** The largest shared-memory write ring a session may ask for; 0: none (writes travel in frames). */
    public int writeRingBytes() {
        return writeRingBytes;
    }

    /** Client role: SO_SNDBUF of the TLS connections OPENs make; 0 for the kernel's autotuning. */
    public int sendBufferBytes() {
        return sendBufferBytes;
    }

    /** TCP keepalive on the TLS connections of OPENs and listeners; by default after 1 min idle. */
    public TcpKeepalive tcpKeepalive() {
        return tcpKeepalive;
    }

    /** How many IPC sessions may be open at once; one more is refused at its Hello. */
    public int maxSessions() {
        return maxSessions;
    }

    /** Client role: which hosts and ports OPENs may name ({@link AllowedTargets#ANY}: any). */
    public AllowedTargets allowedTargets() {
        return allowedTargets;
    }

    /** How many IPC sessions the processes of one user may hold at once; 0: no such limit. */
    public int maxSessionsPerUid() {
        return maxSessionsPerUid;
    }

    /** Server role: whether private-key operations run on the event loops or on signer threads. */
    public SigningPolicy signing() {
        return signing;
    }

    /** "error", "warn", "info" (the default) or "debug". */
    public String logLevel() {
        return logLevel;
    }

    /** Who may open an IPC session, beyond the socket file's mode; by default anyone who can open it. */
    public AllowedPeers allowedPeers() {
        return allowedPeers;
    }

    /** How log lines look: text (the default) or JSON. */
    public DaemonLog.Format logFormat() {
        return logFormat;
    }

    public static final class Builder {
        private Role role = Role.CLIENT;
        private Path socket;
        private List<ListenerConfig> listeners = List.of();
        private List<TunnelConfig> tunnels = List.of();
        private boolean ipcEnabled = true;
        private Duration ticketKeyRotation = Duration.ofHours(1);
        private Path caFile;
        private Path crlFile;
        private ListenerConfig.CertificateSpec clientCertificate;
        private List<String> tlsProtocols = List.of("TLSv1.3");
        private String tlsProvider = "boringssl";
        private List<String> tlsGroups = List.of();
        private String transport = "auto";
        private int workerThreads = Runtime.getRuntime().availableProcessors();
        private int handshakeThreads = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
        private int maxHandshakesInFlight = ADAPTIVE_HANDSHAKES;
        private Duration workerBusyPoll = DEFAULT_WORKER_BUSY_POLL;
        private SessionLimits limits = SessionLimits.DEFAULTS;
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration handshakeTimeout = Duration.ofSeconds(10);
        private Duration helloTimeout = Duration.ofSeconds(10);
        private Duration drainTimeout = DEFAULT_DRAIN_TIMEOUT;
        private Path debugSocket;
        private InetSocketAddress metrics;
        private Path sharedMemoryDir = Path.of("/dev/shm");
        private int writeRingBytes = 4 << 20;
        private int sendBufferBytes;
        private TcpKeepalive tcpKeepalive = new TcpKeepalive(TcpKeepalive.DEFAULT_IDLE);
        private int maxSessions = IpcServer.Settings.DEFAULT_MAX_SESSIONS;
        private int maxSessionsPerUid;
        private AllowedTargets allowedTargets = AllowedTargets.ANY;
        private String logLevel = "info";
        private AllowedPeers allowedPeers = AllowedPeers.ANYONE;
        private DaemonLog.Format logFormat = DaemonLog.Format.TEXT;
        private SigningPolicy signing = SigningPolicy.auto();

        private Builder() {
        }

        private Builder(DaemonConfig c) {
            role = c.role;
            socket = c.socket;
            listeners = c.listeners;
            tunnels = c.tunnels;
            ipcEnabled = c.ipcEnabled;
            ticketKeyRotation = c.ticketKeyRotation;
            caFile = c.caFile;
            crlFile = c.crlFile;
            clientCertificate = c.clientCertificate;
            tlsProtocols = c.tls.protocols();
            tlsProvider = c.tls.provider();
            tlsGroups = c.tls.groups();
            transport = c.transport;
            workerThreads = c.workerThreads;
            handshakeThreads = c.handshakeThreads;
            maxHandshakesInFlight = c.maxHandshakesInFlight;
            workerBusyPoll = c.workerBusyPoll;
            limits = c.limits;
            connectTimeout = c.connectTimeout;
            handshakeTimeout = c.handshakeTimeout;
            helloTimeout = c.helloTimeout;
            drainTimeout = c.drainTimeout;
            debugSocket = c.debugSocket;
            metrics = c.metrics;
            sharedMemoryDir = c.sharedMemoryDir;
            writeRingBytes = c.writeRingBytes;
            sendBufferBytes = c.sendBufferBytes;
            tcpKeepalive = c.tcpKeepalive;
            maxSessions = c.maxSessions;
            maxSessionsPerUid = c.maxSessionsPerUid;
            allowedTargets = c.allowedTargets;
            logLevel = c.logLevel;
            allowedPeers = c.allowedPeers;
            logFormat = c.logFormat;
            signing = c.signing;
        }

        public Builder role(Role role) {
            this.role = Objects.requireNonNull(role, "role == null");
            return this;
        }

        /** The listeners set so far (from a configuration file, say). */
        public List<ListenerConfig> listeners() {
            return listeners;
        }

        public Builder listeners(List<ListenerConfig> listeners) {
            this.listeners = List.copyOf(listeners);
            return this;
        }

        public List<TunnelConfig> tunnels() {
            return tunnels;
        }

        public Builder tunnels(List<TunnelConfig> tunnels) {
            this.tunnels = List.copyOf(tunnels);
            return this;
        }

        /** Whether the IPC socket is served, as set so far. */
        public boolean ipcEnabled() {
            return ipcEnabled;
        }

        /** Whether to serve the IPC socket; a tunnel-only daemon needs none. */
        public Builder ipcEnabled(boolean enabled) {
            this.ipcEnabled = enabled;
            return this;
        }

        public Builder ticketKeyRotation(Duration rotation) {
            this.ticketKeyRotation = positive(rotation, "ticketKeyRotation");
            return this;
        }

        public Builder socket(Path socket) {
            this.socket = Objects.requireNonNull(socket, "socket == null");
            return this;
        }

        public Builder caFile(Path caFile) {
            this.caFile = caFile;
            return this;
        }

        /** Client role: check servers' certificates against the revocation lists in this file; null for none. */
        public Builder crlFile(Path crlFile) {
            this.crlFile = crlFile;
            return this;
        }

        /** Client role: present this certificate to servers that ask (mTLS); null for none. */
        public Builder clientCertificate(ListenerConfig.CertificateSpec certificate) {
            this.clientCertificate = certificate;
            return this;
        }

        public Builder tlsProtocols(List<String> protocols) {
            if (protocols.isEmpty()) {
                throw new IllegalArgumentException("tlsProtocols is empty");
            }
            for (String p : protocols) {
                if (!p.equals("TLSv1.3") && !p.equals("TLSv1.2")) {
                    throw new IllegalArgumentException("unsupported TLS protocol '" + p + "' (TLSv1.3, TLSv1.2)");
                }
            }
            this.tlsProtocols = List.copyOf(protocols);
            return this;
        }

        /**
         * Key-exchange groups offered (client) or accepted (server), in order of preference, by
         * BoringSSL's names: X25519MLKEM768, X25519, P-256, P-384, P-521. Empty (the default)
         * keeps the library's list. Needs the boringssl provider.
         */
        public Builder tlsGroups(List<String> groups) {
            for (String g : groups) {
                if (g.isBlank() || g.contains(":")) {
                    throw new IllegalArgumentException("invalid key-exchange group name '" + g + "'");
                }
            }
            this.tlsGroups = List.copyOf(groups);
            return this;
        }

        public Builder tlsProvider(String provider) {
            if (!provider.equals("boringssl") && !provider.equals("jdk")) {
                throw new IllegalArgumentException("unknown TLS provider '" + provider + "' (boringssl, jdk)");
            }
            this.tlsProvider = provider;
            return this;
        }

        public Builder transport(String transport) {
            if (!List.of("auto", "epoll", "nio").contains(transport)) {
                throw new IllegalArgumentException("unknown transport '" + transport + "' (auto, epoll, nio)");
            }
            this.transport = transport;
            return this;
        }

        /**
         * Handshake event loops (default: half the cores, at least one, so that a burst of new
         * connections cannot take every core from established ones); 0 handshakes on the worker
         * loops.
         */
        public Builder handshakeThreads(int threads) {
            if (threads < 0) {
                throw new IllegalArgumentException("handshakeThreads < 0");
            }
            this.handshakeThreads = threads;
            return this;
        }

        /**
         * Client role: outbound connection attempts under way at once (see
         * {@link DaemonConfig#maxHandshakesInFlight()}); {@link #ADAPTIVE_HANDSHAKES}: learned per
         * target; 0: no limit.
         */
        public Builder maxHandshakesInFlight(int max) {
            if (max < ADAPTIVE_HANDSHAKES) {
                throw new IllegalArgumentException("max_handshakes_in_flight " + max
                        + ": expected ADAPTIVE_HANDSHAKES, 0 (no limit) or a positive number");
            }
            this.maxHandshakesInFlight = max;
            return this;
        }

        /**
         * How long a worker loop may poll for I/O before it blocks, 0 to 1 ms (default 0: off,
         * it always blocks); e.g. 50 µs. The window adapts: see {@link #workerBusyPoll()}.
         */
        public Builder workerBusyPoll(Duration window) {
            if (window.isNegative() || window.compareTo(Duration.ofMillis(1)) > 0) {
                throw new IllegalArgumentException("worker busy poll " + window.toNanos() / 1000
                        + "us is not in 0..1ms");
            }
            if (!window.isZero() && window.toNanos() < 2_000) {
                throw new IllegalArgumentException("worker busy poll " + window.toNanos() + "ns is below 2us"
                        + " (0 turns it off)");
            }
            this.workerBusyPoll = window;
            return this;
        }

        public Builder workerThreads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("workerThreads < 1");
            }
            this.workerThreads = threads;
            return this;
        }

        public Builder limits(SessionLimits limits) {
            this.limits = Objects.requireNonNull(limits, "limits == null");
            return this;
        }

        /** Up to 1 day (the socket option takes milliseconds as an int). */
        public Builder connectTimeout(Duration timeout) {
            positive(timeout, "connectTimeout");
            if (timeout.compareTo(Duration.ofDays(1)) > 0) {
                throw new IllegalArgumentException("timeouts.connect " + timeout.toSeconds() + "s is more than 1d");
            }
            this.connectTimeout = timeout;
            return this;
        }

        public Builder handshakeTimeout(Duration timeout) {
            this.handshakeTimeout = positive(timeout, "handshakeTimeout");
            return this;
        }

        /** Server role: where private-key operations run (auto, on-loop, off-loop). */
        public Builder signing(SigningPolicy signing) {
            this.signing = Objects.requireNonNull(signing, "signing == null");
            return this;
        }

        /** Only these users or primary groups may open an IPC session (needs the epoll transport). */
        public Builder allowedPeers(AllowedPeers peers) {
            this.allowedPeers = Objects.requireNonNull(peers, "peers == null");
            return this;
        }

        public Builder logLevel(String level) {
            DaemonLog.parseLevel(level); // throws for an unknown one
            this.logLevel = level;
            return this;
        }

        /** Log lines as text (the default) or as one JSON object each. */
        public Builder logFormat(DaemonLog.Format format) {
            this.logFormat = Objects.requireNonNull(format, "format == null");
            return this;
        }

        /** Also serves Prometheus metrics on {@code address} (port 0 picks one); null turns them off again. */
        public Builder metrics(InetSocketAddress address) {
            this.metrics = address;
            return this;
        }

        /** Also serves the debug socket at {@code path}; null turns it off again. */
        public Builder debugSocket(Path path) {
            this.debugSocket = path;
            return this;
        }

        /** Where the ring directory is made; it must be a tmpfs (a disk would write the rings back). */
        public Builder sharedMemoryDir(Path dir) {
            this.sharedMemoryDir = Objects.requireNonNull(dir, "sharedMemoryDir == null");
            return this;
        }

        /**
         * Client role: SO_SNDBUF of the TLS connections OPENs make, e.g. 1 MiB for bulk senders on
         * fast links (Linux doubles it and caps it at twice {@code net.core.wmem_max}); 0 (the
         * default) leaves the kernel's autotuning.
         */
        public Builder sendBufferBytes(long bytes) {
            if (bytes < 0 || bytes > 1 << 30) {
                throw new IllegalArgumentException("send buffer " + bytes + " is not in 0..1GiB");
            }
            this.sendBufferBytes = (int) bytes;
            return this;
        }

        /**
         * The quiet time after which the kernel probes the TLS connections of OPENs and listeners
         * (see {@link TcpKeepalive}); {@link Duration#ZERO} turns keepalive off.
         */
        public Builder tcpKeepalive(Duration idle) {
            this.tcpKeepalive = new TcpKeepalive(Objects.requireNonNull(idle, "idle == null"));
            return this;
        }

        /**
         * How many IPC sessions (application processes, or clients of theirs) may be open at once,
         * 1 to 65536; each may hold a write ring of shared memory and its own limits.
         */
        public Builder maxSessions(int max) {
            if (max < 1 || max > 65536) {
                throw new IllegalArgumentException("max_sessions " + max + " is not in 1..65536");
            }
            this.maxSessions = max;
            return this;
        }

        /** Client role: which hosts and ports OPENs may name; {@link AllowedTargets#ANY} for any. */
        public Builder allowedTargets(AllowedTargets allowed) {
            this.allowedTargets = Objects.requireNonNull(allowed, "allowed");
            return this;
        }

        /**
         * How many IPC sessions the processes of one user (uid) may hold at once, 0 to 65536; 0
         * for no limit per user. Needs the epoll transport, which tells a peer's uid.
         */
        public Builder maxSessionsPerUid(int max) {
            if (max < 0 || max > 65536) {
                throw new IllegalArgumentException("max_sessions_per_uid " + max + " is not in 0..65536");
            }
            this.maxSessionsPerUid = max;
            return this;
        }

        /** The largest write ring per session, 0 to 1 GiB; 0 turns write rings off. */
        public Builder writeRingBytes(long bytes) {
            if (bytes < 0 || bytes > (1 << 30)) {
                throw new IllegalArgumentException("writeRingBytes " + bytes + " is not in 0..1GiB");
            }
            this.writeRingBytes = (int) bytes;
            return this;
        }

        public Builder helloTimeout(Duration timeout) {
            this.helloTimeout = positive(timeout, "helloTimeout");
            return this;
        }

        /** @param timeout zero: a SIGTERM stops the daemon at once */
        public Builder drainTimeout(Duration timeout) {
            if (timeout.isNegative() || timeout.compareTo(Duration.ofDays(1)) > 0) {
                throw new IllegalArgumentException("drainTimeout " + timeout + " is not in 0..1d");
            }
            this.drainTimeout = timeout;
            return this;
        }

        /** Listeners and tunnels are told apart by name: in ACCEPT, metrics, logs and reloads. */
        private static void requireUniqueNames(String what, String hint, List<String> names) {
            Set<String> seen = new HashSet<>();
            for (String name : names) {
                if (!seen.add(name)) {
                    throw new IllegalArgumentException("two " + what + " are named '" + name + "'" + hint);
                }
            }
        }

        private static Duration positive(Duration d, String name) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + " <= 0");
            }
            return d;
        }

        public DaemonConfig build() {
            requireUniqueNames("listeners", " (a listener without a name is named 'default')",
                    listeners.stream().map(ListenerConfig::name).toList());
            requireUniqueNames("tunnels", " (a tunnel without a name is named tunnel-N, N its place in the list)",
                    tunnels.stream().map(TunnelConfig::name).toList());
            if (role == Role.SERVER && ipcEnabled && listeners.isEmpty()) {
                throw new IllegalArgumentException("the server role needs at least one listener");
            }
            for (TunnelConfig t : tunnels) {
                if (role == Role.SERVER && t.servedCertificates().isEmpty()) {
                    throw new IllegalArgumentException("tunnel " + t.name()
                            + ": a server-role tunnel needs cert and key (or pkcs12), or certificates");
                }
            }
            if (role == Role.SERVER && crlFile != null) {
                throw new IllegalArgumentException("tls.crl_file applies to the client role; client certificates are"
                        + " checked against the client_crl_file of a listener or tunnel");
            }
            if (!ipcEnabled && tunnels.isEmpty()) {
                throw new IllegalArgumentException("without the IPC socket a daemon needs at least one tunnel");
            }
            return new DaemonConfig(this);
        }
    }
}
