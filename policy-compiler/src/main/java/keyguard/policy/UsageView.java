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
}
