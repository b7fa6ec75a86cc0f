package keyguard.replay;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import keyguard.policy.DataClass;
import keyguard.policy.DecisionInput;
import keyguard.policy.Outcome;

/**
 * One decision of the audit log as replay reads it (docs/spec/audit-event.md, schema 2):
 * what the policy decided on, what it decided, and what the request then used. Events
 * without an {@code input} (schema 1, or a request refused before its policy decided) are
 * not decisions replay can repeat: {@link #parse} returns null for them.
 *
 * @param counters the counter values the decision read, by counter name ({@code tokens.key.1m})
 * @param countersForCap where a fleet node read its own part of a counter for a cap, that value
 * @param forwarded whether the request reached its provider (the event has {@code usage})
 * @param tokens what it was charged in tokens (prompt and completion), 0 when not forwarded
 * @param costMicros what it was charged, 0 when not forwarded
 * @param rootKeyId for a sub-key, the key it descends from, whose counters its family shares; empty otherwise
 */
public record RecordedDecision(String decisionId, long decidedAt, String keyId, String keyName, String keyOwner, String policy,
                               String revision, String model, long estimatedTokens, long maxTokens, boolean stream, DataClass dataClass,
                               boolean unscannable, Map<String, String> labels, Map<String, String> metadata, Map<String, String> requestTags,
                               Map<String, Long> counters, Map<String, Long> countersForCap, Outcome outcome, String kind, List<String> rules,
                               String routedModel, boolean forwarded, long tokens, long costMicros, String team, String org,
                               String endUser, String rootKeyId) {

    /** A decision of a key outside the organisation. */
    public RecordedDecision(String decisionId, long decidedAt, String keyId, String keyName, String keyOwner, String policy,
                            String revision, String model, long estimatedTokens, long maxTokens, boolean stream, DataClass dataClass,
                            boolean unscannable, Map<String, String> labels, Map<String, String> metadata, Map<String, String> requestTags,
                            Map<String, Long> counters, Map<String, Long> countersForCap, Outcome outcome, String kind, List<String> rules,
                            String routedModel, boolean forwarded, long tokens, long costMicros) {
        this(decisionId, decidedAt, keyId, keyName, keyOwner, policy, revision, model, estimatedTokens, maxTokens, stream, dataClass, unscannable,
                labels, metadata, requestTags, counters, countersForCap, outcome, kind, rules, routedModel, forwarded, tokens, costMicros, "", "", "", "");
    }

    /** The decision of an audit event, or null for an event replay cannot repeat (an admin action, schema 1, refused before deciding). */
    public static RecordedDecision parse(JsonNode e) {
        if (!"decision".equals(e.path("type").asText())) return null;
        JsonNode in = e.get("input");
        JsonNode d = e.get("decision");
        if (in == null || d == null || !in.isObject() || !d.isObject()) return null;
        Outcome outcome = switch (d.path("outcome").asText()) {
            case "allow" -> Outcome.ALLOW;
            case "deny" -> Outcome.DENY;
            case "throttle" -> Outcome.THROTTLE;
            default -> null;
        };
        DataClass dataClass = DataClass.parse(in.path("data_class").asText());
        JsonNode at = in.get("decided_at_ms");
        if (outcome == null || dataClass == null || at == null || !at.isIntegralNumber()) return null;
        List<String> rules = new java.util.ArrayList<>();
        d.path("rules").forEach(r -> rules.add(r.asText()));
        JsonNode usage = e.get("usage");
        boolean forwarded = usage != null && usage.isObject() && !"none".equals(usage.path("charged_by").asText());
        return new RecordedDecision(e.path("decision_id").asText(), in.path("decided_at_ms").asLong(), e.path("key_id").asText(),
                e.path("key_name").asText(), e.path("owner").asText(), e.path("policy").asText(), e.path("revision").asText(),
                in.path("model").asText(), in.path("estimated_tokens").asLong(), in.path("max_tokens").asLong(), in.path("stream").asBoolean(),
                dataClass, in.path("unscannable").asBoolean(), strings(in.get("labels")), strings(in.get("metadata")),
                strings(in.get("request_tags")), numbers(in.get("counters")), numbers(in.get("counters_for_cap")), outcome,
                d.path("kind").asText(), List.copyOf(rules), d.hasNonNull("routed_model") ? d.get("routed_model").asText() : null, forwarded,
                forwarded ? e.path("prompt_tokens").asLong() + e.path("completion_tokens").asLong() : 0,
                forwarded ? e.path("cost_micros").asLong() : 0, e.path("team").asText(""), e.path("org").asText(""),
                in.path("end_user").asText(""), e.path("root_key_id").asText(""));
    }

    /**
     * The decision of an event as the gateway is about to append it (the shadow reads live
     * events so), or null for one refused before its policy decided.
     */
    public static RecordedDecision of(keyguard.audit.AuditEvent e) {
        keyguard.audit.DecisionRecord d = e.decided();
        if (d == null) return null;
        DecisionInput in = d.input();
        Map<String, Long> counters = new HashMap<>();
        d.counters().forEachUsed((ref, v) -> counters.put(ref.toString(), v));
        Map<String, Long> forCap = new HashMap<>();
        d.counters().forEachForCap((ref, v) -> forCap.put(ref.toString(), v));
        boolean forwarded = e.usage() != null && !"none".equals(e.chargedBy());
        keyguard.policy.Decision decision = d.decision();
        return new RecordedDecision(e.decisionId(), in.epochMillis(), e.keyId(), e.keyName(), e.owner(), e.policy(), e.revision(), in.model(),
                in.estimatedTokens(), in.maxTokens(), in.stream(), in.classification(), in.unscannable(), in.labels(), in.metadata(),
                in.requestTags(), counters, forCap, decision.outcome(), decision.kind().name().toLowerCase(java.util.Locale.ROOT),
                decision.rules(), decision.routedModel(), forwarded, forwarded ? e.promptTokens() + e.completionTokens() : 0,
                forwarded ? e.costMicros() : 0, e.team(), e.org(), in.endUser(), e.rootKey());
    }

    /** The key whose {@code by key} counters this decision's key counts on: its root for a sub-key, else itself (as the gateway counts). */
    public String counterKey() {
        return rootKeyId.isEmpty() ? keyId : rootKeyId;
    }

    /** The counters exactly as the decision read them (0 for one it did not record): what {@code explain --decision} shows. */
    public keyguard.policy.UsageView recordedUsage() {
        return new keyguard.policy.UsageView() {
            @Override
            public long used(keyguard.policy.CounterRef c) {
                return counters.getOrDefault(c.toString(), 0L);
            }

            @Override
            public long usedForCap(keyguard.policy.CounterRef c, long now) {
                Long v = countersForCap.get(c.toString());
                return v != null ? v : used(c);
            }
        };
    }

    /** The input as the policy reads it, with {@code usage} as the counters it sees. */
    public DecisionInput input(keyguard.policy.UsageView usage) {
        return new DecisionInput().model(model).estimatedTokens(estimatedTokens).maxTokens(maxTokens).stream(stream)
                .classification(dataClass).unscannable(unscannable).metadata(metadata).requestTags(requestTags).keyId(keyId)
                .keyName(keyName).keyOwner(keyOwner).endUser(endUser).labels(labels).epochMillis(decidedAt).usage(usage);
    }

    /**
     * The decision explained from what it recorded, under {@code set} and its evaluator for
     * the key's policy (which must be there): a line saying what was recorded, a line when
     * {@code set} is not the revision that decided, then every check in order as
     * {@code keyguard explain} prints it. {@code keyguard explain --decision} and
     * {@code GET /admin/audit/explain} both answer with this text.
     */
    public String explain(keyguard.policy.PolicySet set, keyguard.policy.PolicyEvaluator evaluator) {
        DecisionInput in = input(recordedUsage());
        keyguard.policy.Decision decision = evaluator.decide(in);
        StringBuilder out = new StringBuilder();
        out.append("recorded: ").append(decisionId).append(" at ").append(java.time.Instant.ofEpochMilli(decidedAt)).append(", key ").append(keyId)
                .append(" (").append(keyguard.audit.UntrustedText.quote(keyName, 128)).append("), policy ").append(policy).append(", revision ")
                .append(revision).append(": ").append(outcome.word()).append(rules.isEmpty() ? "" : " by " + String.join(", ", rules)).append('\n');
        if (!set.revision().equals(revision)) {
            out.append("explained under revision ").append(set.revision()).append(" (not the one that decided)\n");
        }
        out.append(keyguard.compiler.explain.Explainer.explain(set, set.policy(policy), in, decision).render());
        return out.toString();
    }

    private static Map<String, String> strings(JsonNode o) {
        if (o == null || !o.isObject() || o.isEmpty()) return Map.of();
        Map<String, String> m = new LinkedHashMap<>();
        o.properties().forEach(p -> m.put(p.getKey(), p.getValue().asText()));
        return java.util.Collections.unmodifiableMap(m);
    }

    private static Map<String, Long> numbers(JsonNode o) {
        if (o == null || !o.isObject() || o.isEmpty()) return Map.of();
        Map<String, Long> m = new HashMap<>();
        o.properties().forEach(p -> {
            if (p.getValue().isIntegralNumber()) m.put(p.getKey(), p.getValue().asLong()); // anything else: as if not recorded
        });
        return m;
    }
}
