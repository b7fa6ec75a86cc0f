package keyguard.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import keyguard.compiler.fmt.Formatter;
import keyguard.compiler.testing.PolicyTestRunner;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.DecisionKind;
import keyguard.policy.PolicySet;
import keyguard.policy.TagRule;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/** {@code allow tags { ... }}: what a request's tags must be, decided alike by both backends, tested inline, formatted. */
class RequestTagsLanguageTest {
    static final String POLICIES = """
            template team(name: string) {
              tags { team: name }
              models allow ["plain"]
              allow tags { project required in ["alpha", "beta"], "cost-centre", env optional in ["dev", "prod"] }
            }
            policy search = team(name: "search") {
              @id("no-prod-beta")
              forbid when { request.tags["project"] == "beta" && request.tags["env"] == "prod" }
            }
            policy loose = team(name: "loose") {
              override allow tags { project }
            }
            policy untagged { models allow ["plain"] @id("never-x") forbid when { request.tags["x"] == "1" } }
            tests search {
              test "a tagged request passes" { request { model: "plain", tags.project: "alpha", "tags.cost-centre": "4711" } expect allow }
              test "the project is required" { request { model: "plain" } expect deny by "tags.required" }
              test "gamma is no project" { request { model: "plain", tags.project: "gamma" } expect deny by "tags.allow" }
              test "an undeclared tag is refused" { request { model: "plain", tags.project: "alpha", tags.owner: "me" } expect deny by "tags.allow" }
              test "conditions read the tags" { request { model: "plain", tags.project: "beta", tags.env: "prod" } expect deny by "no-prod-beta" }
            }
            """;

    static PolicyCompiler.Result compile(String policies) {
        return PolicyCompiler.compile(List.of(
                new PolicyCompiler.Source("models.kgp", PricingLanguageTest.MODELS.getBytes(StandardCharsets.UTF_8)),
                new PolicyCompiler.Source("p.kgp", policies.getBytes(StandardCharsets.UTF_8))));
    }

    static PolicySet set() {
        PolicyCompiler.Result r = compile(POLICIES);
        assertTrue(r.ok(), r.diagnostics().render());
        return r.set();
    }

    @Test
    void thePolicyKeepsItsTagsInOrderAndATemplatesAreInheritedOrOverridden() {
        PolicySet s = set();
        assertEquals(List.of("project", "cost-centre", "env"), List.copyOf(s.policy("search").requestTags().keySet()));
        assertEquals(new TagRule("project", true, List.of("alpha", "beta")), s.policy("search").requestTags().get("project"));
        assertEquals(new TagRule("cost-centre", false, List.of()), s.policy("search").requestTags().get("cost-centre"));
        assertEquals(Map.of("project", new TagRule("project", false, List.of())), s.policy("loose").requestTags());
        assertTrue(s.policy("untagged").requestTags().isEmpty());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void bothBackendsDecideTheTagsAlikeAndTheInlineTestsPass(Backend b) {
        PolicySet s = set();
        for (PolicyTestRunner.Outcome o : PolicyTestRunner.run(s, b)) assertTrue(o.passed(), o.test().name() + ": " + o.failure());
        var search = b.evaluators(s).get("search");
        Decision missing = search.decide(new DecisionInput().model("plain"));
        assertEquals(DecisionKind.REQUEST_TAGS, missing.kind());
        assertEquals(List.of("tags.required"), missing.rules());
        assertTrue(missing.reason().contains("`project` is required"), missing.reason());
        Decision wrong = search.decide(new DecisionInput().model("plain").requestTags(Map.of("project", "gamma")));
        assertEquals("request tag `project` takes [alpha, beta], not `gamma`", wrong.reason());
        assertEquals(DecisionKind.ALLOWED, search.decide(new DecisionInput().model("plain").requestTags(Map.of("project", "beta"))).kind());
        assertEquals(DecisionKind.UNKNOWN_MODEL, search.decide(new DecisionInput().model("nope")).kind(), "an unknown model first");
        // A policy that declares no tags does not judge them; its conditions may still read them.
        var untagged = b.evaluators(s).get("untagged");
        assertEquals(DecisionKind.ALLOWED, untagged.decide(new DecisionInput().model("plain").requestTags(Map.of("y", "2"))).kind());
        assertEquals(DecisionKind.FORBIDDEN, untagged.decide(new DecisionInput().model("plain").requestTags(Map.of("x", "1"))).kind());
    }

    @Test
    void anOverrideThatAcceptsMoreIsWorthASecondLook() {
        PolicyCompiler.Result r = compile("""
                template t() { models allow ["plain"] allow tags { project required in ["alpha", "beta"] } }
                policy stricter = t() { override allow tags { project required in ["alpha"] } }
                policy optional = t() { override allow tags { project in ["alpha", "beta"] } }
                policy more = t() { override allow tags { project required in ["alpha", "beta"], env } }
                """);
        assertTrue(r.ok(), r.diagnostics().render());
        String warnings = r.diagnostics().render();
        assertTrue(warnings.contains("override accepts more request tags than the template"), warnings);
        assertEquals(2, warnings.split("KG0314", -1).length - 1, "an optional project and a new tag widen; a shorter list does not: " + warnings);
    }

    @Test
    void quotedNamesStayQuoted() {
        String src = "policy p { models allow [\"plain\"] allow tags { \"in\", \"env\" required } }";
        String formatted = Formatter.format(new keyguard.lang.source.SourceFile("p.kgp", src)).text();
        assertTrue(formatted.contains("allow tags { \"in\", \"env\" required }"), formatted);
        assertTrue(compile(formatted).ok(), compile(formatted).diagnostics().render());
    }

    @Test
    void explainSaysWhichTagDecided() {
        PolicySet s = set();
        DecisionInput in = new DecisionInput().model("plain").requestTags(Map.of("project", "gamma"));
        Decision d = Backend.INTERPRETER.evaluators(s).get("search").decide(in);
        String text = keyguard.compiler.explain.Explainer.explain(s, s.policy("search"), in, d).render();
        assertTrue(text.contains("tags") && text.contains("request tag `project` takes [alpha, beta], not `gamma`"), text);
        assertFalse(text.contains("forbid"), "the steps after the tags are not shown: " + text);
    }

    @Test
    void formattingKeepsTheStatement() {
        String formatted = Formatter.format(new keyguard.lang.source.SourceFile("p.kgp", POLICIES)).text();
        assertTrue(formatted.contains("allow tags { project required in [\"alpha\", \"beta\"], \"cost-centre\", env optional in [\"dev\", \"prod\"] }"), formatted);
        assertTrue(formatted.contains("override allow tags { project }"), formatted);
        assertEquals(formatted, Formatter.format(new keyguard.lang.source.SourceFile("p.kgp", formatted)).text(), "formatting is stable");
        assertTrue(compile(formatted).ok());
    }

    @Test
    void whatATagDeclarationMayNotSay() {
        for (String[] c : new String[][] {
                {"policy p { models allow [\"plain\"] allow tags { \"cost centre\" } }", "invalid request tag name"},
                {"policy p { models allow [\"plain\"] allow tags { project mandatory } }", "unknown word `mandatory`"},
                {"policy p { models allow [\"plain\"] allow tags { project in [\"a,b\"] } }", "invalid value"},
                {"policy p { models allow [\"plain\"] allow tags { project in [\"\"] } }", "invalid value"},
                {"policy p { models allow [\"plain\"] allow tags { project, project } }", "declared twice"},
                {"policy p { models allow [\"plain\"] tags { team: \"x\" } allow tags { team } }", "one of the policy's own audit tags"},
                {"policy p { models allow [\"plain\"] allow tags { a } allow tags { b } }", "defined twice"},
                {"template t() { models allow [\"plain\"] allow tags { a } } policy p = t() { allow tags { b } }", "redefines an inherited setting"},
                {"policy p { models allow [\"plain\"] allow tags { } }", "declares no tag"},
                {"policy p { models allow [\"plain\"] allow tags { project in [\"a\"] required } }", "a request tag named `required`"},
                {"policy p { models allow [\"plain\"] allow tags { project in [\"a\u202eb\"] } }", "invalid value"},
                {"policy p { models allow [\"plain\"] allow tags { project in [\" a\"] } }", "invalid value"},
                {"policy a { models allow [\"plain\"] tags { team: \"x\" } } policy b { models allow [\"plain\"] allow tags { team } }",
                        "request tag `team` of policy `b` is an audit tag of policy `a`"}}) {
            PolicyCompiler.Result r = compile(c[0]);
            assertFalse(r.ok(), c[0]);
            assertTrue(r.diagnostics().render().contains(c[1]), c[0] + "\n" + r.diagnostics().render());
        }
        assertNull(keyguard.policy.Decisions.requestTags(set().policy("untagged"), new DecisionInput().requestTags(Map.of("z", "9"))));
    }
}
