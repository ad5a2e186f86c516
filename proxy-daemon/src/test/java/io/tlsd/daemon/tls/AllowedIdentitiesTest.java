package io.tlsd.daemon.tls;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsd.testing.TestPki;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which client certificates {@code allowed_clients} lets in, by their subject and names. */
class AllowedIdentitiesTest {
    private static final AllowedIdentities BILLING = new AllowedIdentities(List.of("billing"), List.of("Billing.Internal"),
            List.of("spiffe://example.org/billing"));

    @TempDir
    Path dir;

    @Test
    void aListedCommonNameDnsNameOrUriLetsIn() {
        TestPki pki = TestPki.create(dir);
        assertTrue(BILLING.allows(pki.issueClient("billing").certificate()));
        assertTrue(BILLING.allows(pki.issueClientWithNames("x", "billing.internal").certificate()), "DNS: any case");
        assertTrue(BILLING.allows(pki.issueClientWithNames("x", "spiffe://example.org/billing").certificate()));
        assertFalse(BILLING.allows(pki.issueClient("Billing").certificate()), "a CN is compared exactly");
        assertFalse(BILLING.allows(pki.issueClientWithNames("x", "spiffe://example.org/Billing").certificate()));
        assertFalse(BILLING.allows(pki.issueClientWithNames("billing.internal").certificate()),
                "a CN is not a DNS name");
    }

    @Test
    void aSubjectWithSeveralCommonNamesHasNoneThatCounts() {
        TestPki pki = TestPki.create(dir);
        assertFalse(BILLING.allows(pki.issueClientWithSubject("CN=intruder,CN=billing,O=x").certificate()));
        assertFalse(BILLING.allows(pki.issueClientWithSubject("CN=billing+CN=other,O=x").certificate()));
        assertTrue(BILLING.allows(pki.issueClientWithSubject("CN=billing+C=US,O=x").certificate()),
                "one CN in a multi-valued RDN");
        assertFalse(BILLING.allows(pki.issueClientWithSubject("OU=CN\\=billing,CN=other").certificate()));
        assertNull(AllowedIdentities.commonNameOf(pki.issueClientWithSubject("O=no common name").certificate()));
    }

    @Test
    void anEmptyListIsRefusedAndListsEncodeApart() {
        assertThrows(IllegalArgumentException.class, () -> new AllowedIdentities(List.of(), List.of(), List.of()));
        byte[] one = new AllowedIdentities(List.of("a, b"), List.of(), List.of()).encoded();
        byte[] two = new AllowedIdentities(List.of("a", "b"), List.of(), List.of()).encoded();
        assertFalse(Arrays.equals(one, two));
        assertArrayEquals(one, new AllowedIdentities(List.of("a, b"), List.of(), List.of()).encoded());
        assertEquals("common_names [billing] dns_names [Billing.Internal] uris [spiffe://example.org/billing]",
                BILLING.describe());
    }
}
