package keyguard.policy;

import keyguard.lang.source.Span;

/**
 * {@code budget X usd per day|week|month hard|soft [warn at P%] by S}. The cap is in
 * micro-dollars; {@code warnPercent} is 0 when no warning threshold is set.
 */
public record BudgetSpec(String id, CounterRef counter, long amount, boolean hard, int warnPercent, String origin, Span span)
        implements Limit {

    /** The origin of a sub-key's carve-out: the gateway's budget in place of its root's {@code by key} budgets, not a policy's. */
    public static final String CARVE_OUT_ORIGIN = "carve-out";

    public static String idOf(Scope scope, Period period) { return "budget." + scope.word() + "." + period.word(); }

    /** Micro-dollars at which the warning fires, or Long.MAX_VALUE when none is set. */
    public long warnAt() {
        return warnPercent == 0 ? Long.MAX_VALUE : percentOf(amount, warnPercent);
    }

    /** {@code percent}% of {@code micros}, rounded down, exact (no overflow for any amount up to 1000%). */
    public static long percentOf(long micros, int percent) {
        return micros / 100 * percent + micros % 100 * percent / 100;
    }
}
