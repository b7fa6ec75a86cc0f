package keyguard.counters;

import keyguard.policy.CounterRef;
import keyguard.policy.Policy;

/** The counters a policy's requests update, in the order the gateway reserves them (for tools that simulate them: {@code keyguard replay}). */
public final class PolicyCounters {
    private PolicyCounters() {}

    /** Rate limits, concurrency, budgets, then counters only the policy's conditions read. */
    public static CounterRef[] of(Policy policy) {
        return Plan.of(policy, null, Calendar::new).refs.clone();
    }

    /** A counter's name in the store, as the gateway names it (team and unit null where the key has none; user the end user's place). */
    public static String name(CounterRef ref, String keyId, String policy, String team, String unit, String user) {
        return Plan.name(ref, keyId, policy, team, unit, user);
    }
}
