package keyguard.policy;

/** Read access to counter values as the policy sees them at decision time. */
@FunctionalInterface
public interface UsageView {
    UsageView NONE = ref -> 0;

    long used(CounterRef counter);
}
