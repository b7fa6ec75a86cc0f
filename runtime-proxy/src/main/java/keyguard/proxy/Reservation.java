package keyguard.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import keyguard.policy.ModelInfo;
import keyguard.policy.Policy;
import keyguard.policy.PricedParams;
import keyguard.policy.Pricing;
import keyguard.policy.Usage;

/**
 * What an admitted request holds on the counters before it is forwarded, and what it is
 * charged when it ends. The invariant budgets rest on: the output reserved is the output
 * cap sent upstream (times the choices asked for), the prompt is reserved at its highest
 * price, so a request the provider bills by its own usage never costs more than it reserved
 * (up to the accuracy of the prompt estimate; see docs/limits.md).
 *
 * @param promptTokens the prompt estimate: text counted with the model's tokenizer, images
 *     and documents by the providers' rules
 * @param outputTokens the output cap per choice times the choices
 * @param tierPermille the service tier's multiplier the request is reserved at
 * @param tokens what {@code limit tokens} counters hold: prompt + output
 * @param costMicros what budgets hold: the worst case at the routed model's prices
 */
public record Reservation(long promptTokens, long outputTokens, int tierPermille, long tokens, long costMicros) {

    /** How a call that ended is charged: tokens for token limits, micro-dollars for budgets, and how it was found. */
    public record Charge(long tokens, long costMicros, String chargedBy) {}

    public static Reservation of(ModelInfo routed, long promptTokens, long outputTokens, Billables b) {
        Pricing p = routed.pricing();
        int tier = reservedTier(p, b.serviceTier());
        long tokens = promptTokens > Long.MAX_VALUE - outputTokens ? Long.MAX_VALUE : promptTokens + outputTokens;
        return new Reservation(promptTokens, outputTokens, tier, tokens,
                p.worstMicros(promptTokens, b.cacheMarked(), outputTokens, b.images(), b.webSearches(), tier));
    }

    /**
     * The multiplier a request is reserved at: its tier's when the model prices it, the
     * standard one for the provider's default tier, and the model's highest when the provider
     * chooses ({@code auto}, or no tier asked) or the tier has no price.
     */
    static int reservedTier(Pricing p, String requested) {
        if (requested == null || requested.equals("auto")) return p.highestTier();
        if (requested.equals("default") || requested.equals("standard_only")) return Pricing.STANDARD;
        int m = p.tier(requested);
        return m > 0 ? m : p.highestTier();
    }

    /** The multiplier a request is charged at: the tier the provider says it served, else the reserved one. */
    int settledTier(Pricing p, String reported) {
        if (reported == null) return tierPermille;
        if (reported.equals("default") || reported.equals("standard")) return Pricing.STANDARD;
        int m = p.tier(reported);
        return m > 0 ? m : tierPermille;
    }

    /**
     * The charge of a call that ended. The provider's usage where it reported one; the
     * gateway's count where it did not; and for a caller that hung up before the provider's
     * report, the whole reservation (or more, if more was already seen): the provider may go
     * on generating, and billing, after the gateway stopped reading.
     */
    public Charge charge(ModelInfo routed, String outcome, Usage usage, boolean billed) {
        long cost = routed.pricing().costMicros(usage, settledTier(routed.pricing(), usage.serviceTier()));
        if (billed) return new Charge(usage.tokens(), cost, "provider");
        if (outcome.equals("client_gone")) return new Charge(Math.max(tokens, usage.tokens()), Math.max(costMicros, cost), "reservation");
        return new Charge(usage.tokens(), cost, "counted");
    }

    /**
     * The first price-changing parameter of the request that the routed model does not price
     * and the policy does not allow ({@code allow params}), or null.
     */
    public static String unpricedParam(Billables b, ModelInfo routed, Policy policy) {
        for (String param : b.params()) {
            boolean priced = switch (param) {
                case PricedParams.SERVICE_TIER -> b.serviceTier() != null && routed.pricing().tier(b.serviceTier()) > 0;
                case PricedParams.WEB_SEARCH -> routed.pricing().webSearch() > 0;
                default -> false;
            };
            if (!priced && !policy.allowedParams().contains(param)) return param;
        }
        return null;
    }

    /**
     * The request as it goes upstream: its output cap is the one reserved ({@code capPerChoice},
     * added when the caller sent none, lowered when the policy clamps it), and an Anthropic
     * web search tool without {@code max_uses} gets the one reserved. The caller's body is
     * copied only when something changes.
     */
    public static ParsedRequest outbound(ParsedRequest r, long capPerChoice) {
        if (r.endpoint() == Endpoint.EMBEDDINGS) return r;
        Billables b = r.billables();
        boolean needsCap = b.maxTokensField() == null || r.maxTokens() != capPerChoice;
        if (!needsCap && !b.webSearchCapMissing()) return r;
        ObjectNode body = r.body().deepCopy();
        if (b.maxTokensField() == null) {
            body.put(r.endpoint() == Endpoint.MESSAGES ? "max_tokens" : "max_completion_tokens", capPerChoice);
        } else if (r.maxTokens() != capPerChoice) {
            body.put(b.maxTokensField(), capPerChoice);
            if (body.hasNonNull("max_tokens")) body.put("max_tokens", capPerChoice);
        }
        if (b.webSearchCapMissing()) {
            for (JsonNode tool : body.path("tools")) {
                if (tool.isObject() && tool.path("type").asText("").startsWith("web_search") && !tool.hasNonNull("max_uses")) {
                    ((ObjectNode) tool).put("max_uses", Billables.DEFAULT_WEB_SEARCH_USES);
                }
            }
        }
        return r.withBody(body, capPerChoice);
    }
}
