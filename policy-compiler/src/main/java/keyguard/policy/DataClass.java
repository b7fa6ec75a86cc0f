package keyguard.policy;

import java.util.Locale;

/** Data sensitivity, ordered from lowest to highest. */
public enum DataClass {
    PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED;

    public String word() { return name().toLowerCase(Locale.ROOT); }

    public static DataClass parse(String word) {
        for (DataClass c : values()) if (c.word().equals(word)) return c;
        return null;
    }

    public static DataClass min(DataClass a, DataClass b) { return a.ordinal() <= b.ordinal() ? a : b; }
}
