package keyguard.compiler.emit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class RtTest {
    @Test
    void literalPrefixIsOnlyWhatEveryMatchMustStartWith() {
        assertEquals("tmp-", Rt.literalPrefix("^tmp-[a-z0-9]+$"));
        assertEquals("ab", Rt.literalPrefix("^abc*"));
        assertEquals("ab", Rt.literalPrefix("^abc?"));
        assertEquals("abc", Rt.literalPrefix("^abc+"));
        assertEquals("", Rt.literalPrefix("tmp-"), "unanchored: may match anywhere");
        assertEquals("", Rt.literalPrefix("^a|^b"), "alternation");
        assertEquals("", Rt.literalPrefix("(?i)^tmp"), "flags");
        assertEquals("", Rt.literalPrefix("^(tmp)"));
        assertEquals("", Rt.literalPrefix("^\\\\d"));
        assertEquals("OPS", Rt.literalPrefix("^OPS.*"));
    }
}
