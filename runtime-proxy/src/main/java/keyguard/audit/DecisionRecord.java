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
 * output cap, stream, data class, unscannable content, the caller's metadata (bounded by the
 * parser: 16 pairs of 64 and 512 characters), the key's trusted labels, request tags, the
 * decision's instant, and the counter values the decision read ({@link UsageReadings}, every
 * counter of the key's policy). The decision is the evaluator's own answer: a request the
 * policy allowed may still be refused later (at admission, by the upstream), which the
 * event's {@code outcome} says.
 */
public record DecisionRecord(DecisionInput input, UsageReadings counters, Decision decision) {

    /** The version of the event schema that carries these fields. */
    public static final int SCHEMA = 2;

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
        strings(g, "metadata", in.metadata());
        strings(g, "request_tags", in.requestTags());
        g.writeObjectFieldStart("counters");
        counters.forEachUsed((ref, v) -> number(g, ref.toString(), v));
        g.writeEndObject();
        boolean[] any = {false};
        counters.forEachForCap((ref, v) -> any[0] = true);
        if (any[0]) {
            g.writeObjectFieldStart("counters_for_cap");
            counters.forEachForCap((ref, v) -> number(g, ref.toString(), v));
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

    private static void number(JsonGenerator g, String name, long v) {
        try {
            g.writeNumberField(name, v);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
