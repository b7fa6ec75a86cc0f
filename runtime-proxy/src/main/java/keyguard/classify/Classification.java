package keyguard.classify;

import java.util.LinkedHashMap;
import java.util.Map;
import keyguard.policy.DataClass;

/**
 * What a request's content holds: its data class (the highest of anything found, or
 * {@code public}), how many values each detector found — types and counts only, never the
 * values — and the parts the gateway could not scan, by kind ({@code image}, {@code pdf},
 * {@code audio}, {@code file}, …).
 */
public record Classification(DataClass dataClass, Map<String, Integer> hits, Map<String, Integer> unscannable) {
    public static final Classification NOTHING = new Classification(DataClass.PUBLIC, Map.of(), Map.of());

    public Classification(DataClass dataClass, Map<String, Integer> hits) {
        this(dataClass, hits, Map.of());
    }

    /** Whether the request carries content the gateway could not scan. */
    public boolean hasUnscannable() { return !unscannable.isEmpty(); }

    /** {@code email:2,card_number:1}, for logs and error details; empty when nothing was found. */
    public String summary() {
        return summary(hits);
    }

    /** {@code image:2,pdf:1}: the parts that could not be scanned. */
    public String unscannableSummary() {
        return summary(unscannable);
    }

    private static String summary(Map<String, Integer> m) {
        StringBuilder sb = new StringBuilder();
        m.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : ",").append(k).append(':').append(v));
        return sb.toString();
    }

    /** {@code email (2), card_number (1)}, for people. */
    public String describe() {
        return describe(hits);
    }

    /** {@code image (2), pdf (1)}, for people. */
    public String describeUnscannable() {
        return describe(unscannable);
    }

    private static String describe(Map<String, Integer> m) {
        StringBuilder sb = new StringBuilder();
        m.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : ", ").append(k).append(" (").append(v).append(')'));
        return sb.toString();
    }

    /** Raised to at least {@code declared} (a client may raise the class, never lower it). */
    public Classification atLeast(DataClass declared) {
        return declared.compareTo(dataClass) > 0 ? new Classification(declared, hits, unscannable) : this;
    }

    static final class Builder implements Sink {
        private DataClass max = DataClass.PUBLIC;
        private Map<String, Integer> hits;
        private Map<String, Integer> unscannable;

        @Override
        public void found(Detector d, int start, int end) {
            if (hits == null) hits = new LinkedHashMap<>();
            hits.merge(d.name(), 1, Integer::sum);
            if (d.dataClass().compareTo(max) > 0) max = d.dataClass();
        }

        void unscannable(String kind) {
            if (unscannable == null) unscannable = new LinkedHashMap<>();
            unscannable.merge(kind, 1, Integer::sum);
        }

        Classification build() {
            if (hits == null && unscannable == null) return NOTHING;
            return new Classification(max, hits == null ? Map.of() : java.util.Collections.unmodifiableMap(hits),
                    unscannable == null ? Map.of() : java.util.Collections.unmodifiableMap(unscannable));
        }
    }
}
