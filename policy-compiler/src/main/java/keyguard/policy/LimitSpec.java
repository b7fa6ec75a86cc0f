package keyguard.policy;

import keyguard.lang.source.Span;

/**
 * {@code limit requests|tokens N per W by S} or {@code limit concurrent N by S}, optionally
 * {@code fail open}: in a fleet whose Redis cannot be reached, a fail-open limit keeps
 * admitting on what this node knows (and reconciles when Redis is back) instead of refusing
 * once its slice is spent.
 */
public record LimitSpec(String id, CounterRef counter, long amount, String origin, Span span, boolean failOpen) implements Limit {

    public LimitSpec(String id, CounterRef counter, long amount, String origin, Span span) {
        this(id, counter, amount, origin, span, false);
    }

    public static String idOf(CounterRef counter) { return "limit." + counter; }
}
