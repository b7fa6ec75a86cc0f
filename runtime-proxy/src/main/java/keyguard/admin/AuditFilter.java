package keyguard.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Which audit events one {@code GET /admin/audit} answers with: those matching every
 * filter given ({@code key}, {@code policy}, {@code outcome}, {@code decision},
 * {@code type}, each an exact field value), and, for a team admin, only decisions of the
 * team's policies (never admin events, which may name other teams' keys). A filter is at
 * most 128 characters; an event that does not parse matches nothing.
 */
final class AuditFilter implements Predicate<String> {
    /** The query parameters that filter, and the event field each one tests. */
    static final Map<String, String> FIELDS = Map.of("key", "key_id", "policy", "policy", "outcome", "outcome",
            "decision", "decision_id", "type", "type");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, String> wanted;
    /** The policies whose decisions a team admin may read; null for someone who reads everything. */
    private final Set<String> scope;

    private AuditFilter(Map<String, String> wanted, Set<String> scope) {
        this.wanted = wanted;
        this.scope = scope;
    }

    /** The filter of a query, for {@code who}; throws IllegalArgumentException for a filter value too long. */
    static AuditFilter of(Map<String, String> query, AdminPrincipal who) {
        Map<String, String> wanted = new LinkedHashMap<>();
        FIELDS.forEach((param, field) -> {
            String v = query.get(param);
            if (v == null || v.isEmpty()) return;
            if (v.length() > 128) throw new IllegalArgumentException("`" + param + "` is at most 128 characters");
            wanted.put(field, v);
        });
        return new AuditFilter(Map.copyOf(wanted), who.readsEverything() ? null : Set.copyOf(who.teamPolicies()));
    }

    /** Whether a line can be a decision of the scope's policies (events are compact JSON; policy names need no escaping). */
    private boolean inScope(String line) {
        if (!line.contains("\"type\":\"decision\"")) return false;
        for (String p : scope) if (line.contains("\"policy\":\"" + p + "\"")) return true;
        return false;
    }

    /** Whether every event passes (then reading is not bounded by a scan limit). */
    boolean everything() {
        return wanted.isEmpty() && scope == null;
    }

    @Override
    public boolean test(String line) {
        if (everything()) return true;
        for (String v : wanted.values()) if (!line.contains(v)) return false; // cheap first: most lines fail here
        if (scope != null && !inScope(line)) return false;
        JsonNode e;
        try {
            e = JSON.readTree(line);
        } catch (IOException ex) {
            return false;
        }
        if (e == null || !e.isObject()) return false;
        for (Map.Entry<String, String> w : wanted.entrySet()) {
            if (!w.getValue().equals(e.path(w.getKey()).asText(null))) return false;
        }
        return scope == null || ("decision".equals(e.path("type").asText()) && scope.contains(e.path("policy").asText()));
    }
}
