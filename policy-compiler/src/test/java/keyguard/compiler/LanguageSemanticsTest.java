package keyguard.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import keyguard.policy.CounterRef;
import keyguard.policy.DataAction;
import keyguard.policy.DataClass;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.DecisionKind;
import keyguard.policy.Outcome;
import keyguard.policy.PolicyEvaluator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The semantics of the language, one behaviour per test, each on both backends. These
 * are the rules DESIGN.md promises; the differential test then checks the backends agree
 * on random inputs too.
 */
class LanguageSemanticsTest {

    private static Decision decide(Backend b, String src, DecisionInput in) {
        return Snippets.evaluator(b, src, "p").decide(in);
    }

    private static DecisionInput req(String model) {
        return new DecisionInput().model(model).at(Instant.parse("2026-06-08T10:00:00Z"));
    }

    private static DecisionInput withUsage(DecisionInput in, Map<String, Long> usage) {
        return in.usage(ref -> usage.getOrDefault(ref.toString(), 0L));
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void anUnknownModelIsDeniedBeforeAnyRuleRuns(Backend b) {
        Decision d = decide(b, "policy p { models allow [\"small\"] @id(\"all\") forbid when { true } }", req("nope"));
        assertEquals(DecisionKind.UNKNOWN_MODEL, d.kind());
        assertEquals(List.of("model.unknown"), d.rules());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aModelNotListedIsDeniedByDefault(Backend b) {
        Decision d = decide(b, "policy p { models allow [\"small\"] }", req("big"));
        assertEquals(DecisionKind.MODEL_NOT_ALLOWED, d.kind());
        assertEquals(Outcome.DENY, d.outcome());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aPolicyWithoutModelsDeniesEverything(Backend b) {
        assertEquals(DecisionKind.MODEL_NOT_ALLOWED, decide(b, "policy p { }", req("small")).kind());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void forbidBeatsAnAllowedModel(Backend b) {
        Decision d = decide(b, "policy p { models allow [\"small\"] @id(\"no-stream\") forbid when { request.stream } }",
                req("small").stream(true));
        assertEquals(DecisionKind.FORBIDDEN, d.kind());
        assertEquals(List.of("no-stream"), d.rules());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void forbidBeatsRateLimitsAndBudgets(Backend b) {
        String src = "policy p { models allow [\"small\"] limit requests 1 per 1m budget 1 usd per day hard "
                + "@id(\"r\") forbid when { key.name == \"bot\" } }";
        Decision d = decide(b, src, withUsage(req("small").keyName("bot"), Map.of("requests.key.1m", 5L, "spend.key.day", 5_000_000L)));
        assertEquals(DecisionKind.FORBIDDEN, d.kind());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void ruleOrderNeverMattersAndEveryFiringRuleIsReported(Backend b) {
        String a = "policy p { models allow [\"small\"] @id(\"b-rule\") forbid when { request.stream } @id(\"a-rule\") forbid when { key.name == \"x\" } }";
        String z = "policy p { models allow [\"small\"] @id(\"a-rule\") forbid when { key.name == \"x\" } @id(\"b-rule\") forbid when { request.stream } }";
        DecisionInput in = req("small").stream(true).keyName("x");
        Decision first = decide(b, a, in);
        assertEquals(List.of("a-rule", "b-rule"), first.rules());
        assertEquals(first.rules(), decide(b, z, in).rules());
        assertEquals(first.reason(), decide(b, z, in).reason());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void unlessExemptsARequestFromItsRule(Backend b) {
        String src = "policy p { models allow [\"small\"] @id(\"hours\") forbid when { true && key.env != \"prod\" } unless { time.hour in 8..18 } }";
        assertEquals(Outcome.ALLOW, decide(b, src, req("small").at(Instant.parse("2026-06-08T18:59:00Z"))).outcome());
        assertEquals(Outcome.DENY, decide(b, src, req("small").at(Instant.parse("2026-06-08T19:00:00Z"))).outcome());
        assertEquals(Outcome.ALLOW, decide(b, src, req("small").labels(Map.of("env", "prod")).at(Instant.parse("2026-06-08T23:00:00Z"))).outcome());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aMissingKeyLabelReadsAsEmpty(Backend b) {
        String src = "policy p { models allow [\"small\"] @id(\"env\") forbid when { key.env == \"\" && key.labels[\"team\"] == \"\" } }";
        assertEquals(Outcome.DENY, decide(b, src, req("small")).outcome());
        assertEquals(Outcome.ALLOW, decide(b, src, req("small").labels(Map.of("env", "dev"))).outcome());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void theRequestRateIsThrottledExactlyAtTheLimit(Backend b) {
        String src = "policy p { models allow [\"small\"] limit requests 10 per 60s by key }";
        assertEquals(Outcome.ALLOW, decide(b, src, withUsage(req("small"), Map.of("requests.key.1m", 9L))).outcome());
        Decision d = decide(b, src, withUsage(req("small"), Map.of("requests.key.1m", 10L)));
        assertEquals(DecisionKind.RATE_LIMIT, d.kind());
        assertEquals(List.of("limit.requests.key.1m"), d.rules());
        assertEquals(10, d.limit().amount());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void tokenLimitsReservePromptPlusMaxTokens(Backend b) {
        String src = "policy p { models allow [\"small\"] limit tokens 1_000 per 1h by policy }";
        DecisionInput in = withUsage(req("small").estimatedTokens(300).maxTokens(200), Map.of("tokens.policy.1h", 500L));
        assertEquals(Outcome.ALLOW, decide(b, src, in).outcome());
        in.maxTokens(201);
        assertEquals(List.of("limit.tokens.policy.1h"), decide(b, src, in).rules());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void concurrencyCountsRequestsInFlight(Backend b) {
        String src = "policy p { models allow [\"small\"] limit concurrent 2 by key }";
        assertEquals(Outcome.ALLOW, decide(b, src, withUsage(req("small"), Map.of("concurrent.key", 1L))).outcome());
        assertEquals(DecisionKind.CONCURRENCY, decide(b, src, withUsage(req("small"), Map.of("concurrent.key", 2L))).kind());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void rateLimitsComeBeforeConcurrencyAndConcurrencyBeforeBudgets(Backend b) {
        String src = "policy p { models allow [\"small\"] budget 1 usd per day hard by key limit concurrent 1 by key limit requests 1 per 1m by key }";
        Map<String, Long> all = Map.of("requests.key.1m", 1L, "concurrent.key", 1L, "spend.key.day", 1_000_000L);
        assertEquals(DecisionKind.RATE_LIMIT, decide(b, src, withUsage(req("small").maxTokens(10), all)).kind());
        Map<String, Long> noRate = Map.of("concurrent.key", 1L, "spend.key.day", 1_000_000L);
        assertEquals(DecisionKind.CONCURRENCY, decide(b, src, withUsage(req("small").maxTokens(10), noRate)).kind());
        Map<String, Long> budgetOnly = Map.of("spend.key.day", 1_000_000L);
        assertEquals(DecisionKind.BUDGET, decide(b, src, withUsage(req("small").maxTokens(10), budgetOnly)).kind());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aHardBudgetThrottlesOnTheWorstCaseCost(Backend b) {
        // small: 1 usd / 1m input, 2 usd / 1m output -> 1000 in + 1000 out = 3000 micro-usd
        String src = "policy p { models allow [\"small\"] budget 1 usd per day hard by policy }";
        DecisionInput in = req("small").estimatedTokens(1_000).maxTokens(1_000);
        assertEquals(Outcome.ALLOW, decide(b, src, withUsage(in, Map.of("spend.policy.day", 997_000L))).outcome());
        Decision d = decide(b, src, withUsage(in, Map.of("spend.policy.day", 997_001L)));
        assertEquals(DecisionKind.BUDGET, d.kind());
        assertEquals(List.of("budget.policy.day"), d.rules());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aSoftBudgetAllowsAndWarns(Backend b) {
        String src = "policy p { models allow [\"small\"] budget 1 usd per month soft warn at 50% by key }";
        DecisionInput in = req("small").estimatedTokens(1_000).maxTokens(1_000);
        Decision quiet = decide(b, src, withUsage(in, Map.of("spend.key.month", 100_000L)));
        assertTrue(quiet.warnings().isEmpty());
        Decision warned = decide(b, src, withUsage(in, Map.of("spend.key.month", 498_000L)));
        assertEquals(List.of("budget.key.month reached 50%"), warned.warnings());
        Decision over = decide(b, src, withUsage(in, Map.of("spend.key.month", 999_000L)));
        assertEquals(Outcome.ALLOW, over.outcome());
        assertEquals(List.of("budget.key.month reached 50%", "budget.key.month soft cap exceeded"), over.warnings());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void dataAboveTheModelCeilingIsDeniedWithoutADataRule(Backend b) {
        Decision d = decide(b, "policy p { models allow [\"small\"] }", req("small").classification(DataClass.CONFIDENTIAL));
        assertEquals(DecisionKind.DATA_CLASS, d.kind());
        assertEquals(List.of("data.max"), d.rules());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void theKeyClearanceLimitsEvenAModelThatCouldTakeMore(Backend b) {
        String src = "policy p { models allow [\"big\"] data max internal on violation deny }";
        assertEquals(Outcome.ALLOW, decide(b, src, req("big").classification(DataClass.INTERNAL)).outcome());
        assertEquals(DecisionKind.DATA_CLASS, decide(b, src, req("big").classification(DataClass.CONFIDENTIAL)).kind());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void redactAllowsAndTellsTheGatewayToRedact(Backend b) {
        Decision d = decide(b, "policy p { models allow [\"small\"] data max internal on violation redact }",
                req("small").classification(DataClass.RESTRICTED));
        assertEquals(Outcome.ALLOW, d.outcome());
        assertEquals(DataAction.REDACT, d.dataAction());
        assertNull(d.routedModel());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void rerouteSendsTheRequestToAModelThatMayTakeIt(Backend b) {
        String src = "policy p { models allow [\"small\"] data max internal on violation reroute \"onprem\" }";
        Decision d = decide(b, src, req("small").classification(DataClass.RESTRICTED));
        assertEquals(Outcome.ALLOW, d.outcome());
        assertEquals("onprem", d.routedModel());
        assertEquals(DataAction.REROUTE, d.dataAction());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void rerouteDeniesWhenEvenTheTargetCannotTakeTheData(Backend b) {
        String src = "policy p { models allow [\"small\"] data max public on violation reroute \"big\" }";
        assertEquals("big", decide(b, src, req("small").classification(DataClass.CONFIDENTIAL)).routedModel());
        assertEquals(DecisionKind.DATA_CLASS, decide(b, src, req("small").classification(DataClass.RESTRICTED)).kind());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aReroutedRequestIsCostedAtTheTargetsPrice(Backend b) {
        // big costs 10/30 per 1m; small would cost 1/2. 10k in + 10k out on big = 0.4 usd.
        String src = "policy p { models allow [\"small\"] budget 0.35 usd per day hard data max internal on violation reroute \"big\" }";
        DecisionInput in = req("small").classification(DataClass.CONFIDENTIAL).estimatedTokens(10_000).maxTokens(10_000);
        assertEquals(DecisionKind.BUDGET, decide(b, src, in).kind());
        assertEquals(Outcome.ALLOW, decide(b, src, in.classification(DataClass.INTERNAL)).outcome());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void timeIsReadInThePolicysZone(Backend b) {
        String src = "policy p { zone \"America/New_York\" models allow [\"small\"] @id(\"weekend\") forbid when { time.weekday in sat..sun } }";
        // Saturday 02:00 UTC is still Friday evening in New York.
        assertEquals(Outcome.ALLOW, decide(b, src, req("small").at(Instant.parse("2026-06-06T02:00:00Z"))).outcome());
        assertEquals(Outcome.DENY, decide(b, src, req("small").at(Instant.parse("2026-06-06T05:00:00Z"))).outcome());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void stringFunctionsAndLinearTimeRegexes(Backend b) {
        String src = """
                policy p {
                  models allow ["small"]
                  @id("a") forbid when { startsWith(key.name, "tmp-") && endsWith(key.name, "-x") }
                  @id("b") forbid when { contains(lower(key.owner), "contractor") }
                  @id("c") forbid when { matches(request.metadata["ticket"], "^[A-Z]+-[0-9]+$") }
                }""";
        assertEquals(List.of("a"), decide(b, src, req("small").keyName("tmp-1-x")).rules());
        assertEquals(List.of("b"), decide(b, src, req("small").keyOwner("Ext-CONTRACTOR-9")).rules());
        assertEquals(List.of("c"), decide(b, src, req("small").metadata(Map.of("ticket", "OPS-42"))).rules());
        assertEquals(Outcome.ALLOW, decide(b, src, req("small").metadata(Map.of("ticket", "ops-42"))).outcome());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void membershipInLongAndShortLists(Backend b) {
        String src = """
                policy p {
                  models allow ["small"]
                  @id("long") forbid when { key.name in ["a","b","c","d","e","f","g","h","i","j","k"] }
                  @id("ints") forbid when { request.max_tokens in [1, 2, 3] }
                  @id("class") forbid when { request.classification in [confidential] }
                }""";
        assertEquals(List.of("long"), decide(b, src, req("small").keyName("k")).rules());
        assertEquals(Outcome.ALLOW, decide(b, src, req("small").keyName("z")).outcome());
        assertEquals(List.of("ints"), decide(b, src, req("small").maxTokens(2)).rules());
        assertEquals(List.of("class"), decide(b, src, req("small").classification(DataClass.CONFIDENTIAL)).rules());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void conditionsCanReadCounters(Backend b) {
        String src = "policy p { models allow [\"small\", \"big\"] @id(\"big-when-busy\") forbid when { model.id == \"big\" && usage.tokens.policy.1d > 1_000 } }";
        assertEquals(Outcome.ALLOW, decide(b, src, withUsage(req("big"), Map.of("tokens.policy.1d", 1_000L))).outcome());
        assertEquals(Outcome.DENY, decide(b, src, withUsage(req("big"), Map.of("tokens.policy.1d", 1_001L))).outcome());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void reasonsInterpolateRequestFields(Backend b) {
        String src = "policy p { models allow [\"small\"] @id(\"r\") @reason(\"{key.name} may not use {model.id} on {time.weekday} with {request.classification} data\") forbid when { true } }";
        Decision d = decide(b, src, req("small").keyName("bot").classification(DataClass.INTERNAL));
        assertEquals("bot may not use small on mon with internal data", d.reason());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void templatesApplyArgumentsAndChildrenAddOrOverride(Backend b) {
        String src = """
                template t(team: string, rpm: int = 10) {
                  tags { team: team }
                  models allow ["small"]
                  limit requests rpm per 1m by key
                  @id("ops-only-big") forbid when { team != "ops" && model.id == "big" }
                }
                policy p = t(team: "search", rpm: 5) {
                  models allow += ["big"]
                  override limit requests 3 per 1m by key
                }""";
        PolicyEvaluator e = Snippets.evaluator(b, src, "p");
        assertEquals(Map.of("team", "search"), e.decide(req("small")).tags());
        assertEquals(List.of("ops-only-big"), e.decide(req("big")).rules());
        assertEquals(3, e.policy().rateLimits().get(0).amount());
        assertEquals(Outcome.THROTTLE, e.decide(withUsage(req("small"), Map.of("requests.key.1m", 3L))).outcome());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void anAllowWithoutSideEffectsIsOnePreallocatedDecision(Backend b) {
        PolicyEvaluator e = Snippets.evaluator(b, "policy p { models allow [\"small\"] limit requests 5 per 1m }", "p");
        assertSame(e.decide(req("small")), e.decide(req("small").keyName("other")));
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void hugeTokenCountsSaturateInsteadOfOverflowing(Backend b) {
        String src = "policy p { models allow [\"small\"] limit tokens 1_000 per 1m budget 1 usd per day hard }";
        DecisionInput in = req("small").estimatedTokens(Long.MAX_VALUE).maxTokens(Long.MAX_VALUE);
        assertEquals(DecisionKind.RATE_LIMIT, decide(b, src, in).kind());
        String budgetOnly = "policy p { models allow [\"small\"] budget 1 usd per day hard }";
        assertEquals(DecisionKind.BUDGET, decide(b, budgetOnly, in).kind());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void usageViewSeesCanonicalCounterNames(Backend b) {
        PolicyEvaluator e = Snippets.evaluator(b, "policy p { models allow [\"small\"] limit requests 5 per 60s limit tokens 9 per 24h by policy }", "p");
        List<String> ids = e.policy().rateLimits().stream().map(l -> l.counter().toString()).toList();
        assertEquals(List.of("requests.key.1m", "tokens.policy.1d"), ids);
        assertEquals(CounterRef.parse("tokens.policy.1d"), e.policy().rateLimits().get(1).counter());
    }

    /** A fleet node's view: others' usage as last reported (the estimate), its own part (what a refusal may rely on). */
    private static DecisionInput withFleetUsage(DecisionInput in, Map<String, Long> estimate, Map<String, Long> surely) {
        return in.usage(new keyguard.policy.UsageView() {
            @Override
            public long used(CounterRef ref) {
                return estimate.getOrDefault(ref.toString(), 0L);
            }

            @Override
            public long usedForCap(CounterRef ref, long nowMillis) {
                return surely.getOrDefault(ref.toString(), 0L);
            }
        });
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aLimitOrHardBudgetRefusesBeforeAdmissionOnlyOnWhatTheCounterSurelyHolds(Backend b) {
        String src = "policy p { models allow [\"small\"] limit requests 5 per 1m budget 1 usd per day hard }";
        DecisionInput estimatedFull = withFleetUsage(req("small"), Map.of("requests.key.1m", 5L, "spend.key.day", 1_000_000L),
                Map.of("requests.key.1m", 2L, "spend.key.day", 10L));
        assertEquals(Outcome.ALLOW, decide(b, src, estimatedFull).outcome(), "the admission decides: it asks the store");
        DecisionInput surelyFull = withFleetUsage(req("small"), Map.of("requests.key.1m", 5L), Map.of("requests.key.1m", 5L));
        assertEquals(DecisionKind.RATE_LIMIT, decide(b, src, surelyFull).kind());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void conditionsAndSoftBudgetWarningsReadTheEstimate(Backend b) {
        String src = "policy p { models allow [\"small\"] budget 1 usd per day soft warn at 50% @id(\"busy\") forbid when { usage.requests.key.1m > 3 } }";
        DecisionInput in = withFleetUsage(req("small"), Map.of("requests.key.1m", 4L), Map.of());
        assertEquals(List.of("busy"), decide(b, src, in).rules());
        DecisionInput spent = withFleetUsage(req("small"), Map.of("spend.key.day", 600_000L), Map.of());
        Decision d = decide(b, src, spent);
        assertEquals(Outcome.ALLOW, d.outcome());
        assertFalse(d.warnings().isEmpty(), "the soft budget's warning reads the fleet's estimate");
    }
}
