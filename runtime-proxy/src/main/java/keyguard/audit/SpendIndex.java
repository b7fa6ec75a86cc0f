package keyguard.audit;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Spend and requests per UTC day, key, policy, model and tag set, kept up to date as audit
 * events are written (and rebuilt from the log at start), so "who spent what" is a lookup.
 */
public final class SpendIndex {
    public static final Set<String> DIMENSIONS = Set.of("day", "key", "policy", "model", "tag");

    private record Cell(String day, String key, String policy, String model, String tags) {}

    private final Map<Cell, LongAdder[]> cells = new ConcurrentHashMap<>();

    /** The writer's path: the event itself, no JSON round trip. */
    void add(AuditEvent e) {
        String day = java.time.LocalDate.ofEpochDay(Math.floorDiv(e.epochMillis(), 86_400_000L)).toString();
        StringBuilder tags = new StringBuilder();
        e.tags().forEach((k, v) -> tags.append(tags.isEmpty() ? "" : ",").append(k).append('=').append(v));
        Cell c = new Cell(day, e.keyId(), e.policy(), e.routedModel() == null ? e.model() : e.routedModel(), // as replay reads it
                tags.toString());
        LongAdder[] a = cells.computeIfAbsent(c, k -> new LongAdder[] {new LongAdder(), new LongAdder()});
        a[0].add(e.costMicros());
        a[1].increment();
    }

    /** Replay's path: an event read back from the log. */
    void add(JsonNode event) {
        if (!"decision".equals(event.path("type").asText("decision"))) return;
        String day = event.path("time").asText("").length() >= 10 ? event.path("time").asText().substring(0, 10) : "";
        StringBuilder tags = new StringBuilder();
        event.path("tags").properties().forEach(e -> tags.append(tags.isEmpty() ? "" : ",").append(e.getKey()).append('=').append(e.getValue().asText()));
        Cell c = new Cell(day, event.path("key_id").asText(), event.path("policy").asText(), event.path("routed_model").asText(event.path("model").asText()),
                tags.toString());
        LongAdder[] a = cells.computeIfAbsent(c, k -> new LongAdder[] {new LongAdder(), new LongAdder()});
        a[0].add(event.path("cost_micros").asLong());
        a[1].increment();
    }

    /** One row per group: the group's values, spend in micro-dollars, requests. */
    public record Row(Map<String, String> group, long costMicros, long requests) {}

    /** Sums over days {@code from..to} (inclusive, UTC), grouped by the given dimensions. */
    public List<Row> query(List<String> groupBy, LocalDate from, LocalDate to) {
        Map<List<String>, long[]> sums = new TreeMap<>((a, b) -> String.join("\u0000", a).compareTo(String.join("\u0000", b)));
        cells.forEach((c, a) -> {
            LocalDate d = c.day().isEmpty() ? null : LocalDate.parse(c.day());
            if (d == null || d.isBefore(from) || d.isAfter(to)) return;
            List<String> key = new ArrayList<>();
            for (String g : groupBy) {
                key.add(switch (g) {
                    case "day" -> c.day();
                    case "key" -> c.key();
                    case "policy" -> c.policy();
                    case "model" -> c.model();
                    default -> c.tags();
                });
            }
            long[] s = sums.computeIfAbsent(key, k -> new long[2]);
            s[0] += a[0].sum();
            s[1] += a[1].sum();
        });
        List<Row> rows = new ArrayList<>();
        sums.forEach((k, s) -> {
            Map<String, String> group = new java.util.LinkedHashMap<>();
            for (int i = 0; i < groupBy.size(); i++) group.put(groupBy.get(i), k.get(i));
            rows.add(new Row(group, s[0], s[1]));
        });
        return rows;
    }
}
