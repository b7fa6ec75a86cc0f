package keyguard.providers;

/**
 * What has been seen of one upstream reply so far: the text of its first choice (what a
 * translation re-renders), everything generated in any choice (what the gateway counts
 * when the provider reports no usage), the finish reason, and the usage in billing terms
 * ({@link keyguard.policy.Usage}): -1 until reported. {@code usageFinal} is set once the
 * provider's final usage report was read (OpenAI's usage object, Anthropic's
 * {@code message_delta} or a whole reply's {@code usage}).
 */
final class StreamState {
    String id = "";
    final StringBuilder text = new StringBuilder();
    /**
     * Everything generated, part by part: each choice's text, refusal and reasoning, each tool
     * call's name and arguments, each Anthropic content block. Streamed deltas are joined per
     * part before counting, so the count is the same whether the reply came whole or in pieces.
     */
    private final java.util.Map<String, StringBuilder> generated = new java.util.LinkedHashMap<>();
    String finish = "stop";
    long input = -1;
    long cacheWrite;
    long cacheWrite1h;
    long cacheRead;
    long output = -1;
    long reasoning;
    long webSearches;
    String serviceTier;
    boolean usageFinal;
    boolean done;
    String error;

    void generated(String part, String piece) {
        if (piece != null && !piece.isEmpty()) generated.computeIfAbsent(part, k -> new StringBuilder()).append(piece);
    }

    /** Tokens of everything generated, each part counted on its own. */
    long countGenerated(keyguard.tokens.TokenCounter counter) {
        long n = 0;
        for (StringBuilder part : generated.values()) n += counter.count(part.toString());
        return n;
    }
}
