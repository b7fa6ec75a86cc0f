package keyguard.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import keyguard.compiler.fmt.Formatter;
import keyguard.lang.diag.Diagnostic;
import keyguard.policy.AlertSpec;
import keyguard.policy.ChannelSpec;
import keyguard.policy.PolicySet;
import org.junit.jupiter.api.Test;

/** The operator's {@code channel} declarations and the {@code alert} clauses of budgets and limits. */
class AlertsLanguageTest {
    static final String CHANNELS = """
            channel ops { kind webhook  url "https://hooks.example.com/keyguard"  secret env("KEYGUARD_CHANNEL_OPS") }
            channel chat { kind slack  url env("KEYGUARD_CHANNEL_SLACK_URL") }
            channel finance { kind smtp  server "smtp://mail.example.com:587"  from "keyguard@example.com"  to ["finance@example.com"]
                              username env("KEYGUARD_CHANNEL_SMTP_USER")  password env("KEYGUARD_CHANNEL_SMTP_PASSWORD") }
            org engineering { budget 10_000 usd per month hard alert finance at 80%, 100% }
            team search { org engineering  budget 3_000 usd per month hard alert chat at 90% }
            """;

    static PolicyCompiler.Result compile(String operator, String team) {
        return PolicyCompiler.compile(new PolicyCompiler.Sources(List.of(
                new PolicyCompiler.Source("platform/models.kgp", PricingLanguageTest.MODELS.getBytes(StandardCharsets.UTF_8), PolicyCompiler.Owner.OPERATOR),
                new PolicyCompiler.Source("platform/channels.kgp", operator.getBytes(StandardCharsets.UTF_8), PolicyCompiler.Owner.OPERATOR),
                new PolicyCompiler.Source("teams/p.kgp", team.getBytes(StandardCharsets.UTF_8), PolicyCompiler.Owner.TEAM)), List.of()),
                "rev", keyguard.functions.FunctionLibrary.NONE, Trust.DEFAULT);
    }

    static List<String> messages(PolicyCompiler.Result r, String code) {
        return r.diagnostics().sorted().stream().filter(d -> d.code().name().equals(code)).map(Diagnostic::message).toList();
    }

    @Test
    void channelsAndAlertsBecomeSpecsOfTheirBudgetsAndLimits() {
        PolicyCompiler.Result r = compile(CHANNELS, """
                template t() {
                  models allow ["plain"]
                  budget 100 usd per day hard by policy alert ops at 50%, 80%, 100%
                  limit requests 600 per 1m by key alert ops after 20
                }
                policy inherits = t() { }
                policy replaces = t() { override budget 200 usd per day hard by policy }
                """);
        assertTrue(r.ok(), r.diagnostics().render());
        PolicySet set = r.set();
        ChannelSpec ops = set.channels().get("ops");
        assertEquals(ChannelSpec.Kind.WEBHOOK, ops.kind());
        assertEquals("KEYGUARD_CHANNEL_OPS", ops.secretEnv());
        assertEquals("KEYGUARD_CHANNEL_SLACK_URL", set.channels().get("chat").urlEnv());
        assertNull(set.channels().get("chat").url());
        assertEquals(List.of("finance@example.com"), set.channels().get("finance").to());
        List<AlertSpec> inherited = set.policy("inherits").alerts();
        assertEquals(List.of("budget.policy.day", "limit.requests.key.1m"), inherited.stream().map(AlertSpec::limitId).toList());
        assertEquals(List.of(50, 80, 100), inherited.get(0).percents());
        assertEquals(20, inherited.get(1).after());
        assertEquals(List.of("limit.requests.key.1m"), set.policy("replaces").alerts().stream().map(AlertSpec::limitId).toList(),
                "an override without an alert drops the template's");
        assertEquals("budget.team.month", set.org().team("search").alerts().getFirst().limitId());
        assertEquals(List.of(80, 100), set.org().units().get("engineering").alerts().getFirst().percents());
    }

    @Test
    void mistakesAreClearAndSecretsStayInTheEnvironment() {
        PolicyCompiler.Result bad = compile("""
                channel a { kind pager }
                channel b { kind webhook  url "https://x.example"  secret "s3cr3t" }
                channel c { kind webhook  url "https://x.example"  secret env("OPENAI_API_KEY") }
                channel d { kind slack  url "https://hooks.slack.example/T1"  secret env("KEYGUARD_CHANNEL_D") }
                channel e { kind smtp  server "mail.example.com"  from "k@example.com"  to ["f@example.com"] }
                """, """
                policy p {
                  models allow ["plain"]
                  budget 5 usd per day alert nowhere at 50%
                  limit requests 5 per 1m alert a after 3
                }
                policy q { models allow ["plain"] budget 5 usd per day alert b at 80%, 50% }
                """);
        assertEquals(List.of("channel `a` needs `kind webhook`, `kind slack` or `kind smtp`", "a slack channel has no `secret`",
                "an smtp channel needs `server \"smtp://host:port\"` or `\"smtps://host:port\"`"), messages(bad, "KG0609"), bad.diagnostics().render());
        assertEquals(2, messages(bad, "KG0602").size(), "a literal secret, and a variable that is no channel's");
        assertTrue(messages(bad, "KG0328").contains("no channel `nowhere`"), bad.diagnostics().render());
        assertTrue(!bad.diagnostics().render().contains("s3cr3t"), "a literal secret is never printed back");
        PolicyCompiler.Result inTeam = compile("", "channel mine { kind slack url \"https://x.example\" }\npolicy p { models allow [\"plain\"] }");
        assertEquals(List.of("channel `mine` is declared in a team's file"), messages(inTeam, "KG0605"));
    }

    @Test
    void alertsFormatOnTheirStatementsLine() {
        String src = "policy p {\n  budget 5 usd per day hard by key   alert ops at 50%,80%\n  limit requests 5 per 1m alert ops after 3\n}\n";
        assertEquals("policy p {\n  budget 5 usd per day hard by key alert ops at 50%, 80%\n  limit requests 5 per 1m alert ops after 3\n}\n",
                Formatter.format(new keyguard.lang.source.SourceFile("p.kgp", src)).text());
    }
}
