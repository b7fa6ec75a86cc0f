package keyguard.tokens;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingRegistry;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import java.util.List;
import keyguard.policy.ModelInfo;

/**
 * Token counts with jtokkit, in the encoding of the model a request names:
 * {@code o200k_base} for OpenAI's GPT-4o, GPT-4.1, GPT-5 and o-series models,
 * {@code cl100k_base} for the rest of OpenAI's and, as an estimate, for every other
 * vendor's models (their tokenizers are not public; cl100k is within ~10–20% for English
 * and code). Counts only feed reservations, which are settled with the provider's reported
 * usage.
 *
 * <p>Chat prompts follow OpenAI's accounting: 3 tokens per message plus 3 for the reply
 * priming, on top of the content.
 *
 * <p>Cost here (JMH, {@code TokenBenchmark}): cl100k ~11 µs per KB of text, o200k ~5×
 * that. {@link #promptBound} is free and is an upper bound for both: every token of a
 * byte-level BPE covers at least one UTF-8 byte.
 */
public final class TokenCounter {
    private static final EncodingRegistry REGISTRY = Encodings.newLazyEncodingRegistry();
    public static final TokenCounter CL100K = new TokenCounter(REGISTRY.getEncoding(EncodingType.CL100K_BASE), 1);
    public static final TokenCounter O200K = new TokenCounter(REGISTRY.getEncoding(EncodingType.O200K_BASE), 5);

    private final Encoding encoding;
    private final int relativeCost;

    private TokenCounter(Encoding encoding, int relativeCost) {
        this.encoding = encoding;
        this.relativeCost = relativeCost;
    }

    /** The counter for a model, by the name its upstream knows it by. */
    public static TokenCounter forModel(ModelInfo model) {
        return model == null ? CL100K : forUpstreamName(model.upstream() != null ? model.upstream() : model.name());
    }

    private static final String[] O200K_PREFIXES = {"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4"};

    /** Called per request: compares in place, allocates nothing. */
    static TokenCounter forUpstreamName(String name) {
        for (String prefix : O200K_PREFIXES) {
            if (name.regionMatches(true, 0, prefix, 0, prefix.length())) return O200K;
        }
        return CL100K;
    }

    public String encodingName() { return encoding.getName(); }

    /** Counting cost relative to cl100k: the gateway moves expensive counts off the IO thread. */
    public int relativeCost() { return relativeCost; }

    public int count(String text) {
        return text.isEmpty() ? 0 : encoding.countTokens(text);
    }

    public int countPrompt(List<String> messages) {
        int n = 3;
        for (String m : messages) n += 3 + count(m);
        return n;
    }

    /** An upper bound of {@link #countPrompt} in any byte-level BPE, from UTF-8 lengths alone. */
    public static long promptBound(List<String> messages) {
        long n = 3;
        for (String m : messages) n += 3 + utf8Length(m);
        return n;
    }

    static long utf8Length(String s) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) n++;
            else if (c < 0x800) n += 2;
            else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else n += 3;
        }
        return n;
    }

    /** The first {@code maxTokens} tokens of a text, decoded back to text. */
    public String truncate(String text, int maxTokens) {
        IntArrayList tokens = encoding.encode(text);
        if (tokens.size() <= maxTokens) return text;
        IntArrayList head = new IntArrayList(maxTokens);
        for (int i = 0; i < maxTokens; i++) head.add(tokens.get(i));
        return encoding.decode(head);
    }
}
