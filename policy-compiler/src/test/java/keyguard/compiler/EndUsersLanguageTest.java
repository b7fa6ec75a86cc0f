package keyguard.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import keyguard.compiler.fmt.Formatter;
import keyguard.compiler.testing.PolicyTestRunner;
import keyguard.lang.diag.Diagnostic;
import keyguard.policy.EndUsers;
import keyguard.policy.PolicySet;
import org.junit.jupiter.api.Test;

/** {@code by user} and {@code end_users { ... }}: checked, inherited, tested inline on both backends, formatted. */
class EndUsersLanguageTest {
    static final String POLICIES = """
            template bot_default() {
              models allow ["plain"]
              limit requests 20 per 1m by user
              budget 2 usd per day hard by user
              end_users { from ["user", "header"] max 5_000 }
            }
            policy support_bot = bot_default() {
              override end_users { from ["header"] overflow refuse }
            }
            policy plain_bot { models allow ["plain"] limit concurrent 2 by user }
            tests support_bot {
              test "one end user at its limit is throttled" { request { model: "plain" } usage { requests.user.1m: 20 } expect throttle by "limit.requests.user.1m" }
              test "below it is served" { request { model: "plain" } usage { requests.user.1m: 19 } expect allow }
              test "its day's budget" { request { model: "plain", estimated_tokens: 10, max_tokens: 10 } usage { spend.user.day: 2 } expect throttle by "budget.user.day" }
            }
            """;

    static PolicyCompiler.Result compile(String policies) {
        return PolicyCompiler.analyze(PolicyCompiler.compile(List.of(
                new PolicyCompiler.Source("models.kgp", PricingLanguageTest.MODELS.getBytes(StandardCharsets.UTF_8)),
                new PolicyCompiler.Source("p.kgp", policies.getBytes(StandardCharsets.UTF_8)))));
    }

    static List<String> messages(PolicyCompiler.Result r, String code) {
        return r.diagnostics().sorted().stream().filter(d -> d.code().name().equals(code)).map(Diagnostic::message).toList();
    }

    @Test
    void endUsersAreInheritedOverriddenKeyByKeyAndDefaultedAndTheirLimitsDecideOnBothBackends() {
        PolicyCompiler.Result r = compile(POLICIES);
        assertTrue(r.ok(), r.diagnostics().render());
        PolicySet set = r.set();
        EndUsers support = set.policy("support_bot").endUsers();
        assertEquals(List.of(EndUsers.Source.HEADER), support.sources(), "the override's `from`");
        assertEquals(5_000, support.max(), "the template's `max`, which the override does not say");
        assertFalse(support.overflowShared());
        assertEquals(EndUsers.DEFAULT, set.policy("plain_bot").endUsers());
        for (Backend backend : Backend.values()) {
            for (PolicyTestRunner.Outcome o : PolicyTestRunner.run(set, backend)) assertTrue(o.passed(), backend + ": " + o.test().name() + ": " + o.failure());
        }
    }

    @Test
    void mistakesAreClearAndAUserBudgetAboveTheKeysNeverBinds() {
        PolicyCompiler.Result bad = compile("""
                policy a { models allow ["plain"] end_users { from ["cookie"] } }
                policy b { models allow ["plain"] end_users { max 0 } }
                policy c { models allow ["plain"] end_users { overflow drop } }
                policy d { models allow ["plain"] end_users { from ["user", "user"] } }
                """);
        assertEquals(4, messages(bad, "KG0327").size(), bad.diagnostics().render());
        assertTrue(messages(bad, "KG0327").get(2).equals("`overflow` is `shared` or `refuse`, not `drop`"), bad.diagnostics().render());
        PolicyCompiler.Result r = compile("policy p { models allow [\"plain\"] budget 5 usd per day by user budget 5 usd per day by key }");
        assertEquals(List.of("`budget.user.day` ($5) is not below `budget.key.day` ($5)"), messages(r, "KG0907"), r.diagnostics().render());
    }

    @Test
    void endUsersFormatOnOneLine() {
        String src = "policy p {\n  models allow [\"plain\"]\n  end_users {   from [\"header\"]\n max 10_000 }\n}\n";
        String formatted = Formatter.format(new keyguard.lang.source.SourceFile("p.kgp", src)).text();
        assertEquals("policy p {\n  models allow [\"plain\"]\n  end_users { from [\"header\"] max 10_000 }\n}\n", formatted);
    }
}
