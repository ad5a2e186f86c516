package io.tlsd.sdk;

import com.google.protobuf.ByteString;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

/**
 * What the daemon reported about an established TLS connection: the negotiated parameters, both
 * addresses and the peer's certificate chain. Immutable.
 *
 * <pre>{@code
 * ConnectionInfo info = conn.info();
 * if (!"h2".equals(info.alpn())) {
 *   useHttp1(conn);
 * }
 * log.info("connected: {}", info);  // TLSv1.3 TLS_AES_128_GCM_SHA256 alpn=h2 peer=...
 * }</pre>
 */
public final class ConnectionInfo {
  private final long connectionId;
  private final String protocol;
  private final String cipherSuite;
  private final String alpn;
  private final boolean resumed;
  private final String peerAddress;
  private final String localAddress;
  private final String peerSubject;
  private final List<X509Certificate> peerCertificates;
  private final String serverName;
  private final String listener;
  private final String keyExchangeGroup;

  /**
   * Parses the certificates at once so that a malformed chain fails the open, where the caller
   * expects failures, rather than a later getter.
   */
  ConnectionInfo(io.tlsd.proto.v1.ConnectionInfo info) throws CertificateException {
    this.connectionId = info.getConnId();
    this.protocol = info.getProtocol();
    this.cipherSuite = info.getCipherSuite();
    this.alpn = info.getAlpn();
    this.resumed = info.getResumed();
    this.peerAddress = info.getPeerAddress();
    this.localAddress = info.getLocalAddress();
    this.peerSubject = info.getPeerSubject();
    this.serverName = info.getServerName();
    this.listener = info.getListener();
    this.keyExchangeGroup = info.getKeyExchangeGroup();
    List<X509Certificate> certificates = new ArrayList<>(info.getPeerCertificatesCount());
    if (info.getPeerCertificatesCount() > 0) {
      CertificateFactory factory = CertificateFactory.getInstance("X.509");
      for (ByteString der : info.getPeerCertificatesList()) {
        certificates.add((X509Certificate) factory.generateCertificate(der.newInput()));
      }
    }
    this.peerCertificates = List.copyOf(certificates);
  }

  /** The TLS version, e.g. {@code "TLSv1.3"}. */
  public String protocol() {
    return protocol;
  }

  /** The negotiated cipher suite, e.g. {@code "TLS_AES_128_GCM_SHA256"}. */
  public String cipherSuite() {
    return cipherSuite;
  }

  /** The ALPN protocol agreed on, or an empty string when none was. */
  public String alpn() {
    return alpn;
  }

  /** True when the TLS session was resumed from an earlier one. */
  public boolean resumed() {
    return resumed;
  }

  /** The peer's address, {@code "ip:port"}. */
  public String peerAddress() {
    return peerAddress;
  }

  /** The daemon's local address of the connection, {@code "ip:port"}. */
  public String localAddress() {
    return localAddress;
  }

  /** The subject of the peer's certificate (RFC 2253), or an empty string when it sent none. */
  public String peerSubject() {
    return peerSubject;
  }

  /** The peer's certificate chain, leaf first; empty when it sent none. */
  public List<X509Certificate> peerCertificates() {
    return peerCertificates;
  }

  /**
   * The SNI name: on a connection this client opened, the name sent (and verified); on an accepted
   * one, the name the client asked for (empty when it sent none).
   */
  public String serverName() {
    return serverName;
  }

  /** The key-exchange group agreed on, e.g. {@code "X25519"}; empty when the daemon cannot tell. */
  public String keyExchangeGroup() {
    return keyExchangeGroup;
  }

  /** The listener that accepted the connection; empty on a connection this client opened. */
  public String listener() {
    return listener;
  }

  @Override
  public String toString() {
    StringBuilder result =
        new StringBuilder()
            .append("conn=")
            .append(connectionId)
            .append(' ')
            .append(protocol)
            .append(' ')
            .append(cipherSuite);
    if (!keyExchangeGroup.isEmpty()) {
      result.append(' ').append(keyExchangeGroup);
    }
    if (!alpn.isEmpty()) {
      result.append(" alpn=").append(alpn);
    }
    if (resumed) {
      result.append(" resumed");
    }
    result
        .append(" sni=")
        .append(serverName)
        .append(" peer=")
        .append(peerAddress)
        .append(" local=")
        .append(localAddress);
    if (!peerSubject.isEmpty()) {
      result.append(" subject=\"").append(peerSubject).append('"');
    }
    if (!listener.isEmpty()) {
      result.append(" listener=").append(listener);
    }
    return result.toString();
  }
}
