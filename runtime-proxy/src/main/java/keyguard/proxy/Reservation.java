package keyguard.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import keyguard.policy.ModelInfo;
import keyguard.policy.Policy;
import keyguard.policy.PricedParams;
import keyguard.policy.Pricing;
import keyguard.policy.Usage;
import keyguard.wire.Billables;
import keyguard.wire.Endpoint;
import keyguard.wire.ParsedRequest;

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

    /**
     * @param translated the request goes to an upstream of the other API shape, which does not
     *     carry the service tier across: the provider chooses it
     */
    public static Reservation of(ModelInfo routed, long promptTokens, long outputTokens, Billables b, boolean translated) {
        Pricing p = routed.pricing();
        int tier = translated ? p.highestTier() : reservedTier(p, b.serviceTier());
        // A provider bills at most its context window of prompt (a longer prompt is refused unbilled).
        if (routed.context() > 0) promptTokens = Math.min(promptTokens, routed.context());
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
        return m > 0 ? m : Math.max(tierPermille, p.highestTier()); // a tier the model does not price: never below the reservation
    }

    /**
     * The charge of a call that ended. The provider's usage where it reported one; the
     * gateway's count where it did not; and where the provider may have billed without the
     * gateway seeing how much ({@code usage} null: no headers in time, a reply cut off or
     * unreadable) or a caller hung up before the provider's report, the whole reservation
     * (or more, if more was already seen): the provider may go on generating, and billing,
     * after the gateway stopped reading.
     */
    public Charge charge(ModelInfo routed, String outcome, Usage usage, boolean billed) {
        if (usage == null) return new Charge(tokens, costMicros, RESERVATION);
        long cost = routed.pricing().costMicros(usage, settledTier(routed.pricing(), usage.serviceTier()));
        if (billed) return new Charge(usage.tokens(), cost, "provider");
        if (outcome.equals("client_gone")) return new Charge(Math.max(tokens, usage.tokens()), Math.max(costMicros, cost), RESERVATION);
        return new Charge(usage.tokens(), cost, "counted");
    }

    static final String RESERVATION = "reservation";

    /** The fields an upstream may read its output cap from. */
    private static final String[] CAP_FIELDS = {"max_tokens", "max_completion_tokens"};

    /** The reservation as usage terms, for the audit event of a call charged its reservation without a report. */
    public Usage asUsage(Billables b) {
        return new Usage(promptTokens, 0, 0, 0, outputTokens, 0, b.images(), 1, b.webSearches(), null);
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
     * added in {@code capField} when the caller sent none, written to both OpenAI fields when
     * the caller sent both, lowered when the policy clamps it, with an Anthropic thinking
     * budget lowered below it), and an Anthropic web search tool without {@code max_uses}
     * gets the one reserved. The caller's body is copied only when something changes.
     */
    public static ParsedRequest outbound(ParsedRequest r, long capPerChoice, String capField) {
        if (r.endpoint() == Endpoint.EMBEDDINGS) return r;
        ObjectNode in = r.body();
        boolean absent = r.billables().maxTokensField() == null;
        boolean differs = false;
        for (String field : CAP_FIELDS) differs |= in.hasNonNull(field) && in.get(field).asLong() != capPerChoice;
        JsonNode thinking = in.get("thinking");
        // Clamped below an Anthropic thinking budget: the budget must stay under the cap, or the upstream refuses the request.
        boolean thinkingOver = r.maxTokens() > capPerChoice && thinking != null && thinking.isObject()
                && thinking.path("budget_tokens").asLong(0) >= capPerChoice;
        if (!absent && !differs && !thinkingOver && !r.billables().webSearchCapMissing()) return r;
        ObjectNode body = in.deepCopy();
        if (absent) body.put(r.endpoint() == Endpoint.MESSAGES ? "max_tokens" : capField, capPerChoice);
        for (String field : CAP_FIELDS) if (body.hasNonNull(field)) body.put(field, capPerChoice);
        if (thinkingOver) ((ObjectNode) body.get("thinking")).put("budget_tokens", Math.max(1, capPerChoice - 1));
        if (r.billables().webSearchCapMissing()) {
            for (JsonNode tool : body.path("tools")) {
                if (tool.isObject() && tool.path("type").asText("").startsWith("web_search") && !tool.hasNonNull("max_uses")) {
                    ((ObjectNode) tool).put("max_uses", Billables.DEFAULT_WEB_SEARCH_USES);
                }
            }
        }
        return r.withBody(body, capPerChoice);
    }
}
