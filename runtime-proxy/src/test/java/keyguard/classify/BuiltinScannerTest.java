package keyguard.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Each built-in detector: what it must find, and near-misses it must leave alone. */
class BuiltinScannerTest {
    static List<String> found(String text) {
        List<String> out = new ArrayList<>();
        new BuiltinScanner().scan(text, (d, start, end) -> out.add(d.name() + ":" + text.substring(start, end)));
        return out;
    }

    static void finds(String detector, String value) {
        assertEquals(List.of(detector + ":" + value), found("before " + value + " after."), value);
    }

    static void nothing(String text) {
        assertEquals(List.of(), found(text), text);
    }

    @Test
    void emails() {
        finds("email", "jane.doe@example.com");
        finds("email", "j+tag_1@mail.sub.example.co.uk");
        nothing("user@localhost is not routable");
        nothing("write to me at example dot com, or @handle on social");
        nothing("a@b.c1 has a numeric tld");
        nothing("trailing dot user.@example.com");
    }

    @Test
    void phoneNumbers() {
        finds("phone", "+14155552671");
        finds("phone", "+44 20 7946 0958");
        finds("phone", "(415) 555-2671");
        finds("phone", "415-555-2671");
        finds("phone", "415.555.2671");
        finds("phone", "020 7946 0958");
        nothing("order 4155552671 shipped"); // bare digits: could be anything
        nothing("released on 2026-11-27 at 10:30");
        nothing("version 1.2.3 and 10.4");
    }

    @Test
    void paymentCardsPassLuhn() {
        finds("card_number", "4111 1111 1111 1111");
        finds("card_number", "5500-0000-0000-0004");
        finds("card_number", "378282246310005");
        nothing("4111 1111 1111 1112 fails the Luhn check");
        nothing("1234567890123456");
    }

    @Test
    void ibansPassMod97() {
        finds("iban", "DE89370400440532013000");
        finds("iban", "GB82 WEST 1234 5698 7654 32");
        nothing("DE89370400440532013001 fails mod-97");
        nothing("AB12 is a code, not an IBAN");
    }

    @Test
    void usSocialSecurityNumbers() {
        finds("us_ssn", "123-45-6789");
        nothing("000-12-3456 has area 000");
        nothing("666-12-3456 and 900-12-3456 are never issued");
        nothing("123-00-6789 has group 00");
        nothing("123-45-678 is too short");
    }

    @Test
    void ipAddresses() {
        finds("ip_address", "192.168.10.254");
        finds("ip_address", "2001:0db8:85a3:0000:0000:8a2e:0370:7334");
        finds("ip_address", "2001:db8::8a2e:370:7334");
        nothing("256.1.1.1 is out of range");
        nothing("version 1.2.3.4.5 has five parts");
        nothing("at 10:30:00 we met");
    }

    @Test
    void secrets() {
        finds("aws_access_key", "AKIAIOSFODNN7EXAMPLE");
        finds("github_token", "ghp_" + "a".repeat(18) + "B".repeat(18));
        finds("openai_key", "sk-proj-abcdefghijklmnopqrstuvwxyz012345");
        finds("anthropic_key", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz");
        finds("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U");
        finds("keyguard_key", "kg-abcdefgh2345-" + "Ab1".repeat(14) + "x");
        nothing("AKIA is a prefix, AKIAIOSFODNN7EXAMPL is one short");
        nothing("sk-short is not a key; task-management-system-overview neither");
        nothing("eyJ alone, or eyJhbGciOiJIUzI1NiJ9 without its other parts");
    }

    @Test
    void privateKeyBlocksAreFoundWhole() {
        String block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7Y\nabc\n-----END RSA PRIVATE KEY-----";
        assertEquals(List.of("private_key:" + block), found("key:\n" + block + "\nthanks"));
        nothing("-----BEGIN CERTIFICATE----- is public");
    }

    @Test
    void highEntropyTokens() {
        finds("high_entropy", "Zx9qL2vR8tYw3nB6mK1pD4sH7jF0cG5a");
        nothing("abcdefghijklmnopqrstuvwxyzabcdefgh is long but plain");
        nothing("the_quick_brown_fox_jumps_over_the_lazy_dog");
        nothing("com.example.service.internal.ImplementationFactoryBean");
    }

    @Test
    void severalFindingsInOneText() {
        List<String> f = found("Mail bob@example.org or call +49 30 1234567; card 4111-1111-1111-1111, host 10.0.0.1");
        assertEquals(List.of("email:bob@example.org", "phone:+49 30 1234567", "card_number:4111-1111-1111-1111",
                "ip_address:10.0.0.1"), f);
    }

    @Test
    void pathologicalInputsScanInLinearTime() {
        BuiltinScanner s = new BuiltinScanner();
        int[] hits = {0};
        Sink count = (d, a, b) -> hits[0]++;
        String as = "a".repeat(1 << 20);
        String emails = "a@b.co ".repeat(100_000);
        String halfEmails = "aaaa@".repeat(200_000);
        String beginNoEnd = "-----BEGIN RSA PRIVATE KEY-----\n".repeat(30_000);
        String digits = "1 ".repeat(500_000);
        for (int warm = 0; warm < 3; warm++) {
            for (String t : List.of(as, emails, halfEmails, beginNoEnd, digits)) s.scan(t, count);
        }
        hits[0] = 0;
        s.scan(emails, count);
        assertEquals(100_000, hits[0]);
        for (String t : List.of(as, emails, halfEmails, beginNoEnd, digits)) {
            long start = System.nanoTime();
            s.scan(t, count);
            long ms = (System.nanoTime() - start) / 1_000_000;
            // A quadratic scan of any of these would take minutes; linear takes milliseconds.
            assertTrue(ms < 2_000, t.substring(0, 12) + "… took " + ms + " ms");
        }
    }
}
