package keyguard.wire;

import java.util.Set;

/**
 * What in a request changes its bill beyond the text of its prompt, read once by the parser:
 * the reservation and the settlement are computed from it, never from the body again.
 *
 * @param choices OpenAI's {@code n}: every choice is generated (and billed) up to the output cap
 * @param mediaTokens prompt tokens of images and documents ({@link keyguard.tokens.MediaTokens}),
 *     and the fixed prompts providers add for tools
 * @param images images in the prompt (a model may price each: {@code price image})
 * @param cacheMarked the request asks the provider to write a prompt cache ({@code cache_control})
 * @param serviceTier the {@code service_tier} asked for, or null
 * @param params price-changing parameters present ({@link keyguard.policy.PricedParams})
 * @param webSearches the most server-side web searches the request may run
 * @param webSearchCapMissing an Anthropic web search tool without {@code max_uses}: the gateway adds one
 * @param maxTokensField the field the caller's output cap was in, or null when it sent none
 */
public record Billables(int choices, long mediaTokens, int images, boolean cacheMarked, String serviceTier, Set<String> params,
                        long webSearches, boolean webSearchCapMissing, String maxTokensField) {

    public static final Billables NONE = new Billables(1, 0, 0, false, null, Set.of(), 0, false, null);

    /** The longest {@code service_tier} value read; no provider's is longer than a dozen characters. */
    public static final int MAX_TIER_CHARS = 32;
    /** Web searches reserved (and sent as {@code max_uses}) for an Anthropic web search tool without a cap. */
    public static final int DEFAULT_WEB_SEARCH_USES = 5;
    /** OpenAI's own bound on {@code n}. */
    public static final int MAX_CHOICES = 128;
}
