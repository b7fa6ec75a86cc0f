package keyguard.compiler.emit;

import java.util.LinkedHashMap;
import java.util.Map;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;

/** Compiles every policy of a set to its hidden class. */
public final class CompiledPolicies {
    private CompiledPolicies() {}

    public static Map<String, PolicyEvaluator> compile(PolicySet set) {
        Map<String, PolicyEvaluator> out = new LinkedHashMap<>();
        set.policies().forEach((name, policy) -> out.put(name, PolicyEmitter.compile(set, policy)));
        return java.util.Collections.unmodifiableMap(out);
    }
}
