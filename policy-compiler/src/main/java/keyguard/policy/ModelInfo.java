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
                        boolean acceptsUnscannable, Pricing pricing) {

    public ModelInfo(int index, String name, String provider, String upstream, long inputMicrosPerMillion,
                     long outputMicrosPerMillion, long context, DataClass maxClass, String hosting, String type, Span span) {
        this(index, name, provider, upstream, inputMicrosPerMillion, outputMicrosPerMillion, context, maxClass, hosting, type, span, true,
                Pricing.of(inputMicrosPerMillion, outputMicrosPerMillion));
    }

    public static final String CHAT = "chat";
    public static final String EMBEDDING = "embedding";

    public boolean isEmbedding() { return EMBEDDING.equals(type); }

    /**
     * Worst-case cost in micro-dollars of a request with this prompt and output cap, as a
     * decision sees it: prompt tokens at the highest uncached or cache-read price, output at
     * the highest output or reasoning price, plus the per-request price; rounded up, saturating
     * instead of overflowing. The gateway's reservation adds what the decision does not see
     * (cache writes, images, web searches, the service tier).
     */
    public long costMicros(long inputTokens, long outputTokens) {
        return pricing.worstMicros(inputTokens, false, outputTokens, 0, 0, Pricing.STANDARD);
    }
}
