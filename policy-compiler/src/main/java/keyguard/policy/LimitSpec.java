package keyguard.policy;

import keyguard.lang.source.Span;

/** {@code limit requests|tokens N per W by S} or {@code limit concurrent N by S}. */
public record LimitSpec(String id, CounterRef counter, long amount, String origin, Span span) implements Limit {

    public static String idOf(CounterRef counter) { return "limit." + counter; }
}
