package keyguard.classify;

import java.util.LinkedHashMap;
import java.util.Map;
import keyguard.policy.DataClass;

/**
 * What a request's text contains: its data class (the highest of anything found, or
 * {@code public}) and how many values each detector found — types and counts only, never
 * the values.
 */
public record Classification(DataClass dataClass, Map<String, Integer> hits) {
    public static final Classification NOTHING = new Classification(DataClass.PUBLIC, Map.of());

    /** {@code email:2,card_number:1}, for logs and error details; empty when nothing was found. */
    public String summary() {
        StringBuilder sb = new StringBuilder();
        hits.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : ",").append(k).append(':').append(v));
        return sb.toString();
    }

    /** {@code email (2), card_number (1)}, for people. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        hits.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : ", ").append(k).append(" (").append(v).append(')'));
        return sb.toString();
    }

    /** Raised to at least {@code declared} (a client may raise the class, never lower it). */
    public Classification atLeast(DataClass declared) {
        return declared.compareTo(dataClass) > 0 ? new Classification(declared, hits) : this;
    }

    static final class Builder implements Sink {
        private DataClass max = DataClass.PUBLIC;
        private Map<String, Integer> hits;

        @Override
        public void found(Detector d, int start, int end) {
            if (hits == null) hits = new LinkedHashMap<>();
            hits.merge(d.name(), 1, Integer::sum);
            if (d.dataClass().compareTo(max) > 0) max = d.dataClass();
        }

        Classification build() {
            return hits == null ? NOTHING : new Classification(max, java.util.Collections.unmodifiableMap(hits));
        }
    }
}
