package keyguard.policy;

import java.util.Locale;

/** What a counter counts. {@code SPEND} is in micro-dollars. */
public enum Metric {
    REQUESTS, TOKENS, CONCURRENT, SPEND;

    public String word() { return name().toLowerCase(Locale.ROOT); }

    public static Metric parse(String word) {
        for (Metric m : values()) if (m.word().equals(word)) return m;
        return null;
    }
}
