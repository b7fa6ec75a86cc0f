package keyguard.policy;

import java.util.Locale;

/**
 * Whose counter: each key's own, one shared by every key bound to the policy, or one shared
 * by every key of the key's team or org unit (the operator's {@code team} and {@code org}
 * declarations, {@link OrgChart}) under any policy, or one per end user a key's requests are
 * made for ({@link EndUsers}).
 */
public enum Scope {
    KEY, POLICY, TEAM, ORG,
    /** One counter per end user of each key ({@link EndUsers}). */
    USER;

    public String word() { return name().toLowerCase(Locale.ROOT); }

    public static Scope parse(String word) {
        for (Scope s : values()) if (s.word().equals(word)) return s;
        return null;
    }

    /** Whether the counter is the key's team's or org unit's, so that a key outside the organisation cannot use it. */
    public boolean organisational() { return this == TEAM || this == ORG; }
}
