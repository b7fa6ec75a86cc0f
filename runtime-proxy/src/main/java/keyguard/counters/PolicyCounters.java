package keyguard.counters;

import keyguard.policy.CounterRef;
import keyguard.policy.Policy;

/** The counters a policy's requests update, in the order the gateway reserves them (for tools that simulate them: {@code keyguard replay}). */
public final class PolicyCounters {
    private PolicyCounters() {}

    /** Rate limits, concurrency, budgets, then counters only the policy's conditions read. */
    public static CounterRef[] of(Policy policy) {
        return Plan.of(policy, Calendar::new).refs.clone();
    }
}
