package keyguard.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import keyguard.compiler.fmt.Formatter;
import keyguard.lang.diag.Diagnostic;
import keyguard.policy.BudgetSpec;
import keyguard.policy.CounterRef;
import keyguard.policy.Limit;
import keyguard.policy.OrgChart;
import keyguard.policy.PolicySet;
import keyguard.policy.Scope;
import org.junit.jupiter.api.Test;

/**
 * The operator's {@code org} and {@code team} declarations and the {@code by team} and
 * {@code by org} scopes: what the checker accepts into the {@link OrgChart}, what it
 * refuses with KG0326, the budgets it flags as never binding (KG0907), and the formatter.
 */
class OrganisationLanguageTest {
    static final String ORG = """
            org engineering {
              budget 10_000 usd per month hard
              limit requests 50_000 per 1m
            }
            team search {
              org    engineering
              groups ["search-eng", "Search-Oncall"]
              budget 3_000 usd per month hard
            }
            team solo {
              budget 100 usd per day soft
            }
            """;

    static PolicyCompiler.Result compile(String operator, String team) {
        return PolicyCompiler.analyze(PolicyCompiler.compile(new PolicyCompiler.Sources(List.of(
                new PolicyCompiler.Source("platform/models.kgp", PricingLanguageTest.MODELS.getBytes(StandardCharsets.UTF_8), PolicyCompiler.Owner.OPERATOR),
                new PolicyCompiler.Source("platform/org.kgp", operator.getBytes(StandardCharsets.UTF_8), PolicyCompiler.Owner.OPERATOR),
                new PolicyCompiler.Source("teams/p.kgp", team.getBytes(StandardCharsets.UTF_8), PolicyCompiler.Owner.TEAM)), List.of()),
                "rev", keyguard.functions.FunctionLibrary.NONE, Trust.DEFAULT));
    }

    static List<String> messages(PolicyCompiler.Result r, String code) {
        return r.diagnostics().sorted().stream().filter(d -> d.code().name().equals(code)).map(Diagnostic::message).toList();
    }

    @Test
    void theOperatorsUnitsAndTeamsBecomeTheOrgChartWithLimitsOnTheirOwnCounters() {
        PolicyCompiler.Result r = compile(ORG, """
                policy svc {
                  models allow ["plain"]
                  tags { team: "search" }
                  budget 500 usd per month hard by team
                  limit concurrent 20 by org
                }
                """);
        assertTrue(r.ok(), r.diagnostics().render());
        PolicySet set = r.set();
        OrgChart org = set.org();
        OrgChart.Team search = org.team("search");
        assertEquals("engineering", search.unitName());
        assertEquals(List.of("search-eng", "Search-Oncall"), search.groups());
        assertEquals(search, org.teamOfGroup("search-oncall"), "groups compare without case");
        assertNull(org.teamOfGroup("search-ENG-x"));
        assertNull(org.team("solo").unit());
        Limit teamBudget = search.limits().getFirst();
        assertEquals(CounterRef.spend(Scope.TEAM, keyguard.policy.Period.MONTH), teamBudget.counter());
        assertEquals("budget.team.month", teamBudget.id());
        assertEquals("team search", teamBudget.origin());
        List<String> unitIds = org.units().get("engineering").limits().stream().map(Limit::id).toList();
        assertEquals(List.of("limit.requests.org.1m", "budget.org.month"), unitIds);
        assertFalse(((BudgetSpec) org.team("solo").limits().getFirst()).hard());
        assertEquals(CounterRef.parse("spend.team.month"), set.policy("svc").budgets().getFirst().counter(), "`by team` in a policy counts on the team's counter");
        assertTrue(set.policy("svc").concurrency().stream().anyMatch(l -> l.counter().equals(CounterRef.parse("concurrent.org")) && l.amount() == 20));
    }

    @Test
    void onlyTheOperatorDeclaresTheOrganisationAndMistakesAreClear() {
        PolicyCompiler.Result inTeamFile = compile("", "team rogue { budget 1 usd per day }\npolicy p { models allow [\"plain\"] }");
        assertEquals(List.of("team `rogue` is declared in a team's file"), messages(inTeamFile, "KG0605"));

        PolicyCompiler.Result bad = compile("""
                org Eng { }
                org engineering { models allow ["plain"] }
                team a { org nowhere }
                team b { groups ["x", "y"] budget 5 usd per day hard by key }
                team c { groups ["X"] colour "red" }
                team d { groups [] }
                """, "policy p { models allow [\"plain\"] }");
        assertEquals(List.of("invalid name `Eng`", "an org unit holds only `limit` and `budget` lines", "team `a` names no declared org unit `nowhere`",
                "`by key` in team b", "group `X` belongs to two teams, `b` and `c`", "`groups` must be a non-empty list of identity-provider group names"),
                messages(bad, "KG0326"), bad.diagnostics().render());
        assertTrue(messages(bad, "KG0109").contains("unknown team setting `colour`"), bad.diagnostics().render());
    }

    @Test
    void aPolicyCountingByTeamWithNoTeamDeclaredIsWarnedAbout() {
        PolicyCompiler.Result r = compile("", "policy p {\n  models allow [\"plain\"]\n  limit requests 10 per 1m by team\n}");
        assertTrue(r.ok(), r.diagnostics().render());
        assertEquals(List.of("`limit.requests.team.1m` counts by team, but the organisation declares no team"), messages(r, "KG0326"));
        PolicyCompiler.Result unitless = compile("team solo { }", "policy p {\n  models allow [\"plain\"]\n  budget 1 usd per day by org\n}");
        assertEquals(List.of("`budget.org.day` counts by org, but the organisation declares no team in an org unit"), messages(unitless, "KG0326"));
    }

    @Test
    void aChildBudgetNotBelowItsParentsIsFlagged() {
        PolicyCompiler.Result r = compile("""
                org engineering { budget 1_000 usd per month hard }
                team search { org engineering  budget 1_200 usd per month hard }
                team ok { org engineering  budget 400 usd per month hard }
                """, """
                policy p {
                  models allow ["plain"]
                  budget 50 usd per day hard by key
                  budget 40 usd per day hard by team
                  budget 90 usd per day hard by org
                }
                """);
        assertTrue(r.ok(), r.diagnostics().render());
        assertEquals(List.of("`budget.team.month` ($1200) is not below `budget.org.month` ($1000) of org engineering",
                "`budget.key.day` ($50) is not below `budget.team.day` ($40)"), messages(r, "KG0907"), r.diagnostics().render());
    }

    @Test
    void teamAndOrgStayNamesElsewhereAndFormatStably() {
        String src = """
                // The organisation.
                org engineering {
                    budget 10_000 usd per month hard   // finance's number
                }
                team search { org engineering
                  groups ["search-eng"]

                  budget 3_000 usd per month hard warn at 80%
                }
                """;
        String formatted = Formatter.format(new keyguard.lang.source.SourceFile("org.kgp", src)).text();
        assertEquals("""
                // The organisation.
                org engineering {
                  budget 10_000 usd per month hard // finance's number
                }

                team search {
                  org    engineering
                  groups ["search-eng"]

                  budget 3_000 usd per month hard warn at 80%
                }
                """, formatted);
        assertEquals(formatted, Formatter.format(new keyguard.lang.source.SourceFile("org.kgp", formatted)).text(), "formatting is stable");
        // `team` and `org` remain ordinary names in templates, tags and conditions.
        PolicyCompiler.Result r = compile(ORG, """
                template t(team: string, org: string) { tags { team: team, org: org } models allow ["plain"] }
                policy p = t(team: "search", org: "eng") { @id("x") forbid when { model.id == "team" } }
                """);
        assertTrue(r.ok(), r.diagnostics().render());
    }

    @Test
    void delegationIsDeclaredInheritedBoundedAndFormatted() {
        PolicyCompiler.Result r = compile("", """
                template agent() { models allow ["plain"] delegate max 10 depth 2 }
                policy a = agent() { }
                policy b = agent() { override delegate max 20 depth 3 }
                policy none { models allow ["plain"] }
                """);
        assertTrue(r.ok(), r.diagnostics().render());
        assertEquals(new keyguard.policy.Delegation(10, 2), r.set().policy("a").delegation());
        assertEquals(new keyguard.policy.Delegation(20, 3), r.set().policy("b").delegation());
        assertNull(r.set().policy("none").delegation(), "no delegation unless the policy says so");
        assertEquals(List.of("override lets keys delegate more than the template"), messages(r, "KG0314"));
        PolicyCompiler.Result bad = compile("", """
                policy p { models allow ["plain"] delegate up 3 }
                policy q { models allow ["plain"] delegate max 5 depth 9 }
                """);
        assertEquals(List.of("unexpected `up` in `delegate`", "`delegate` takes at most 1000 sub-keys per key and 5 levels"), messages(bad, "KG0329"),
                bad.diagnostics().render());
        assertEquals("policy p {\n  delegate max 3 depth 2\n}\n",
                Formatter.format(new keyguard.lang.source.SourceFile("p.kgp", "policy p {\n  delegate   max 3 depth   2\n}\n")).text());
    }
}
