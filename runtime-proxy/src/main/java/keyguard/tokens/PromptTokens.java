package keyguard.tokens;

import java.util.List;

/**
 * A request's prompt size: the {@link #estimate} the gateway reserved on — the exact count,
 * or, when nothing in the key's policy depends on it, the free upper bound of
 * {@link TokenCounter#promptBound} — and the {@link #exact} count, computed on first use when the estimate was the bound
 * (a provider that reports no usage, the simulator).
 */
public final class PromptTokens {
    private final List<String> texts;
    private final TokenCounter counter;
    private final long estimate;
    /** Tokens of what is not text (images, documents, tool prompts), added to the count. */
    private final long media;
    private volatile long exact;

    private PromptTokens(List<String> texts, TokenCounter counter, long estimate, long media, long exact) {
        this.texts = texts;
        this.counter = counter;
        this.estimate = estimate;
        this.media = media;
        this.exact = exact;
    }

    public static PromptTokens counted(long exact) {
        return new PromptTokens(List.of(), TokenCounter.CL100K, exact, 0, exact);
    }

    /** The text's upper bound {@code bound} plus {@code media} tokens; the exact count is made on first use. */
    public static PromptTokens bounded(List<String> texts, TokenCounter counter, long bound, long media) {
        return new PromptTokens(texts, counter, saturating(bound, media), media, -1);
    }

    private static long saturating(long a, long b) {
        return a > Long.MAX_VALUE - b ? Long.MAX_VALUE : a + b;
    }

    public long estimate() { return estimate; }

    public boolean isExact() { return exact >= 0 && exact == estimate; }

    public long exact() {
        long e = exact;
        if (e < 0) exact = e = saturating(counter.countPrompt(texts), media);
        return e;
    }
}
