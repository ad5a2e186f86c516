package io.tlsd.daemon.tls;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
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
 * Which verified peer certificates get through: the clients a listener or server tunnel lets in
 * ({@code allowed_clients}, as ghostunnel's {@code --allow-cn}, {@code --allow-dns} and {@code
 * --allow-uri}), or the targets a client tunnel accepts ({@code allowed_servers}, as ghostunnel's
 * {@code --verify-cn/-dns/-uri}). A certificate is allowed when its subject's common name
 * (exactly; a subject with several CNs has none that counts), one of its DNS subject alternative
 * names (case-insensitive, a {@code *.} entry only matches the same wildcard name) or one of its
 * URI subject alternative names (exactly, e.g. a SPIFFE ID) is listed. Checked after the chain
 * verified, in the handshake: a peer that is not allowed fails the handshake, as one whose chain
 * does not verify.
 *
 * @param commonNames subject CNs
 * @param dnsNames DNS subject alternative names
 * @param uris URI subject alternative names
 */
public record AllowedIdentities(List<String> commonNames, List<String> dnsNames, List<String> uris) {
    private static final int SAN_DNS = 2;
    private static final int SAN_URI = 6;

    public AllowedIdentities {
        commonNames = List.copyOf(commonNames);
        dnsNames = List.copyOf(dnsNames);
        uris = List.copyOf(uris);
        if (commonNames.isEmpty() && dnsNames.isEmpty() && uris.isEmpty()) {
            throw new IllegalArgumentException("no common_names, dns_names or uris: it would let no one through");
        }
    }

    /**
     * Whether {@code leaf}, a certificate that verified, is one of the allowed. Its common
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
        return new Filter(verified, this, false);
    }

    /** As {@link #after}, for the server chains a client checks ({@code allowed_servers}). */
    public X509ExtendedTrustManager afterServers(X509ExtendedTrustManager verified) {
        return new Filter(verified, this, true);
    }

    private static final class Filter extends ForwardingTrustManager {
        private final AllowedIdentities allowed;
        /** Whether it filters server chains (a client's check), not client chains. */
        private final boolean servers;

        Filter(X509ExtendedTrustManager delegate, AllowedIdentities allowed, boolean servers) {
            super(delegate);
            this.allowed = allowed;
            this.servers = servers;
        }

        @Override
        void accepted(X509Certificate[] chain, boolean serverChain) throws CertificateException {
            if (serverChain == servers && !allowed.allows(chain[0])) {
                throw new CertificateException((servers ? "server certificate " : "client certificate ")
                        + subjectOf(chain[0]) + (servers ? " is not among allowed_servers" : " is not among allowed_clients"));
            }
        }
    }
}
