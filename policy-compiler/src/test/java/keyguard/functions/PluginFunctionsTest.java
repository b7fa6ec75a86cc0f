package keyguard.functions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import keyguard.compiler.Backend;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.Snippets;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.DecisionKind;
import keyguard.policy.ForbidRule;
import keyguard.policy.PolicySet;
import keyguard.policy.ir.Ir;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Java plugin functions: a jar built here, loaded from a folder, typed by the checker, called by both backends. */
class PluginFunctionsTest {
    @TempDir
    static Path plugins;
    static FunctionLibrary library;

    @BeforeAll
    static void buildThePlugin() {
        PluginJars.acme(plugins);
        library = FunctionLibrary.load(plugins);
    }

    static PolicyCompiler.Result compile(String policy) {
        return PolicyCompiler.compile(List.of(
                new PolicyCompiler.Source("models.kgp", Snippets.MODELS.getBytes(StandardCharsets.UTF_8)),
                new PolicyCompiler.Source("input.kgp", policy.getBytes(StandardCharsets.UTF_8))), "test", library);
    }

    static PolicySet set(String policy) {
        PolicyCompiler.Result r = compile(policy);
        assertTrue(r.ok(), () -> r.diagnostics().render());
        return r.set();
    }

    static DecisionInput req(Map<String, String> tags) {
        return new DecisionInput().model("small").requestTags(tags).keyName("search-bot").at(Instant.parse("2026-06-08T10:00:00Z"));
    }

    static final String POLICY = """
            policy p {
              models allow ["small"]
              @id("cost-center") forbid when { !cost_center_valid(request.tags["cost_center"]) }
              @id("tier") forbid when { team_tier(request.tags["team"]) >= 3 }
            }
            """;

    @Test
    void theFolderYieldsEveryFunctionWithItsTypesFromApply() {
        assertEquals(List.of("cost_center_valid", "team_tier", "flaky"), List.copyOf(library.functions().keySet()));
        assertEquals("cost_center_valid(string) -> bool", library.get("cost_center_valid").signature());
        assertEquals("team_tier(string) -> int", library.get("team_tier").signature());
        assertEquals("plugin acme-functions.jar", library.get("team_tier").origin());
        assertFalse(library.get("flaky").pure());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void pluginFunctionsDecideForbidRules(Backend b) {
        var p = b.evaluators(set(POLICY)).get("p");
        assertEquals(DecisionKind.ALLOWED, p.decide(req(Map.of("cost_center", "CC-1234", "team", "search"))).kind());
        Decision noCc = p.decide(req(Map.of("team", "search")));
        assertEquals(List.of("cost-center"), noCc.rules());
        assertEquals(List.of("tier"), p.decide(req(Map.of("cost_center", "CC-0001", "team", "interns"))).rules());
    }

    @Test
    void aCallWithWrongArgumentsIsADiagnosticAtCompileTime() {
        String out = compile(POLICY.replace("team_tier(request.tags[\"team\"])", "team_tier(request.max_tokens)")).diagnostics().render();
        assertTrue(out.contains("error[KG0403]: argument 1 of `team_tier` must be a string, not an int"), out);
        assertTrue(out.contains("team_tier(string) -> int"), out);
        assertTrue(out.contains("defined by plugin acme-functions.jar"), out);
        String arity = compile(POLICY.replace("team_tier(request.tags[\"team\"])", "team_tier()")).diagnostics().render();
        assertTrue(arity.contains("`team_tier` takes 1 argument, not 0"), arity);
        String unknown = compile(POLICY.replace("team_tier(", "team_teir(")).diagnostics().render();
        assertTrue(unknown.contains("did you mean `team_tier`?"), unknown);
    }

    @Test
    void aPureCallOfConstantsIsComputedWhenThePolicyCompiles() {
        PolicySet s = set("""
                policy p {
                  models allow ["small"]
                  @id("r") forbid when { team_tier("interns") == 3 && request.stream }
                }
                """);
        ForbidRule r = s.policy("p").forbids().getFirst();
        assertInstanceOf(Ir.Read.class, r.when(), "team_tier(\"interns\") == 3 folded to true, leaving request.stream: " + r.when());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aPluginThatThrowsGivesTheDeclaredDecisionAndANote(Backend b) {
        PolicySet s = set("""
                policy p {
                  models allow ["small"]
                  @id("lookup") forbid when { flaky(key.name) || flaky(request.tags["x"]) }
                }
                policy lenient {
                  models allow ["small"]
                  on error allow
                  @id("lookup") forbid when { flaky(request.tags["x"]) }
                }
                """);
        DecisionInput in = req(Map.of("x", "boom"));
        Decision d = b.evaluators(s).get("p").decide(in);
        assertEquals(DecisionKind.FORBIDDEN, d.kind());
        assertEquals("rule `lookup` could not be evaluated: function `flaky` threw IllegalStateException: directory service unreachable"
                + " (the policy says `on error deny`)", d.reason());
        assertEquals(FunctionFailure.Kind.THREW, in.functionError("lookup").kind());

        DecisionInput in2 = req(Map.of("x", "boom"));
        assertEquals(DecisionKind.ALLOWED, b.evaluators(s).get("lenient").decide(in2).kind());
        assertFalse(in2.functionError("lookup").denied());
        assertEquals(DecisionKind.ALLOWED, b.evaluators(s).get("p").decide(req(Map.of("x", "fine"))).kind());
    }

    @Test
    void aBadPluginIsRefusedAtLoadWithTheJarAndTheReason(@TempDir Path dir) {
        PluginJars.build(dir, "bad.jar", Map.of("bad.TwoApplies", """
                package bad;
                public final class TwoApplies implements keyguard.functions.PolicyFunction {
                    public String name() { return "two"; }
                    public boolean apply(String a) { return true; }
                    public boolean apply(long a) { return true; }
                }
                """), List.of("bad.TwoApplies"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FunctionLibrary.load(dir));
        assertTrue(e.getMessage().contains("plugin bad.jar: bad.TwoApplies must have exactly one public `apply` method, it has 2"), e.getMessage());
    }

    @Test
    void aPluginCannotTakeTheNameOfABuiltInOrTakeUnsupportedTypes(@TempDir Path dir) {
        PluginJars.build(dir, "clash.jar", Map.of("bad.Lower", """
                package bad;
                public final class Lower implements keyguard.functions.PolicyFunction {
                    public String name() { return "lower"; }
                    public String apply(String a) { return a; }
                }
                """), List.of("bad.Lower"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> FunctionLibrary.load(dir)).getMessage()
                .contains("uses the name of the built-in function `lower`"));
        Path other = dir.resolve("other");
        PluginJars.build(other, "types.jar", Map.of("bad.Doubles", """
                package bad;
                public final class Doubles implements keyguard.functions.PolicyFunction {
                    public String name() { return "half"; }
                    public double apply(double a) { return a / 2; }
                }
                """), List.of("bad.Doubles"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> FunctionLibrary.load(other)).getMessage()
                .contains("returns double; functions return String, long or boolean"));
    }
}
