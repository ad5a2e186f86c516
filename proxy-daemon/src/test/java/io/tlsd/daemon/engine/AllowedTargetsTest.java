package io.tlsd.daemon.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class AllowedTargetsTest {
    @Test
    void namesDomainsAddressesAndPorts() {
        AllowedTargets allowed = AllowedTargets.of(List.of("api.example.com:443", "*.internal:*", "10.0.0.5:5432",
                "[2001:db8::1]:443", "*:8443"));
        assertTrue(allowed.allows("api.example.com", 443));
        assertTrue(allowed.allows("API.Example.COM.", 443), "case and a final dot do not matter");
        assertFalse(allowed.allows("api.example.com", 80), "another port");
        assertFalse(allowed.allows("www.example.com", 443));
        assertFalse(allowed.allows("example.com", 443));
        assertTrue(allowed.allows("db.eu.internal", 5432), "any depth under the domain, any port");
        assertFalse(allowed.allows("internal", 443), "not the domain itself");
        assertFalse(allowed.allows("evil-internal", 443));
        assertFalse(allowed.allows("internal.evil.com", 443));
        assertTrue(allowed.allows("10.0.0.5", 5432));
        assertFalse(allowed.allows("10.0.0.6", 5432));
        assertTrue(allowed.allows("2001:DB8:0::1", 443), "an IPv6 address however written");
        assertTrue(allowed.allows("[2001:db8::1]", 443));
        assertTrue(allowed.allows("anything.example", 8443), "* for the host");
        assertFalse(allowed.allows("bad name!", 443));
        assertEquals("api.example.com:443, *.internal:*, 10.0.0.5:5432, [2001:db8::1]:443, *:8443", allowed.toString());
    }

    @Test
    void anIpAddressIsNotANameAndANameIsNotLookedUp() {
        AllowedTargets byName = AllowedTargets.of(List.of("localhost:443"));
        assertFalse(byName.allows("127.0.0.1", 443), "matched as written");
        assertTrue(AllowedTargets.of(List.of("*:443")).allows("127.0.0.1", 443));
    }

    @Test
    void aTargetTheResolverOrTheCertificateCheckCouldReadOtherwiseMatchesNothing() {
        AllowedTargets allowed = AllowedTargets.of(List.of("api.example.com:443", "kafka.internal:9092",
                "127.0.0.1:443", "*.example.org:443"));
        assertFalse(allowed.allows("api\u3002example\u3002com", 443), "ideographic full stops");
        assertFalse(allowed.allows("\uff41pi.example.com", 443), "a full-width letter");
        assertFalse(allowed.allows("api\u00ad.example.com", 443), "a soft hyphen");
        assertFalse(allowed.allows("\u212afka.internal", 9092), "the Kelvin sign, a k once lower-cased");
        assertFalse(allowed.allows("127.1", 443), "a name a resolver reads as 127.0.0.1");
        assertFalse(allowed.allows("2130706433", 443));
        assertFalse(allowed.allows("1.example.org.0", 443));
        assertTrue(allowed.allows("127.0.0.1", 443));
        assertTrue(AllowedTargets.of(List.of("xn--bcher-kva.example:443")).allows("xn--bcher-kva.example", 443));
        assertTrue(AllowedTargets.of(List.of("b\u00fccher.example:443")).allows("xn--bcher-kva.example", 443),
                "an entry may be written in Unicode; the application writes the xn-- form");
        assertFalse(AllowedTargets.of(List.of("b\u00fccher.example:443")).allows("b\u00fccher.example", 443));
    }

    @Test
    void addressEntriesMatchAddressesAndNameEntriesNames() {
        AllowedTargets allowed = AllowedTargets.of(List.of("10.0.0.5:443"));
        assertFalse(allowed.allows("10.0.0.5.", 443), "a name: looked up, not an address");
        assertTrue(allowed.allows("10.0.0.5", 443));
    }

    @Test
    void anyAllowsEverything() {
        assertTrue(AllowedTargets.ANY.any());
        assertTrue(AllowedTargets.ANY.allows("whatever.example", 1));
        assertEquals("any", AllowedTargets.ANY.toString());
    }

    @Test
    void anEntryThatIsNoTargetIsRefusedByName() {
        for (String bad : List.of("api.example.com", "api.example.com:", ":443", "api.example.com:0",
                "api.example.com:65536", "api.example.com:https", "2001:db8::1:443", "[fe80::1%eth0]:443",
                "*.:443", "bad name:443", "*.*.example.com:443", "[10.0.0.1]:443", "127.1:443", "*.0.1:443")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> AllowedTargets.of(List.of("ok.example:443", bad)), bad);
            assertTrue(e.getMessage().startsWith("\"" + bad + "\""), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> AllowedTargets.of(List.of()));
    }

    @Test
    void equalWhenWrittenAlike() {
        assertEquals(AllowedTargets.of(List.of("a.example:443")), AllowedTargets.of(List.of("a.example:443")));
        assertFalse(AllowedTargets.of(List.of("a.example:443")).equals(AllowedTargets.ANY));
    }
}
