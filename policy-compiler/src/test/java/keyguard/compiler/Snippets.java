package keyguard.compiler;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;

/** Compiles a policy snippet together with a small fixed model file, for language tests. */
public final class Snippets {
    private Snippets() {}

    public static final String MODELS = """
            provider sim { builtin simulator }
            provider up { base_url "http://127.0.0.1:9/v1" credential env("UP_API_KEY") }
            model "small"  { provider sim price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
            model "big"    { provider up  price input 10 usd per 1m tokens, output 30 usd per 1m tokens max_class confidential unscannable deny }
            model "onprem" { provider up  price input 0.5 usd per 1m tokens, output 0.5 usd per 1m tokens max_class restricted hosting self }
            label env { set_by operator }
            label team { set_by team }
            """;

    public static PolicySet compile(String source) {
        PolicyCompiler.Result r = PolicyCompiler.compile(List.of(
                new PolicyCompiler.Source("models.kgp", MODELS.getBytes(StandardCharsets.UTF_8)),
                new PolicyCompiler.Source("input.kgp", source.getBytes(StandardCharsets.UTF_8))));
        if (!r.ok()) throw new AssertionError("snippet does not compile:\n" + r.diagnostics().render());
        return r.set();
    }

    public static PolicyEvaluator evaluator(Backend backend, String source, String policy) {
        Map<String, PolicyEvaluator> all = backend.evaluators(compile(source));
        return all.get(policy);
    }
}
