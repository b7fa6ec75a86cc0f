package keyguard.policy;

import java.util.Locale;

/** Calendar periods of budgets, in the policy's time zone. */
public enum Period {
    DAY, WEEK, MONTH;

    public String word() { return name().toLowerCase(Locale.ROOT); }

    public static Period parse(String word) {
        for (Period p : values()) if (p.word().equals(word)) return p;
        return null;
    }
}
