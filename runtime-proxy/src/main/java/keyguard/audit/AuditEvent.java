package keyguard.audit;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Map;

/**
 * One decision, allowed or not, as the audit log keeps it. Identities, the policy revision,
 * models, tokens, cost, outcome, latency and data findings — types and counts only. Never a
 * prompt, a completion, a secret or a hash.
 *
 * @param costMicros what the request cost (0 when nothing was forwarded or the upstream failed)
 * @param gatewayMicros the gateway's own time before forwarding
 * @param totalMillis from the body being read to the end of the response
 * @param unscannable the parts that could not be scanned, by kind ({@code image:1,pdf:1}); empty for none
 * @param functionErrors policy functions that failed while deciding (almost always none)
 * @param node the gateway that decided (its {@code --node} name)
 * @param usage what a forwarded request used, by billing term; null for one never forwarded
 * @param chargedBy how its charge was found: {@code provider} (the provider's usage report),
 *     {@code counted} (no report: the gateway counted the prompt and what was generated) or
 *     {@code reservation} (the caller hung up before the report: the whole reservation)
 * @param decided what the policy decided and on what, for {@code keyguard replay}; null for a
 *     request refused before its policy could decide (malformed, no such policy)
 * @param team the key's team in the operator's organisation when it decided, empty for none
 * @param org the team's org unit, empty for none
 * @param rootKey the key a sub-key descends from (spend of a family groups under it), empty for a key an admin made
 */
public record AuditEvent(String decisionId, long epochMillis, String keyId, String keyName, String owner, String policy,
                         String revision, List<String> rules, String model, String routedModel, String provider,
                         long estimatedTokens, long promptTokens, long completionTokens, long costMicros, String outcome, int status,
                         long gatewayMicros, long totalMillis, String dataClass, String detected, String unscannable, String dataAction,
                         Map<String, String> tags, List<keyguard.policy.FunctionError> functionErrors, String node,
                         keyguard.policy.Usage usage, String chargedBy, DecisionRecord decided, String team, String org,
                         String rootKey) {

    static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The event's JSON (type {@code decision}), streamed by a generator straight to UTF-8
     * bytes: no tree and no intermediate string.
     */
    public void writeJson(com.fasterxml.jackson.core.JsonGenerator g) throws java.io.IOException {
        g.writeStartObject();
        g.writeStringField("type", "decision");
        g.writeNumberField("schema", DecisionRecord.SCHEMA);
        g.writeStringField("decision_id", decisionId);
        g.writeStringField("node", node);
        g.writeStringField("time", java.time.Instant.ofEpochMilli(epochMillis).toString());
        g.writeStringField("key_id", keyId);
        g.writeStringField("key_name", keyName);
        g.writeStringField("owner", owner);
        if (!team.isEmpty()) g.writeStringField("team", team);
        if (!org.isEmpty()) g.writeStringField("org", org);
        if (!rootKey.isEmpty()) g.writeStringField("root_key_id", rootKey);
        g.writeStringField("policy", policy);
        g.writeStringField("revision", revision);
        g.writeArrayFieldStart("rules");
        for (String r : rules) g.writeString(r);
        g.writeEndArray();
        g.writeStringField("model", model);
        g.writeStringField("routed_model", routedModel);
        g.writeStringField("provider", provider);
        g.writeNumberField("estimated_tokens", estimatedTokens);
        g.writeNumberField("prompt_tokens", promptTokens);
        g.writeNumberField("completion_tokens", completionTokens);
        g.writeNumberField("cost_micros", costMicros);
        g.writeStringField("outcome", outcome);
        g.writeNumberField("status", status);
        g.writeNumberField("gateway_us", gatewayMicros);
        g.writeNumberField("total_ms", totalMillis);
        g.writeStringField("data_class", dataClass);
        g.writeStringField("detected", detected);
        if (usage != null) {
            g.writeObjectFieldStart("usage");
            g.writeNumberField("input", usage.input());
            g.writeNumberField("cache_write", usage.cacheWrite());
            g.writeNumberField("cache_write_1h", usage.cacheWrite1h());
            g.writeNumberField("cache_read", usage.cacheRead());
            g.writeNumberField("output", usage.output());
            g.writeNumberField("reasoning", usage.reasoning());
            g.writeNumberField("images", usage.images());
            g.writeNumberField("web_searches", usage.webSearches());
            if (usage.serviceTier() != null) g.writeStringField("service_tier", usage.serviceTier());
            g.writeStringField("charged_by", chargedBy);
            g.writeEndObject();
        }
        if (!unscannable.isEmpty()) g.writeStringField("unscannable", unscannable);
        g.writeStringField("data_action", dataAction);
        g.writeObjectFieldStart("tags");
        for (Map.Entry<String, String> t : tags.entrySet()) g.writeStringField(t.getKey(), t.getValue());
        g.writeEndObject();
        if (!functionErrors.isEmpty()) {
            g.writeArrayFieldStart("function_errors");
            for (keyguard.policy.FunctionError e : functionErrors) {
                g.writeStartObject();
                g.writeStringField("rule", e.rule());
                g.writeStringField("function", e.function());
                g.writeStringField("kind", e.kind().name().toLowerCase(java.util.Locale.ROOT));
                g.writeStringField("message", e.message());
                g.writeStringField("decision", e.denied() ? "deny" : "allow");
                g.writeEndObject();
            }
            g.writeEndArray();
        }
        if (decided != null) decided.writeJson(g);
        g.writeEndObject();
    }
}
