package io.tlsd.daemon.tls;

import java.io.ByteArrayOutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;
import org.bouncycastle.asn1.ASN1BMPString;
import org.bouncycastle.asn1.ASN1IA5String;
import org.bouncycastle.asn1.ASN1PrintableString;
import org.bouncycastle.asn1.ASN1String;
import org.bouncycastle.asn1.ASN1UTF8String;
import org.bouncycastle.asn1.x500.AttributeTypeAndValue;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.style.BCStyle;

/**
 * Which verified client certificates a listener or server tunnel lets in ({@code
 * allowed_clients}), as ghostunnel's {@code --allow-cn}, {@code --allow-dns} and {@code
 * --allow-uri}: a certificate is allowed when its subject's common name (exactly; a subject with
 * several CNs has none that counts), one of its DNS subject alternative names (case-insensitive,
 * a {@code *.} entry only matches the same wildcard name) or one of its URI subject alternative
 * names (exactly, e.g. a SPIFFE ID) is listed. Checked after the chain verified, in the handshake: a client that is not
 * allowed gets a TLS alert, as one whose chain does not verify.
 *
 * @param commonNames subject CNs
 * @param dnsNames DNS subject alternative names
 * @param uris URI subject alternative names
 */
public record AllowedClients(List<String> commonNames, List<String> dnsNames, List<String> uris) {
    private static final int SAN_DNS = 2;
    private static final int SAN_URI = 6;

    public AllowedClients {
        commonNames = List.copyOf(commonNames);
        dnsNames = List.copyOf(dnsNames);
        uris = List.copyOf(uris);
        if (commonNames.isEmpty() && dnsNames.isEmpty() && uris.isEmpty()) {
            throw new IllegalArgumentException("allowed_clients lists no common_names, dns_names or uris: it would let"
                    + " no one in");
        }
    }

    /**
     * Whether {@code leaf}, a client certificate that verified, is one of the allowed. Its common
     * name counts only when its subject has exactly one, a string (decoded from the certificate's
     * DER, as the CA signed it).
     */
    public boolean allows(X509Certificate leaf) {
        String cn = commonNameOf(leaf);
        if (cn != null && commonNames.contains(cn)) {
            return true;
        }
        Collection<List<?>> sans;
        try {
            sans = leaf.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            return false;
        }
        if (sans == null) {
            return false;
        }
        for (List<?> san : sans) {
            Object type = san.get(0);
            Object value = san.get(1);
            if (!(value instanceof String name)) {
                continue;
            }
            if (Integer.valueOf(SAN_DNS).equals(type)
                    && dnsNames.stream().anyMatch(d -> d.toLowerCase(Locale.ROOT).equals(name.toLowerCase(Locale.ROOT)))) {
                return true;
            }
            if (Integer.valueOf(SAN_URI).equals(type) && uris.contains(name)) {
                return true;
            }
        }
        return false;
    }

    /** For logs, e.g. "common_names [billing] dns_names [] uris []". */
    public String describe() {
        return "common_names " + commonNames + " dns_names " + dnsNames + " uris " + uris;
    }

    /** Every entry, length-prefixed, list by list: two different lists never encode alike. */
    byte[] encoded() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (List<String> list : List.of(commonNames, dnsNames, uris)) {
            writeInt(out, list.size());
            for (String entry : list) {
                byte[] bytes = entry.getBytes(StandardCharsets.UTF_8);
                writeInt(out, bytes.length);
                out.writeBytes(bytes);
            }
        }
        return out.toByteArray();
    }

    private static void writeInt(ByteArrayOutputStream out, int n) {
        out.writeBytes(new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n});
    }

    /**
     * The subject's one common name, decoded from the DER by its string type; null when it has
     * none, more than one (anywhere, multi-valued RDNs included), or one that is not a UTF8,
     * printable, IA5 or BMP string.
     */
    static String commonNameOf(X509Certificate leaf) {
        String found = null;
        for (RDN rdn : X500Name.getInstance(leaf.getSubjectX500Principal().getEncoded()).getRDNs()) {
            for (AttributeTypeAndValue ava : rdn.getTypesAndValues()) {
                if (!ava.getType().equals(BCStyle.CN)) {
                    continue;
                }
                Object value = ava.getValue();
                boolean directoryString = value instanceof ASN1UTF8String || value instanceof ASN1PrintableString
                        || value instanceof ASN1IA5String || value instanceof ASN1BMPString;
                if (found != null || !directoryString) {
                    return null;
                }
                found = ((ASN1String) value).getString();
            }
        }
        return found;
    }

    /**
     * The subject as the CA signed it (BouncyCastle decodes every string type), most specific
     * first as the JDK prints it, e.g. "CN=billing,O=example", for log lines.
     */
    static String subjectOf(X509Certificate leaf) {
        RDN[] rdns = X500Name.getInstance(leaf.getSubjectX500Principal().getEncoded()).getRDNs();
        RDN[] reversed = new RDN[rdns.length];
        for (int i = 0; i < rdns.length; i++) {
            reversed[i] = rdns[rdns.length - 1 - i];
        }
        return new X500Name(BCStyle.INSTANCE, reversed).toString();
    }

    /**
     * {@code verified}, which checks client chains, followed by this list: a chain that verifies
     * but whose leaf is not allowed is refused, naming its subject.
     */
    public X509ExtendedTrustManager after(X509ExtendedTrustManager verified) {
        return new Filter(verified, this);
    }

    private static final class Filter extends X509ExtendedTrustManager {
        private final X509ExtendedTrustManager delegate;
        private final AllowedClients allowed;

        Filter(X509ExtendedTrustManager delegate, AllowedClients allowed) {
            this.delegate = delegate;
            this.allowed = allowed;
        }

        private void check(X509Certificate[] chain) throws CertificateException {
            if (!allowed.allows(chain[0])) {
                throw new CertificateException("client certificate " + subjectOf(chain[0])
                        + " is not among allowed_clients");
            }
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            delegate.checkClientTrusted(chain, authType, engine);
            check(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            delegate.checkClientTrusted(chain, authType, socket);
            check(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate.checkClientTrusted(chain, authType);
            check(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            delegate.checkServerTrusted(chain, authType, engine);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            delegate.checkServerTrusted(chain, authType, socket);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate.checkServerTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return delegate.getAcceptedIssuers();
        }
    }
}
