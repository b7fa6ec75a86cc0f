package keyguard.identity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import keyguard.policy.Durations;

/**
 * Self-service: which identity-provider groups may issue keys to their members (or to the
 * group) for which policies, for how long at most, and how many at once. Operator
 * configuration ({@code serve --self-service FILE}), never a team's policy file:
 *
 * <pre>{@code
 * {"grants": [
 *   {"group": "search-team", "policies": ["search-dev"], "max_lifetime": "30d", "max_keys": 5}
 * ]}
 * }</pre>
 *
 * <p>Invariants: a grant names one group (compared without case, as SCIM compares
 * {@code displayName}), at least one policy, a lifetime from one hour to 366 days (default
 * 90 days) and a count from 1 to 1000 (default 5); a caller in several groups gets, per
 * policy, the most generous of their grants. Unknown fields are errors, so that a misspelt
 * limit is not silently no limit.
 */
public final class SelfService {
    public static final SelfService NONE = new SelfService(List.of(), false);
    public static final int MAX_GRANTS = 1000;
    static final long MAX_LIFETIME_SECONDS = 366L * 86_400;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One group's right to issue keys for some policies. */
    public record Grant(String group, Set<String> policies, long maxLifetimeSeconds, int maxKeys) {}

    /** What a caller may self-issue for one policy: the longest lifetime and the largest count among their groups' grants. */
    public record Allowance(String policy, long maxLifetimeSeconds, int maxKeys) {}

    private final List<Grant> grants;
    private final boolean enabled;

    private SelfService(List<Grant> grants, boolean enabled) {
        this.grants = List.copyOf(grants);
        this.enabled = enabled;
    }

    /** Whether self-service is configured at all (then callers without a role may sign in as members). */
    public boolean enabled() {
        return enabled;
    }

    /** Reads the operator's file; IllegalArgumentException says what is wrong and where. */
    public static SelfService read(Path file) {
        try {
            return parse(Files.readString(file), file.toString());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the self-service file " + file + ": " + e.getMessage());
        }
    }

    public static SelfService parse(String text, String where) {
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(where + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException(where + ": expected an object with `grants`");
        only(root, where, "grants");
        JsonNode list = root.path("grants");
        if (!list.isArray()) throw new IllegalArgumentException(where + ": `grants` must be a list");
        if (list.size() > MAX_GRANTS) throw new IllegalArgumentException(where + ": at most " + MAX_GRANTS + " grants");
        List<Grant> grants = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode g = list.get(i);
            String at = where + ": grants[" + i + "]";
            if (!g.isObject()) throw new IllegalArgumentException(at + " must be an object");
            only(g, at, "group", "policies", "max_lifetime", "max_keys");
            String group = g.path("group").asText("");
            if (!g.path("group").isTextual() || group.isBlank() || group.length() > 256) throw new IllegalArgumentException(at + ": `group` must be a group's name");
            if (!g.path("policies").isArray() || g.path("policies").isEmpty()) throw new IllegalArgumentException(at + ": `policies` must list at least one policy");
            Set<String> policies = new LinkedHashSet<>();
            for (JsonNode p : g.path("policies")) {
                if (!p.isTextual() || !p.asText().matches("[A-Za-z_][A-Za-z0-9_-]{0,127}")) throw new IllegalArgumentException(at + ": `policies` holds policy names, not " + p);
                policies.add(p.asText());
            }
            long lifetime = 90L * 86_400;
            if (g.has("max_lifetime")) {
                String v = g.path("max_lifetime").asText("");
                lifetime = g.path("max_lifetime").isTextual() ? Durations.parseSeconds(v) : -1;
                if (lifetime < 3600 || lifetime > MAX_LIFETIME_SECONDS) throw new IllegalArgumentException(at + ": `max_lifetime` is a duration from `1h` to `366d`, such as `30d`");
            }
            int maxKeys = 5;
            if (g.has("max_keys")) {
                maxKeys = g.path("max_keys").canConvertToInt() && g.path("max_keys").isIntegralNumber() ? g.path("max_keys").intValue() : -1;
                if (maxKeys < 1 || maxKeys > 1000) throw new IllegalArgumentException(at + ": `max_keys` is a whole number from 1 to 1000");
            }
            grants.add(new Grant(group, Set.copyOf(policies), lifetime, maxKeys));
        }
        return new SelfService(grants, true);
    }

    private static void only(JsonNode o, String where, String... fields) {
        Set<String> known = Set.of(fields);
        for (String f : (Iterable<String>) o::fieldNames) {
            if (!known.contains(f)) throw new IllegalArgumentException(where + ": unknown field `" + f + "` (known: " + String.join(", ", fields) + ")");
        }
    }

    /** Per policy, what members of {@code groups} (any case) may self-issue; empty when none of them has a grant. */
    public Map<String, Allowance> allowances(Collection<String> groups) {
        Set<String> lower = new java.util.HashSet<>();
        for (String g : groups) lower.add(Names.fold(g));
        Map<String, Allowance> out = new TreeMap<>();
        for (Grant g : grants) {
            if (!lower.contains(Names.fold(g.group()))) continue;
            for (String p : g.policies()) {
                out.merge(p, new Allowance(p, g.maxLifetimeSeconds(), g.maxKeys()),
                        (a, b) -> new Allowance(p, Math.max(a.maxLifetimeSeconds(), b.maxLifetimeSeconds()), Math.max(a.maxKeys(), b.maxKeys())));
            }
        }
        return out;
    }

    /** The policies the grants name (to warn about those the serving revision lacks). */
    public Set<String> policies() {
        Set<String> out = new java.util.TreeSet<>();
        grants.forEach(g -> out.addAll(g.policies()));
        return out;
    }
}
