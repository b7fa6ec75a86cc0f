package keyguard.policy;

/** Read access to counter values as the policy sees them at decision time. */
@FunctionalInterface
public interface UsageView {
    UsageView NONE = ref -> 0;

    long used(CounterRef counter);

    /**
     * The counter as of {@code nowMillis}, the decision's instant: what both backends call.
     * Live counters override it, so a decision reads the clock once, not once per counter.
     */
    default long used(CounterRef counter, long nowMillis) {
        return used(counter);
    }

    /**
     * What a refusal before admission may rely on: never more than the counter really holds.
     * A decision refuses on a limit or a hard budget only when even this leaves no room; the
     * admission that follows is exact. Equal to {@link #used(CounterRef, long)} where the
     * counter lives in this process; in a fleet, where other nodes' usage is known only as
     * last reported, this node's own part.
     */
    default long usedForCap(CounterRef counter, long nowMillis) {
        return used(counter, nowMillis);
    }
}
