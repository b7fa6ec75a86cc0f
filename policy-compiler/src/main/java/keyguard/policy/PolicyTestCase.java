package keyguard.policy;

import java.time.Instant;
import java.util.Map;
import keyguard.lang.source.Span;

/**
 * One inline {@code test "…" { … }}: the input it builds and what it expects. Tests are
 * part of the compiled set for {@code keyguard test}; the gateway never runs them.
 *
 * @param expectRule a rule id that must be among the decision's rules, or null
 * @param expectTags tags the decision must carry (a subset check), empty when none given
 */
public record PolicyTestCase(String suite, String name, String policy, Map<String, Object> request,
                             Map<String, String> keyFields, Map<String, String> labels,
                             Map<CounterRef, Long> usage, Instant at, Outcome expectOutcome, String expectRule,
                             Map<String, String> expectTags, Span span) {

    /**
     * A fresh input for this test, under {@code policy}: a request without {@code max_tokens}
     * gets the policy's {@code default max_tokens} (0 when it sets none), as at the gateway.
     */
    @SuppressWarnings("unchecked")
    public DecisionInput input(Policy policy) {
        DecisionInput in = new DecisionInput()
                .model((String) request.getOrDefault("model", ""))
                .estimatedTokens((Long) request.getOrDefault("estimated_tokens", 0L))
                .maxTokens((Long) request.getOrDefault("max_tokens", policy.defaultMaxTokens()))
                .stream((Boolean) request.getOrDefault("stream", false))
                .classification((DataClass) request.getOrDefault("classification", DataClass.PUBLIC))
                .unscannable((Boolean) request.getOrDefault("unscannable", false))
                .requestTags((Map<String, String>) request.getOrDefault("tags", Map.of()))
                .metadata((Map<String, String>) request.getOrDefault("metadata", Map.of()))
                .keyId(keyFields.getOrDefault("id", "test-key"))
                .keyName(keyFields.getOrDefault("name", "test"))
                .keyOwner(keyFields.getOrDefault("owner", ""))
                .labels(labels)
                .at(at);
        return in.usage(ref -> usage.getOrDefault(ref, 0L));
    }
}
