package keyguard.compiler;

import java.util.LinkedHashMap;
import java.util.Map;
import keyguard.compiler.emit.CompiledPolicies;
import keyguard.compiler.interp.InterpretedPolicy;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;

/** The two ways to run a policy: the reference interpreter and the compiled hidden classes. */
public enum Backend {
    INTERPRETER, COMPILED;

    public Map<String, PolicyEvaluator> evaluators(PolicySet set) {
        if (this == COMPILED) return CompiledPolicies.compile(set);
        Map<String, PolicyEvaluator> out = new LinkedHashMap<>();
        set.policies().forEach((name, p) -> out.put(name, new InterpretedPolicy(set, p)));
        return java.util.Collections.unmodifiableMap(out);
    }
}
