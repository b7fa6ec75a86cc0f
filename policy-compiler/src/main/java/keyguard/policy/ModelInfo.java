package keyguard.policy;

import keyguard.lang.source.Span;

/**
 * A model from {@code models.kgp}. Prices are micro-dollars per one million tokens, so
 * {@code 0.15 usd per 1m tokens} is {@code 150_000}; costs stay integers end to end.
 * {@code type} is {@code chat} (the default) or {@code embedding}. {@code acceptsUnscannable}
 * is false for a model the operator declared with {@code unscannable deny}: it never receives
 * content the gateway cannot scan, whatever a policy says.
 */
public record ModelInfo(int index, String name, String provider, String upstream, long inputMicrosPerMillion,
                        long outputMicrosPerMillion, long context, DataClass maxClass, String hosting, String type, Span span,
                        boolean acceptsUnscannable) {

    public ModelInfo(int index, String name, String provider, String upstream, long inputMicrosPerMillion,
                     long outputMicrosPerMillion, long context, DataClass maxClass, String hosting, String type, Span span) {
        this(index, name, provider, upstream, inputMicrosPerMillion, outputMicrosPerMillion, context, maxClass, hosting, type, span, true);
    }

    public static final String CHAT = "chat";
    public static final String EMBEDDING = "embedding";

    public boolean isEmbedding() { return EMBEDDING.equals(type); }

    /** Worst-case cost of a request in micro-dollars, rounded up, saturating instead of overflowing. */
    public long costMicros(long inputTokens, long outputTokens) {
        long in = saturatingMultiply(Math.max(0, inputTokens), inputMicrosPerMillion);
        long out = saturatingMultiply(Math.max(0, outputTokens), outputMicrosPerMillion);
        long sum = in > Long.MAX_VALUE - out ? Long.MAX_VALUE : in + out;
        return sum == Long.MAX_VALUE ? sum : (sum + 999_999) / 1_000_000;
    }

    static long saturatingMultiply(long a, long b) {
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        return hi != 0 || lo < 0 ? Long.MAX_VALUE : lo;
    }
}
