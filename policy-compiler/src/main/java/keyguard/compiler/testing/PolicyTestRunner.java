package keyguard.compiler.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import keyguard.compiler.Backend;
import keyguard.policy.Decision;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;
import keyguard.policy.PolicyTestCase;

/** Runs a set's inline tests on one backend. */
public final class PolicyTestRunner {
    private PolicyTestRunner() {}

    /** One test's result; {@code failure} is empty when it passed. */
    public record Outcome(PolicyTestCase test, Decision decision, String failure, long nanos) {
        public boolean passed() { return failure.isEmpty(); }
    }

    public static List<Outcome> run(PolicySet set, Backend backend) {
        return run(set, backend.evaluators(set));
    }

    /** Runs the tests on these evaluators of {@code set}: a loader tests the very classes it will serve. */
    public static List<Outcome> run(PolicySet set, Map<String, PolicyEvaluator> evaluators) {
        List<Outcome> out = new ArrayList<>();
        for (PolicyTestCase t : set.tests()) {
            long start = System.nanoTime();
            PolicyEvaluator evaluator = evaluators.get(t.policy());
            Decision d = evaluator.decide(t.input(evaluator.policy()));
            out.add(new Outcome(t, d, verdict(t, d), System.nanoTime() - start));
        }
        return out;
    }

    /** Why a decision does not meet the test's expectation, or "" when it does. */
    public static String verdict(PolicyTestCase t, Decision d) {
        List<String> problems = new ArrayList<>();
        if (d.outcome() != t.expectOutcome()) {
            problems.add("expected " + t.expectOutcome().word() + ", got " + d.outcome().word());
        }
        if (t.expectRule() != null && !d.rules().contains(t.expectRule())) {
            problems.add("expected by \"" + t.expectRule() + "\", got " + (d.rules().isEmpty() ? "no rule" : "by \"" + String.join("\", \"", d.rules()) + "\""));
        }
        t.expectTags().forEach((k, v) -> {
            String actual = d.tags().get(k);
            if (!v.equals(actual)) {
                problems.add("expected tag " + k + "=\"" + v + "\", got " + (actual == null ? "no such tag" : k + "=\"" + actual + "\""));
            }
        });
        return String.join("; ", problems);
    }
}
