package keyguard.classify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import keyguard.policy.DataClass;
import org.junit.jupiter.api.Test;

/** What the detectors see of disguised text, and how their matches map back to it. */
class NormalisationTest {
    final Classifier classifier = new Classifier(List.of());

    @Test
    void plainAsciiIsScannedAsItIs() {
        Classifier.Normalized n = Classifier.Normalized.of("jane@example.com");
        assertTrue(n.identity());
        assertEquals(16, n.originalEnd(16));
    }

    @Test
    void fullwidthFormatCharactersAndTagCharactersBecomePlainText() {
        assertEquals("jane@example.com", Classifier.normalise("ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ"));
        assertEquals("jane@example.com", Classifier.normalise("ja\u200Bne@exa\u00ADmple.c\u2060om"));
        assertEquals("4111", Classifier.normalise("\uDB40\uDC34\uDB40\uDC31\uDB40\uDC31\uDB40\uDC31"), "ASCII smuggled as tag characters");
        assertEquals("cafe", Classifier.normalise("cafe\u0301"), "combining marks dropped");
    }

    @Test
    void aMatchEndingInsideAnExpansionCoversTheWholeCharacter() {
        Classifier.Normalized n = Classifier.Normalized.of("a\u2474b"); // ⑴ expands to "(1)"
        assertEquals("a(1)b", n.text());
        assertEquals(1, n.originalStart(1));
        assertEquals(2, n.originalEnd(2), "ending after `(` still ends after ⑴");
        assertEquals(2, n.originalEnd(4));
        assertEquals(3, n.originalEnd(5));
    }

    @Test
    void redactionReplacesADisguisedValueWhole() {
        String text = "mail ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ or ja\u200Bne@example.com, card \uDB40\uDC34\uDB40\uDC31\uDB40\uDC31\uDB40\uDC31"
                + " 1111 1111 1111.";
        String redacted = classifier.redact(text, false, DataClass.PUBLIC, new HashMap<>(), new HashMap<>(), (d, s, e) -> { });
        assertEquals("mail [EMAIL_1] or [EMAIL_1], card [CARD_1].", redacted);
        assertFalse(redacted.contains("\u200B") || redacted.contains("ｃｏｍ"));
    }
}
