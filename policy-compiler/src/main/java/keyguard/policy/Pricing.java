package keyguard.policy;

import java.util.Map;

/**
 * What a model costs, term by term, the way providers bill: micro-dollars per one million
 * units (tokens, images, requests, web searches), so every price and every cost is an
 * integer. A term the operator did not declare takes a default that is never cheaper than
 * the provider bills: cached input at the full input price, reasoning at the output price,
 * a cache write at the input price, or twice it for an Anthropic model (Anthropic bills
 * a one-hour cache write at 2x input), and a one-hour cache write at the higher of the cache
 * write price and twice the input price. {@code tierPermille} holds the multiplier of each
 * declared {@code service_tier}, in thousandths ({@code 2000} for 2x).
 *
 * <p>A request's cost is the sum of its terms times its tier's multiplier, rounded up to the
 * micro-dollar once, saturating instead of overflowing.
 */
public record Pricing(long input, long output, long cacheWrite, long cacheWrite1h, long cacheRead, long reasoning, long image,
                      long request, long webSearch, Map<String, Integer> tierPermille) {

    /** The multiplier of a request without a service tier, or with the provider's default one. */
    public static final int STANDARD = 1000;

    public static Pricing of(long input, long output) {
        return new Pricing(input, output, input, Math.max(input, mul(input, 2)), input, output, 0, 0, 0, Map.of());
    }

    /** The multiplier of {@code tier} in thousandths, or -1 when the model does not price it. */
    public int tier(String tier) {
        Integer m = tierPermille.get(tier);
        return m == null ? -1 : m;
    }

    /** The largest multiplier a request may end up billed at when the provider picks the tier ({@code auto}). */
    public int highestTier() {
        int max = STANDARD;
        for (int m : tierPermille.values()) max = Math.max(max, m);
        return max;
    }

    /** The highest price per prompt token: whatever part of the prompt the provider caches or reads from cache. */
    public long promptCeiling(boolean cacheMarked) {
        long p = Math.max(input, cacheRead);
        return cacheMarked ? Math.max(p, Math.max(cacheWrite, cacheWrite1h)) : p;
    }

    /** The highest price per output token: reasoning tokens are output tokens the caller does not see. */
    public long outputCeiling() {
        return Math.max(output, reasoning);
    }

    /** What {@code usage} costs at {@code tierPermille}, in micro-dollars rounded up. */
    public long costMicros(Usage usage, int tierPermille) {
        long sum = 0;
        sum = add(sum, mul(usage.input(), input));
        sum = add(sum, mul(usage.cacheWrite(), cacheWrite));
        sum = add(sum, mul(usage.cacheWrite1h(), cacheWrite1h));
        sum = add(sum, mul(usage.cacheRead(), cacheRead));
        sum = add(sum, mul(usage.output(), output));
        sum = add(sum, mul(usage.reasoning(), reasoning));
        sum = add(sum, mul(usage.images(), image));
        sum = add(sum, mul(usage.requests(), request));
        sum = add(sum, mul(usage.webSearches(), webSearch));
        return micros(sum, tierPermille);
    }

    /**
     * The most a request can cost: every prompt token at the highest prompt price, every
     * output token at the highest output price, its images, one request and its web searches.
     */
    public long worstMicros(long promptTokens, boolean cacheMarked, long outputTokens, long images, long webSearches, int tierPermille) {
        long sum = mul(promptTokens, promptCeiling(cacheMarked));
        sum = add(sum, mul(outputTokens, outputCeiling()));
        sum = add(sum, mul(images, image));
        sum = add(sum, request);
        sum = add(sum, mul(webSearches, webSearch));
        return micros(sum, tierPermille);
    }

    /** Micro-dollars per million units times thousandths, to micro-dollars, rounded up. */
    private static long micros(long perMillionSum, int tierPermille) {
        if (perMillionSum == Long.MAX_VALUE) return Long.MAX_VALUE;
        long scaled = mul(perMillionSum, Math.max(0, tierPermille));
        if (scaled == Long.MAX_VALUE) return Long.MAX_VALUE;
        return scaled / 1_000_000_000L + (scaled % 1_000_000_000L == 0 ? 0 : 1);
    }

    static long mul(long a, long b) {
        a = Math.max(0, a);
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        return hi != 0 || lo < 0 ? Long.MAX_VALUE : lo;
    }

    private static long add(long a, long b) {
        return a > Long.MAX_VALUE - b ? Long.MAX_VALUE : a + b;
    }
}
