package keyguard.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import keyguard.compiler.testing.PolicyTestRunner;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

class ExamplePoliciesTest {

    @Test
    void examplePolicyRepositoryCompilesWithoutErrors() {
        PolicyCompiler.Result r = PolicyCompiler.compileDirectory(Repo.policies());
        assertTrue(r.ok(), r.diagnostics().render());
        assertTrue(r.set().policies().keySet().containsAll(List.of("demo", "search", "support", "research")));
        assertTrue(r.set().models().keySet().containsAll(List.of("sim-small", "sim-large")));
        // The only warning is the deliberate looser override in search.kgp.
        List<String> warnings = r.diagnostics().sorted().stream().filter(d -> !d.isError()).map(d -> d.code().id()).toList();
        assertEquals(List.of("KG0314"), warnings);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void everyInlineTestOfTheExamplesPasses(Backend backend) {
        PolicyCompiler.Result r = PolicyCompiler.compileDirectory(Repo.policies());
        List<PolicyTestRunner.Outcome> outcomes = PolicyTestRunner.run(r.set(), backend);
        assertTrue(outcomes.size() >= 20, "examples should carry their tests, found " + outcomes.size());
        for (PolicyTestRunner.Outcome o : outcomes) {
            assertTrue(o.passed(), o.test().suite() + " › " + o.test().name() + ": " + o.failure() + " (" + o.decision() + ")");
        }
    }

    @Test
    void demoPolicyAllowsSimSmallOnly() {
        PolicyCompiler.Result r = PolicyCompiler.compileDirectory(Repo.policies());
        assertEquals(List.of("sim-small"), r.set().policy("demo").allowedModels());
    }
}
