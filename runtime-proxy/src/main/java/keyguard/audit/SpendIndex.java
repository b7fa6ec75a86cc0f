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
    public static final Set<String> DIMENSIONS = Set.of("day", "key", "root_key", "policy", "model", "tag", "owner", "team", "org");
    /** {@code tag:NAME} groups by one tag's value (the policy's audit tags and the request's accepted tags); empty for none. */
    public static final String TAG_PREFIX = "tag:";

    /** Whether {@code dimension} is one spend groups by: one of {@link #DIMENSIONS}, or {@code tag:NAME}. */
    public static boolean dimension(String dimension) {
        return DIMENSIONS.contains(dimension) || dimension.matches("tag:[A-Za-z0-9_.-]{1,64}");
    }
    /**
     * The model of a request that was refused before it was routed: its requested model is
     * the caller's string, and must not become a group of its own (one per made-up name).
     */
    public static final String NOT_ROUTED = "(not routed)";
    /** The longest span a spend query covers. */
    public static final int MAX_DAYS = 400;

    /**
     * One group of the finest grain: a UTC day, key, policy, routed model, tag set
     * ({@code k=v,k=v}) and the key's owner when it decided ({@code user:…}, {@code group:…},
     * free text, or empty), team and org unit (empty for none), and the key a sub-key
     * descends from (the key itself for a key an admin made).
     */
    public record Cell(String day, String key, String policy, String model, String tags, String owner, String team, String org, String rootKey) {
        /** The cell of an audit event read back from the log; null when it is no decision or has no time. */
        public static Cell of(JsonNode event) {
            if (!"decision".equals(event.path("type").asText("decision"))) return null;
            String time = event.path("time").asText("");
            if (time.length() < 10) return null;
            StringBuilder tags = new StringBuilder();
            event.path("tags").properties().forEach(e -> appendTag(tags, e.getKey(), e.getValue().asText()));
            return new Cell(time.substring(0, 10), event.path("key_id").asText(), event.path("policy").asText(),
                    event.path("routed_model").asText(NOT_ROUTED), tags.toString(), event.path("owner").asText(""),
                    event.path("team").asText(""), event.path("org").asText(""), event.path("root_key_id").asText(event.path("key_id").asText()));
        }

        String value(String dimension) {
            return switch (dimension) {
                case "day" -> day;
                case "key" -> key;
                case "policy" -> policy;
                case "model" -> model;
                case "owner" -> owner;
                case "team" -> team;
                case "org" -> org;
                case "root_key" -> rootKey;
                case "tag" -> tags;
                default -> tag(dimension.substring(TAG_PREFIX.length()));
            };
        }

        /** The value of one tag in this cell's tag set, or empty when it has none. */
        String tag(String name) {
            for (String pair : tags.split(",")) {
                int eq = pair.indexOf('=');
                if (eq > 0 && unescape(pair.substring(0, eq)).equals(name)) return unescape(pair.substring(eq + 1));
            }
            return "";
        }
    }

    /**
     * Appends {@code name=value} to a tag set ({@code k=v,k=v}), with {@code %}, {@code ,} and
     * {@code =} in either written {@code %25}, {@code %2C}, {@code %3D}: a policy's audit tag
     * value may hold them, and must not read as two tags.
     */
    static void appendTag(StringBuilder tags, String name, String value) {
        tags.append(tags.isEmpty() ? "" : ",").append(escape(name)).append('=').append(escape(value));
    }

    private static String escape(String s) {
        if (s.indexOf('%') < 0 && s.indexOf(',') < 0 && s.indexOf('=') < 0) return s;
        return s.replace("%", "%25").replace(",", "%2C").replace("=", "%3D");
    }

    private static String unescape(String s) {
        if (s.indexOf('%') < 0) return s;
        return s.replace("%2C", ",").replace("%3D", "=").replace("%25", "%");
    }

    private final Map<Cell, LongAdder[]> cells = new ConcurrentHashMap<>();

    /** The writer's path: the event itself, no JSON round trip. */
    void add(AuditEvent e) {
        String day = java.time.LocalDate.ofEpochDay(Math.floorDiv(e.epochMillis(), 86_400_000L)).toString();
        StringBuilder tags = new StringBuilder();
        e.tags().forEach((k, v) -> appendTag(tags, k, v));
        Cell c = new Cell(day, e.keyId(), e.policy(), e.routedModel() == null ? NOT_ROUTED : e.routedModel(), // as replay reads it
                tags.toString(), e.owner() == null ? "" : e.owner(), e.team(), e.org(), e.rootKey().isEmpty() ? e.keyId() : e.rootKey());
        LongAdder[] a = cells.computeIfAbsent(c, k -> new LongAdder[] {new LongAdder(), new LongAdder()});
        a[0].add(e.costMicros());
        a[1].increment();
    }

    /** Replay's path: an event read back from the log. */
    void add(JsonNode event) {
        Cell c = Cell.of(event);
        if (c == null) return;
        LongAdder[] a = cells.computeIfAbsent(c, k -> new LongAdder[] {new LongAdder(), new LongAdder()});
        a[0].add(event.path("cost_micros").asLong());
        a[1].increment();
    }

    /** One row per group: the group's values, spend in micro-dollars, requests. */
    public record Row(Map<String, String> group, long costMicros, long requests) {}

    /** Sums over days {@code from..to} (inclusive, UTC), grouped by the given dimensions. */
    public List<Row> query(List<String> groupBy, LocalDate from, LocalDate to) {
        Map<Cell, long[]> inRange = new java.util.HashMap<>();
        cells.forEach((c, a) -> {
            LocalDate d = c.day().isEmpty() ? null : LocalDate.parse(c.day());
            if (d == null || d.isBefore(from) || d.isAfter(to)) return;
            inRange.put(c, new long[] {a[0].sum(), a[1].sum()});
        });
        return group(inRange, groupBy);
    }

    /** Cells' sums ({cost micros, requests}) grouped by the given dimensions, in the groups' order. */
    public static List<Row> group(Map<Cell, long[]> cells, List<String> groupBy) {
        List<Row> all = new ArrayList<>(cells.size());
        cells.forEach((c, a) -> {
            Map<String, String> g = new java.util.HashMap<>();
            for (String d : groupBy) g.put(d, c.value(d));
            all.add(new Row(g, a[0], a[1]));
        });
        return regroup(all, groupBy, g -> true);
    }

    /**
     * Rows grouped by more dimensions than asked, kept where {@code keep} accepts their
     * group, then summed by {@code groupBy} (in the groups' order): how a filter or a team's
     * scope applies to any spend source (this index, or the fleet's).
     */
    public static List<Row> regroup(List<Row> rows, List<String> groupBy, java.util.function.Predicate<Map<String, String>> keep) {
        Map<List<String>, long[]> sums = new TreeMap<>((a, b) -> String.join("\u0000", a).compareTo(String.join("\u0000", b)));
        for (Row r : rows) {
            if (!keep.test(r.group())) continue;
            List<String> key = new ArrayList<>();
            for (String g : groupBy) key.add(r.group().get(g));
            long[] s = sums.computeIfAbsent(key, k -> new long[2]);
            s[0] += r.costMicros();
            s[1] += r.requests();
        }
        List<Row> out = new ArrayList<>();
        sums.forEach((k, s) -> {
            Map<String, String> group = new java.util.LinkedHashMap<>();
            for (int i = 0; i < groupBy.size(); i++) group.put(groupBy.get(i), k.get(i));
            out.add(new Row(group, s[0], s[1]));
        });
        return out;
    }
}
