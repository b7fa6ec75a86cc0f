package keyguard.policy;

/**
 * Names one counter a policy reads: metric, scope and window. The window is canonical
 * ({@code 60s} and {@code 1m} are the same counter, written {@code 1m}); for
 * {@link Metric#SPEND} it is a calendar period word, for {@link Metric#CONCURRENT} empty.
 * The text form {@code tokens.policy.1d} is what tests, {@code usage.*} paths and error
 * bodies use.
 */
public record CounterRef(Metric metric, Scope scope, String window, long windowSeconds) {

    public static CounterRef rate(Metric metric, Scope scope, long windowSeconds) {
        return new CounterRef(metric, scope, Durations.format(windowSeconds), windowSeconds);
    }

    public static CounterRef concurrent(Scope scope) {
        return new CounterRef(Metric.CONCURRENT, scope, "", 0);
    }

    public static CounterRef spend(Scope scope, Period period) {
        return new CounterRef(Metric.SPEND, scope, period.word(), 0);
    }

    /** Parses {@code tokens.policy.1d}, {@code concurrent.key}, {@code spend.policy.day}; null if malformed. */
    public static CounterRef parse(String text) {
        String[] parts = text.split("\\.", -1);
        if (parts.length < 2 || parts.length > 3) return null;
        Metric metric = Metric.parse(parts[0]);
        Scope scope = Scope.parse(parts[1]);
        if (metric == null || scope == null) return null;
        if (metric == Metric.CONCURRENT) return parts.length == 2 ? concurrent(scope) : null;
        if (parts.length != 3) return null;
        if (metric == Metric.SPEND) {
            Period p = Period.parse(parts[2]);
            return p == null ? null : spend(scope, p);
        }
        long seconds = Durations.parseSeconds(parts[2]);
        return seconds <= 0 ? null : rate(metric, scope, seconds);
    }

    @Override
    public String toString() {
        return window.isEmpty() ? metric.word() + "." + scope.word() : metric.word() + "." + scope.word() + "." + window;
    }
}
