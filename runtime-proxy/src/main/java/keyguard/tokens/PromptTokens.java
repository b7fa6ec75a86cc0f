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
    private volatile long exact;

    private PromptTokens(List<String> texts, TokenCounter counter, long estimate, long exact) {
        this.texts = texts;
        this.counter = counter;
        this.estimate = estimate;
        this.exact = exact;
    }

    public static PromptTokens counted(long exact) {
        return new PromptTokens(List.of(), TokenCounter.CL100K, exact, exact);
    }

    public static PromptTokens bounded(List<String> texts, TokenCounter counter, long bound) {
        return new PromptTokens(texts, counter, bound, -1);
    }

    public long estimate() { return estimate; }

    public boolean isExact() { return exact >= 0 && exact == estimate; }

    public long exact() {
        long e = exact;
        if (e < 0) exact = e = counter.countPrompt(texts);
        return e;
    }
}
