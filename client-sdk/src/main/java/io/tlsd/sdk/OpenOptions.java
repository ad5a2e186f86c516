package io.tlsd.sdk;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * What to connect to and how: the target, the TLS server name, the ALPN protocols to offer and a
 * deadline for the whole open (TCP connect and handshake). Immutable.
 *
 * <pre>{@code
 * OpenOptions options = OpenOptions.builder("10.0.0.7", 8443)
 *     .serverName("api.example.com")
 *     .alpn("h2", "http/1.1")
 *     .timeout(Duration.ofSeconds(3))
 *     .build();
 * TlsConnection conn = client.open(options).await();
 * }</pre>
 */
public final class OpenOptions {
  private final String host;
  private final int port;
  private final String serverName;
  private final List<String> alpn;
  private final Duration timeout;
  final int timeoutMillis;

  private OpenOptions(Builder builder) {
    this.host = builder.host;
    this.port = builder.port;
    this.serverName = builder.serverName;
    this.alpn = List.copyOf(builder.alpn);
    this.timeout = builder.timeout;
    this.timeoutMillis = RequestTimeout.toWireMillis(timeout, "timeout");
  }

  /** Starts options for a connection to {@code host:port}. */
  public static Builder builder(String host, int port) {
    return new Builder(host, port);
  }

  /** The host name or IP address to connect to. */
  public String host() {
    return host;
  }

  /** The TCP port to connect to, 1..65535. */
  public int port() {
    return port;
  }

  /**
   * The name sent as SNI and verified against the certificate, or null when it is the {@link
   * #host()}.
   */
  public String serverName() {
    return serverName;
  }

  /** The ALPN protocols offered, most preferred first; empty when none is offered. */
  public List<String> alpn() {
    return alpn;
  }

  /** The deadline of the open, enforced by the daemon; {@link Duration#ZERO} means none. */
  public Duration timeout() {
    return timeout;
  }

  @Override
  public String toString() {
    return "OpenOptions{"
        + host
        + ":"
        + port
        + (serverName != null ? ", serverName=" + serverName : "")
        + (alpn.isEmpty() ? "" : ", alpn=" + alpn)
        + (timeout.isZero() ? "" : ", timeout=" + timeout)
        + "}";
  }

  /** Builds {@link OpenOptions}; every setter checks its argument at once. */
  public static final class Builder {
    private final String host;
    private final int port;
    private String serverName;
    private final List<String> alpn = new ArrayList<>();
    private Duration timeout;

    private Builder(String host, int port) {
      Objects.requireNonNull(host, "host == null");
      if (host.isEmpty()) {
        throw new IllegalArgumentException("host is empty");
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("port must be in 1..65535 but was " + port);
      }
      this.host = host;
      this.port = port;
      this.serverName = null;
      this.timeout = Duration.ZERO;
    }

    /**
     * Sends {@code serverName} as SNI and verifies the certificate against it instead of the host.
     */
    public Builder serverName(String serverName) {
      Objects.requireNonNull(serverName, "serverName == null");
      if (serverName.isEmpty()) {
        throw new IllegalArgumentException("serverName is empty");
      }
      this.serverName = serverName;
      return this;
    }

    /** Offers these ALPN protocols, most preferred first, replacing any set before. */
    public Builder alpn(String... protocols) {
      Objects.requireNonNull(protocols, "protocols == null");
      return alpn(Arrays.asList(protocols));
    }

    /** Offers these ALPN protocols, most preferred first, replacing any set before. */
    public Builder alpn(List<String> protocols) {
      Objects.requireNonNull(protocols, "protocols == null");
      for (String protocol : protocols) {
        Objects.requireNonNull(protocol, "alpn protocol == null");
        int length = protocol.getBytes(StandardCharsets.UTF_8).length;
        // RFC 7301: a protocol name is 1..255 bytes.
        if (length < 1 || length > 255) {
          throw new IllegalArgumentException(
              "alpn protocol must be 1..255 bytes: \"" + protocol + "\"");
        }
      }
      alpn.clear();
      alpn.addAll(protocols);
      return this;
    }

    /**
     * Fails the open with {@link Status#TIMED_OUT} if the TCP connect and the handshake take longer
     * than {@code timeout}, counting any wait in the daemon for its turn to connect (the daemon
     * limits the attempts in flight per target: its {@code max_handshakes_in_flight});
     * {@link Duration#ZERO} (the default) means no deadline.
     */
    public Builder timeout(Duration timeout) {
      RequestTimeout.toWireMillis(timeout, "timeout");
      this.timeout = timeout;
      return this;
    }

    /** Returns the options; the builder can be reused afterwards. */
    public OpenOptions build() {
      return new OpenOptions(this);
    }
  }
}
