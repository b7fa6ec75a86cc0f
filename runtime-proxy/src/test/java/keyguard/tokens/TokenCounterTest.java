package keyguard.tokens;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TokenCounterTest {
    @Test
    void eachModelFamilyIsCountedInItsOwnEncoding() {
        assertSame(TokenCounter.O200K, TokenCounter.forUpstreamName("gpt-4o-mini"));
        assertSame(TokenCounter.O200K, TokenCounter.forUpstreamName("gpt-4o-2024-08-06"));
        assertSame(TokenCounter.O200K, TokenCounter.forUpstreamName("o3-mini"));
        assertSame(TokenCounter.O200K, TokenCounter.forUpstreamName("gpt-4.1"));
        assertSame(TokenCounter.CL100K, TokenCounter.forUpstreamName("gpt-4-turbo"));
        assertSame(TokenCounter.CL100K, TokenCounter.forUpstreamName("gpt-3.5-turbo"));
        assertSame(TokenCounter.CL100K, TokenCounter.forUpstreamName("claude-sonnet-4-5"), "other vendors: a cl100k estimate");
        assertEquals("o200k_base", TokenCounter.O200K.encodingName());
    }

    @Test
    void theEncodingsDifferWhereTheyShould() {
        String text = "Ünïcödé and emoji 🚀🚀 and code: for (int i = 0; i < n; i++) { sum += a[i]; }";
        assertTrue(TokenCounter.O200K.count(text) != TokenCounter.CL100K.count(text) || TokenCounter.O200K.count(text) > 0);
        assertEquals(TokenCounter.CL100K.countPrompt(List.of("hi")), 3 + 3 + TokenCounter.CL100K.count("hi"));
    }

    @Test
    void theByteBoundIsNeverBelowTheExactCountInEitherEncoding() {
        SplittableRandom r = new SplittableRandom(11);
        String[] pieces = {"a", "hello", " ", "\n", "é", "日本語", "🚀", "{\"k\": 1}", "0123456789", "\t", "ß", "Привет"};
        for (int round = 0; round < 2_000; round++) {
            List<String> messages = new ArrayList<>();
            int n = 1 + r.nextInt(4);
            for (int m = 0; m < n; m++) {
                StringBuilder sb = new StringBuilder();
                int len = r.nextInt(60);
                for (int i = 0; i < len; i++) sb.append(pieces[r.nextInt(pieces.length)]);
                messages.add(sb.toString());
            }
            long bound = TokenCounter.promptBound(messages);
            assertTrue(bound >= TokenCounter.CL100K.countPrompt(messages), messages.toString());
            assertTrue(bound >= TokenCounter.O200K.countPrompt(messages), messages.toString());
        }
        assertEquals(4, TokenCounter.utf8Length("🚀"));
        assertEquals(2, TokenCounter.utf8Length("é"));
        assertEquals(3, TokenCounter.utf8Length("日"));
    }

    @Test
    void aBoundedPromptCountsExactlyOnlyWhenAsked() {
        List<String> texts = List.of("tell me about counters");
        PromptTokens p = PromptTokens.bounded(texts, TokenCounter.CL100K, TokenCounter.promptBound(texts), 0);
        assertEquals(TokenCounter.promptBound(texts), p.estimate());
        assertEquals(TokenCounter.CL100K.countPrompt(texts), p.exact());
        assertTrue(PromptTokens.counted(12).isExact());
    }
}
