package keyguard.tokens;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import java.util.List;

/**
 * Token counts with jtokkit's {@code cl100k_base}. For OpenAI models this is exact for the
 * GPT-4/3.5 family and a close estimate for the o200k family; for other vendors' models
 * it is an estimate (documented in docs/api.md). cl100k is used throughout because it is
 * about five times cheaper than o200k here, and the count only feeds reservations that
 * are settled with the provider's real usage.
 *
 * <p>Chat prompts follow OpenAI's accounting: 3 tokens per message plus 3 for the reply
 * priming, on top of the content.
 */
public final class TokenCounter {
    private static final Encoding ENCODING = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);

    private TokenCounter() {}

    public static int count(String text) {
        return text.isEmpty() ? 0 : ENCODING.countTokens(text);
    }

    public static int countPrompt(List<String> messages) {
        int n = 3;
        for (String m : messages) n += 3 + count(m);
        return n;
    }

    /** The first {@code maxTokens} tokens of a text, decoded back to text. */
    public static String truncate(String text, int maxTokens) {
        IntArrayList tokens = ENCODING.encode(text);
        if (tokens.size() <= maxTokens) return text;
        IntArrayList head = new IntArrayList(maxTokens);
        for (int i = 0; i < maxTokens; i++) head.add(tokens.get(i));
        return ENCODING.decode(head);
    }
}
