package keyguard.policy;

import java.util.Locale;

/** Whose counter: each key's own, or one shared by every key bound to the policy. */
public enum Scope {
    KEY, POLICY;

    public String word() { return name().toLowerCase(Locale.ROOT); }

    public static Scope parse(String word) {
        for (Scope s : values()) if (s.word().equals(word)) return s;
        return null;
    }
}
