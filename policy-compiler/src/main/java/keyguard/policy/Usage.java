package keyguard.policy;

/**
 * What one request used, in the terms providers bill by. The parts never overlap
 * ({@code cacheWrite} is the five-minute cache write, {@code cacheWrite1h} the one-hour one):
 * {@code input} is the prompt not read from or written to a cache, {@code output} the
 * generated tokens that are not reasoning, so their sum is every token billed.
 * OpenAI's {@code prompt_tokens} is {@code input + cacheRead}, its {@code completion_tokens}
 * {@code output + reasoning}; Anthropic's {@code input_tokens} is {@code input}.
 *
 * @param images images in the request (a model may price each)
 * @param requests 1 for a request the provider answered, 0 for one it never saw
 * @param webSearches server-side web searches the provider ran
 * @param serviceTier the tier the provider says it served the request in, or null
 */
public record Usage(long input, long cacheWrite, long cacheWrite1h, long cacheRead, long output, long reasoning, long images,
                    long requests, long webSearches, String serviceTier) {

    public static final Usage NONE = new Usage(0, 0, 0, 0, 0, 0, 0, 0, 0, null);

    public static Usage of(long input, long output) {
        return new Usage(input, 0, 0, 0, output, 0, 0, 1, 0, null);
    }

    /** Every token billed. */
    public long tokens() {
        return sat(sat(sat(sat(sat(input, cacheWrite), cacheWrite1h), cacheRead), output), reasoning);
    }

    /** Every prompt token billed, cached or not. */
    public long promptTokens() {
        return sat(sat(sat(input, cacheWrite), cacheWrite1h), cacheRead);
    }

    /** Every generated token billed, reasoning included. */
    public long completionTokens() {
        return sat(output, reasoning);
    }

    private static long sat(long a, long b) {
        a = Math.max(0, a);
        b = Math.max(0, b);
        return a > Long.MAX_VALUE - b ? Long.MAX_VALUE : a + b;
    }
}
