package keyguard.policy;

import java.util.List;

/**
 * One request tag a policy accepts ({@code allow tags { ... }}): its name, whether a request
 * must carry it, and the values it takes (empty: any value within the gateway's bounds).
 */
public record TagRule(String name, boolean required, List<String> values) {
    public TagRule {
        values = List.copyOf(values);
    }

    public boolean accepts(String value) {
        return values.isEmpty() || values.contains(value);
    }
}
