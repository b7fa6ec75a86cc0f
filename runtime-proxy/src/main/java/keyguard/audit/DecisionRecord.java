package keyguard.audit;

import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.util.Locale;
import java.util.Map;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.UsageReadings;

/**
 * What a decision was made on, and what the policy answered, as the audit event keeps it
 * (fields {@code input} and {@code decision}, docs/spec/audit-event.md) so that
 * {@code keyguard replay} can decide the same request again under another revision.
 *
 * <p>The input is everything the policy reads except prompt text: model, token estimate and
 * output cap, stream, data class, unscannable content, the caller's metadata entries that the
 * key's policy reads (no others: see {@link #metadataRead}), the key's trusted labels, request tags, the
 * decision's instant, and the counter values the decision read ({@link UsageReadings}, every
 * counter of the key's policy). The decision is the evaluator's own answer: a request the
 * policy allowed may still be refused later (at admission, by the upstream), which the
 * event's {@code outcome} says.
 */
public record DecisionRecord(DecisionInput input, UsageReadings counters, Decision decision, keyguard.policy.Policy policy) {

    /** The version of the event schema that carries these fields. */
    public static final int SCHEMA = 2;

    /** Per policy, the metadata keys its rules or reasons read ({@code request.metadata["k"]}); computed once per compiled policy. */
    private static final java.util.Map<keyguard.policy.Policy, java.util.Set<String>> METADATA_READ =
            java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    /**
     * The caller's metadata as the event keeps it: only the entries the key's policy reads.
     * The rest is the caller's own and may hold anything (an e-mail address, a token), which
     * the audit log must not keep; the classifier scans it but the event would store it as is.
     */
    private Map<String, String> metadataRead() {
        Map<String, String> all = input.metadata();
        if (all.isEmpty() || policy == null) return Map.of();
        java.util.Set<String> keys = METADATA_READ.computeIfAbsent(policy, DecisionRecord::metadataKeys);
        if (keys.isEmpty()) return Map.of();
        Map<String, String> kept = new java.util.TreeMap<>();
        for (String k : keys) {
            String v = all.get(k);
            if (v != null) kept.put(k, v);
        }
        return kept;
    }

    private static java.util.Set<String> metadataKeys(keyguard.policy.Policy p) {
        java.util.Set<String> keys = new java.util.TreeSet<>();
        for (keyguard.policy.ForbidRule r : p.forbids()) {
            collect(r.when(), keys);
            if (r.unless() != null) collect(r.unless(), keys);
            for (Object part : r.reason().parts()) if (part instanceof keyguard.policy.ir.Ir ir) collect(ir, keys);
        }
        return java.util.Set.copyOf(keys);
    }

    private static void collect(keyguard.policy.ir.Ir ir, java.util.Set<String> keys) {
        keyguard.policy.ir.Ir.forEach(ir, n -> {
            if (n instanceof keyguard.policy.ir.Ir.Lookup l && l.map() instanceof keyguard.policy.ir.Ir.Read m
                    && m.field() == keyguard.policy.ir.Field.REQUEST_METADATA && l.key() instanceof keyguard.policy.ir.Ir.Const c) {
                keys.add((String) c.value());
            }
        });
    }

    void writeJson(JsonGenerator g) throws IOException {
        DecisionInput in = input;
        g.writeObjectFieldStart("input");
        g.writeNumberField("decided_at_ms", in.epochMillis());
        g.writeStringField("model", in.model());
        g.writeNumberField("estimated_tokens", in.estimatedTokens());
        g.writeNumberField("max_tokens", in.maxTokens());
        g.writeBooleanField("stream", in.stream());
        g.writeStringField("data_class", in.classification().word());
        g.writeBooleanField("unscannable", in.unscannable());
        strings(g, "labels", in.labels());
        strings(g, "metadata", metadataRead());
        strings(g, "request_tags", in.requestTags());
        if (!in.endUser().isEmpty()) g.writeStringField("end_user", in.endUser());
        g.writeObjectFieldStart("counters");
        boolean forCap = false;
        for (int i = 0; i < counters.size(); i++) {
            g.writeNumberField(name(counters.counter(i)), counters.value(i));
            forCap |= counters.forCapIfDifferent(i) != Long.MIN_VALUE;
        }
        g.writeEndObject();
        if (forCap) {
            g.writeObjectFieldStart("counters_for_cap");
            for (int i = 0; i < counters.size(); i++) {
                long v = counters.forCapIfDifferent(i);
                if (v != Long.MIN_VALUE) g.writeNumberField(name(counters.counter(i)), v);
            }
            g.writeEndObject();
        }
        g.writeEndObject();

        Decision d = decision;
        g.writeObjectFieldStart("decision");
        g.writeStringField("outcome", d.outcome().word());
        g.writeStringField("kind", d.kind().name().toLowerCase(Locale.ROOT));
        g.writeArrayFieldStart("rules");
        for (String r : d.rules()) g.writeString(r);
        g.writeEndArray();
        if (d.limit() != null) g.writeStringField("limit", d.limit().id());
        if (d.routedModel() != null) g.writeStringField("routed_model", d.routedModel());
        g.writeStringField("data_action", d.dataAction().word());
        g.writeEndObject();
    }

    private static void strings(JsonGenerator g, String name, Map<String, String> m) throws IOException {
        g.writeObjectFieldStart(name);
        for (Map.Entry<String, String> e : m.entrySet()) g.writeStringField(e.getKey(), e.getValue());
        g.writeEndObject();
    }

    /** Counter names, made once each ({@code CounterRef.toString} builds a string every time). */
    private static final java.util.concurrent.ConcurrentHashMap<keyguard.policy.CounterRef, String> NAMES = new java.util.concurrent.ConcurrentHashMap<>();

    private static String name(keyguard.policy.CounterRef ref) {
        String n = NAMES.get(ref);
        if (n == null) {
            n = ref.toString();
            if (NAMES.size() < 10_000) NAMES.put(ref, n); // the counters of loaded policies; bounded whatever is loaded over time
        }
        return n;
    }
}
