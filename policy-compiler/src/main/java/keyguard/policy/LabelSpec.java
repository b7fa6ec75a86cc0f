package keyguard.policy;

import java.util.List;
import keyguard.lang.source.Span;

/**
 * A key label that rules may read ({@code key.env}), declared by the operator:
 * {@code label env { set_by operator  values ["prod", "staging"] }}. A rule may only read a
 * declared label, so the admin API knows which labels a decision trusts and who may set
 * them: only admins when {@code setByTeam} is false, team admins too when it is true.
 *
 * @param values the values a key may carry; empty for any
 */
public record LabelSpec(String name, boolean setByTeam, List<String> values, Span span) {
    public LabelSpec {
        values = List.copyOf(values);
    }

    /** Whether a key may carry {@code value} under this label. */
    public boolean accepts(String value) {
        return values.isEmpty() || values.contains(value);
    }
}
