package keyguard.compiler.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.Snippets;
import keyguard.compiler.interp.InterpretedPolicy;
import keyguard.lang.diag.Diagnostic;
import keyguard.policy.DataClass;
import keyguard.policy.DecisionInput;
import keyguard.policy.ForbidRule;
import keyguard.policy.ModelInfo;
import keyguard.policy.Policy;
import keyguard.policy.PolicySet;
import org.junit.jupiter.api.Test;

/**
 * The analysis flags what it must and nothing else: near misses of every diagnostic stay
 * quiet, and what it reports holds for every request of a large random sample (a rule
 * reported as never firing never fires; a rule reported as never deciding alone never
 * fires without the rules it names).
 */
class PolicyAnalysisTest {

    static List<Diagnostic> analysis(String source) {
        PolicyCompiler.Result r = PolicyCompiler.analyze(PolicyCompiler.compile(List.of(
                new PolicyCompiler.Source("models.kgp", Snippets.MODELS.getBytes(StandardCharsets.UTF_8)),
                new PolicyCompiler.Source("input.kgp", source.getBytes(StandardCharsets.UTF_8)))));
        assertTrue(r.ok(), r.diagnostics().render());
        return r.diagnostics().sorted().stream().filter(d -> d.code().id().startsWith("KG09")).toList();
    }

    static void quiet(String source) {
        List<Diagnostic> found = analysis(source);
        assertEquals(List.of(), found.stream().map(Diagnostic::toString).toList(), "near miss flagged:\n" + source);
    }

    @Test
    void nearMissesOfRulesThatCannotFireAreNotFlagged() {
        // Each in a policy of its own, so that no rule covers another.
        for (String rule : List.of(
                "forbid when { time.hour < 6 || time.hour > 20 }",
                "forbid when { time.hour <= 6 && time.hour >= 6 }",
                "forbid when { key.name == \"a\" || key.name == \"b\" }",
                "forbid when { startsWith(key.name, \"svc-\") && key.name != \"svc-x\" }",
                "forbid when { request.tags[\"project\"] != \"\" && request.tags[\"project\"] != \"alpha\" }",
                "forbid when { request.max_tokens > model.context }",
                "forbid when { request.max_tokens > 4000 } unless { request.max_tokens > 8000 }",
                "forbid when { key.labels[\"team\"] == \"a\" } unless { key.env == \"prod\" }",
                "forbid when { model.max_class == restricted && request.classification >= confidential }",
                "forbid when { time.weekday in sat..sun && usage.requests.key.1h > 10 }",
                "forbid when { startsWith(key.name, \"a\") == true }",
                "forbid when { contains(key.owner, \"x\") != (request.max_tokens > 10) }",
                "forbid when { request.stream in [true] && matches(key.name, \"^svc-[0-9]+$\") }")) {
            quiet("policy p {\n  models allow [\"small\", \"big\", \"onprem\"]\n  @id(\"r\") " + rule + "\n}\n");
        }
    }

    @Test
    void rulesThatOnlyOverlapAreNotFlaggedAsRedundant() {
        quiet("""
                policy p {
                  models allow ["small", "big", "onprem"]
                  @id("big") forbid when { request.model == "big" && request.stream }
                  @id("night") forbid when { time.hour < 6 && request.stream }
                  @id("mornings") forbid when { time.hour < 12 && request.classification >= confidential }
                }
                """);
    }

    @Test
    void limitsThatCanBindAreNotFlagged() {
        quiet("""
                policy p {
                  models allow ["small"]
                  default max_tokens 500
                  limit requests 10 per 1m by key
                  limit requests 500 per 1h by key
                  limit requests 1000 per 1m by policy
                  limit tokens 501 per 1m by key
                  budget 20 usd per day hard by key
                  budget 50 usd per day hard by policy
                  budget 80 usd per week soft by key
                }
                policy q {
                  models allow ["small", "onprem"]
                  data max internal on violation reroute "onprem"
                  limit requests 10 per 1m by key
                  limit tokens 1000000 per 1h by key
                }
                """);
    }

    @Test
    void aByPolicyLimitBoundsEachKeyButAByKeyLimitDoesNotBoundThePolicy() {
        List<Diagnostic> found = analysis("""
                policy p {
                  models allow ["small"]
                  limit requests 5 per 1m by policy
                  limit requests 10 per 1m by key
                  limit requests 3 per 1s by key
                  limit requests 100 per 1h by policy
                }
                """);
        // 5 a minute for the whole policy bounds each key's minute; 3 a second for one key does not bound the policy's hour.
        assertEquals(List.of("`limit.requests.key.1m` (10) can never bind in policy `p`"), found.stream().map(Diagnostic::message).toList());
    }

    @Test
    void aRuleCallingAFunctionThatMayFailDecidesAloneUnderOnErrorDeny() {
        String js = "function flagged(owner) { return owner.startsWith(\"x\"); }\n";
        String policy = """
                function js flagged(owner: string) -> bool = file("functions/flagged.js")

                policy p {
                  models allow ["small", "big"]
                  %s
                  @id("big") forbid when { request.model == "big" && request.stream }
                  @id("flagged-big") forbid when { flagged(key.owner) && request.model == "big" && request.stream }
                }
                """;
        // `on error deny` (the default): if `flagged` fails, the second rule fires for any model, alone.
        assertEquals(List.of(), withFunction(policy.formatted(""), js));
        // `on error allow`: a failure makes it not fire; when it fires, `big` does too.
        assertEquals(List.of("KG0902"), withFunction(policy.formatted("on error allow"), js));
    }

    static List<String> withFunction(String policy, String js) {
        PolicyCompiler.Result r = PolicyCompiler.analyze(PolicyCompiler.compile(List.of(
                new PolicyCompiler.Source("pol/models.kgp", Snippets.MODELS.getBytes(StandardCharsets.UTF_8)),
                new PolicyCompiler.Source("pol/input.kgp", policy.getBytes(StandardCharsets.UTF_8)),
                new PolicyCompiler.Source("pol/functions/flagged.js", js.getBytes(StandardCharsets.UTF_8)))));
        assertTrue(r.ok(), r.diagnostics().render());
        return r.diagnostics().sorted().stream().map(d -> d.code().id()).filter(c -> c.startsWith("KG09")).toList();
    }

    // ---------------------------------------------------------------- soundness on random requests

    static final String RULES = """
            policy p {
              models allow ["small", "big", "onprem"]
              @id("contradiction") forbid when { time.hour < 6 && request.stream && time.hour > 20 }
              @id("no-such-provider") forbid when { model.provider == "openai" }
              @id("unless-wins") forbid when { request.max_tokens > 4000 } unless { request.max_tokens >= 1000 }
              @id("two-names") forbid when { key.name == "a" && lower(key.name) == "b" }
              @id("ceiling") forbid when { model.max_class > restricted || request.classification > restricted }
              @id("morning-streams") forbid when { request.stream && time.hour < 12 }
              @id("afternoon-streams") forbid when { request.stream && time.hour >= 12 }
              @id("big-streams") forbid when { request.stream && request.model == "big" }
              @id("self-hosted") forbid when { model.hosting == "self" && request.max_tokens > 100 }
              @id("onprem-long") forbid when { request.model == "onprem" && request.max_tokens >= 200 }
            }
            """;

    @Test
    void whatIsReportedHoldsForEveryRequestOfARandomSample() {
        List<Diagnostic> found = analysis(RULES);
        List<String> never = found.stream().filter(d -> d.code().id().equals("KG0901"))
                .map(d -> d.message().substring(6, d.message().indexOf('`', 6))).sorted().toList();
        assertEquals(List.of("ceiling", "contradiction", "no-such-provider", "two-names", "unless-wins"), never, found.toString());
        List<String> alone = found.stream().filter(d -> d.code().id().equals("KG0902")).map(Diagnostic::message).toList();
        assertEquals(List.of("rule `big-streams` never decides alone: rules `afternoon-streams` (input.kgp:9), `morning-streams` (input.kgp:8) together forbid every request it forbids",
                "rule `onprem-long` never decides alone: rule `self-hosted` (input.kgp:11) forbids every request it forbids"), alone);

        PolicySet set = Snippets.compile(RULES);
        Policy p = set.policy("p");
        SplittableRandom random = new SplittableRandom(7);
        List<ModelInfo> models = List.copyOf(set.models().values());
        String[] names = {"a", "b", "A", "svc-1", ""};
        long[] outputs = {0, 1, 99, 100, 101, 199, 200, 999, 1000, 4000, 4001, 100_000};
        for (int i = 0; i < 50_000; i++) {
            ModelInfo m = models.get(random.nextInt(models.size()));
            DecisionInput in = new DecisionInput().model(m.name()).maxTokens(outputs[random.nextInt(outputs.length)])
                    .stream(random.nextBoolean()).classification(DataClass.values()[random.nextInt(DataClass.values().length)])
                    .keyName(names[random.nextInt(names.length)])
                    .at(Instant.ofEpochSecond(1_790_000_000L + random.nextLong(14 * 86_400L)));
            java.util.Set<String> fired = new java.util.HashSet<>();
            for (ForbidRule r : p.forbids()) if (InterpretedPolicy.fires(r, in, m, p.zone())) fired.add(r.id());
            for (String n : never) assertFalse(fired.contains(n), n + " fired for " + m.name());
            if (fired.contains("big-streams")) assertTrue(fired.contains("morning-streams") || fired.contains("afternoon-streams"));
            if (fired.contains("onprem-long")) assertTrue(fired.contains("self-hosted"));
        }
    }

    @Test
    void theExamplePolicyRepositoryIsFreeOfFindings() {
        PolicyCompiler.Result r = PolicyCompiler.analyze(PolicyCompiler.compileDirectory(keyguard.compiler.Repo.root().resolve("policies")));
        assertTrue(r.ok(), r.diagnostics().render());
        assertEquals(List.of(), r.diagnostics().sorted().stream().filter(d -> d.code().id().startsWith("KG09")).map(Diagnostic::toString).toList());
    }
}
