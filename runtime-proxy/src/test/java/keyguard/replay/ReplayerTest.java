package keyguard.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.emit.CompiledPolicies;
import keyguard.policy.DataClass;
import keyguard.policy.Outcome;
import keyguard.policy.PolicySet;
import org.junit.jupiter.api.Test;

/** How replay keeps counters under a candidate: drift from what was recorded, counters it simulates alone, periods, order. */
class ReplayerTest {
    static final String MODELS = """
            provider sim { builtin simulator }
            model "a" { provider sim price input 1 usd per 1m tokens, output 1 usd per 1m tokens max_class internal }
            model "b" { provider sim price input 1 usd per 1m tokens, output 1 usd per 1m tokens max_class internal }
            """;
    static final long T0 = Instant.parse("2026-11-30T10:00:00Z").toEpochMilli();

    static Replayer candidate(String policy) {
        PolicyCompiler.Result r = PolicyCompiler.compile(List.of(new PolicyCompiler.Source("platform/models.kgp", MODELS.getBytes(StandardCharsets.UTF_8)),
                new PolicyCompiler.Source("team.kgp", policy.getBytes(StandardCharsets.UTF_8), PolicyCompiler.Owner.TEAM)));
        assertTrue(r.ok(), r.diagnostics().render());
        PolicySet set = r.set();
        return new Replayer(set, CompiledPolicies.compile(set));
    }

    /** An allowed request of 10 + 10 tokens, charged 20 tokens and 20 micro-dollars, that read {@code counters}. */
    static RecordedDecision allowed(String id, long at, String model, Map<String, Long> counters) {
        return new RecordedDecision(id, at, "key1", "svc", "", "team", "rev1", model, 10, 10, false, DataClass.PUBLIC, false, Map.of(), Map.of(),
                Map.of(), counters, Map.of(), Outcome.ALLOW, "allowed", List.of(), null, true, 20, 20);
    }

    static List<Outcome> outcomes(Replayer r, List<RecordedDecision> in) {
        List<Outcome> out = new ArrayList<>();
        for (RecordedDecision d : in) out.add(r.replay(d).outcome());
        return out;
    }

    @Test
    void tokensARefusedRequestDidNotUseLeaveRoomForALaterOne() {
        // Recorded under `limit tokens 100 per 1m`: all five allowed, the counter at 0, 20, 40, 60, 80.
        List<RecordedDecision> day = new ArrayList<>();
        String[] models = {"a", "b", "a", "a", "a"};
        for (int i = 0; i < 5; i++) day.add(allowed("d" + i, T0 + i * 1000, models[i], Map.of("tokens.key.1m", 20L * i)));
        Replayer r = candidate("""
                policy team {
                  models allow ["a"]
                  limit tokens 50 per 1m by key
                }
                """);
        // d1 is denied (model b): its 20 tokens are not used, so d2 sees 40 - 20 = 20 and fits (50 - 20 >= 20);
        // d3 sees 60 - 20 = 40 and does not, nor d4 (80 - 40 = 40).
        assertEquals(List.of(Outcome.ALLOW, Outcome.DENY, Outcome.ALLOW, Outcome.THROTTLE, Outcome.THROTTLE), outcomes(r, day));
    }

    @Test
    void driftLeavesTheWindowWithTheRequestsThatCausedIt() {
        Replayer r = candidate("""
                policy team {
                  models allow ["a"]
                  limit tokens 50 per 1m by key
                }
                """);
        assertEquals(Outcome.DENY, r.replay(allowed("d0", T0, "b", Map.of("tokens.key.1m", 0L))).outcome());
        // 59 s later d0's unused tokens still leave room: 40 recorded reads as 20.
        assertEquals(Outcome.ALLOW, r.replay(allowed("d1", T0 + 59_000, "a", Map.of("tokens.key.1m", 40L))).outcome());
        // A unit leaves a window of W between W and W + W/10 after it was counted, as on the gateway (counters.md):
        // 67 s after d0 its drift is gone, and so is d1's after 67 s more.
        assertEquals(Outcome.THROTTLE, r.replay(allowed("d2", T0 + 67_000, "a", Map.of("tokens.key.1m", 40L))).outcome(),
                "d0 has left; d1 (allowed here too) drifts nothing");
        assertEquals(Outcome.ALLOW, r.replay(allowed("d3", T0 + 68_000, "a", Map.of("tokens.key.1m", 20L))).outcome());
    }

    @Test
    void aCounterTheServingRevisionDidNotHaveCountsFromTheFirstReplayedRequest() {
        Replayer r = candidate("""
                policy team {
                  models allow ["a", "b"]
                  limit requests 2 per 1h by key
                }
                """);
        List<RecordedDecision> in = new ArrayList<>();
        for (int i = 0; i < 4; i++) in.add(allowed("d" + i, T0 + i * 60_000, "a", Map.of()));
        in.add(allowed("d4", T0 + 4_000_000, "a", Map.of())); // the first two have left the hour (and its tenth: counters.md)
        assertEquals(List.of(Outcome.ALLOW, Outcome.ALLOW, Outcome.THROTTLE, Outcome.THROTTLE, Outcome.ALLOW), outcomes(r, in));
    }

    @Test
    void aNewDailyBudgetStartsAgainAtTheNextLocalMidnight() {
        Replayer r = candidate("""
                policy team {
                  models allow ["a"]
                  budget 0.00005 usd per day hard by key
                  zone "Europe/Berlin"
                }
                """);
        long evening = Instant.parse("2026-11-30T21:00:00Z").toEpochMilli(); // 22:00 in Berlin
        List<RecordedDecision> in = List.of(allowed("d0", evening, "a", Map.of()), allowed("d1", evening + 60_000, "a", Map.of()),
                allowed("d2", evening + 120_000, "a", Map.of()),
                allowed("d3", Instant.parse("2026-11-30T23:00:01Z").toEpochMilli(), "a", Map.of())); // 00:00:01 in Berlin
        // Each reserves 20 micro-dollars against 50: two fit, the third does not; the next day starts at zero.
        assertEquals(List.of(Outcome.ALLOW, Outcome.ALLOW, Outcome.THROTTLE, Outcome.ALLOW), outcomes(r, in));
    }

    @Test
    void aRequestTheServingRevisionRefusedReservesItsEstimateWhenTheCandidateAdmitsIt() {
        Replayer r = candidate("""
                policy team {
                  models allow ["a", "b"]
                  limit tokens 50 per 1m by key
                }
                """);
        RecordedDecision refused = new RecordedDecision("d0", T0, "key1", "svc", "", "team", "rev1", "b", 10, 10, false, DataClass.PUBLIC, false,
                Map.of(), Map.of(), Map.of(), Map.of("tokens.key.1m", 0L), Map.of(), Outcome.DENY, "model_not_allowed", List.of("models.allow"),
                null, false, 0, 0);
        Replayer.Verdict v = r.replay(refused);
        assertEquals(Outcome.ALLOW, v.outcome());
        assertEquals(20, v.costMicros(), "its reservation's price: 10 + 10 tokens at 1 usd per million");
        // The recorded counter did not have its 20 tokens; the candidate's does: 50 - (20 + 20) < 20.
        assertEquals(Outcome.THROTTLE, r.replay(allowed("d1", T0 + 1000, "a", Map.of("tokens.key.1m", 20L))).outcome());
    }

    @Test
    void aKeyWhosePolicyTheCandidateLacksIsRefusedAsTheGatewayWould() {
        Replayer r = candidate("policy other { models allow [\"a\"] }\n");
        Replayer.Verdict v = r.replay(allowed("d0", T0, "a", Map.of()));
        assertEquals(Outcome.DENY, v.outcome());
        assertEquals("policy_missing", v.kind());
    }

    @Test
    void decisionsMustComeInTheOrderTheyWereMade() {
        Replayer r = candidate("policy team { models allow [\"a\"] }\n");
        r.replay(allowed("d1", T0 + 1000, "a", Map.of()));
        assertThrows(IllegalArgumentException.class, () -> r.replay(allowed("d0", T0, "a", Map.of())));
    }

    @Test
    void failOnComparesTheReportsNumbers() {
        Map<String, Double> vars = new HashMap<>(Map.of("changed", 3.0, "denied", 0.0, "spend_refused_usd", 12.5));
        Set<String> names = vars.keySet();
        assertTrue(FailOn.parse("changed > 0", names).holds(vars));
        assertFalse(FailOn.parse("changed > 3", names).holds(vars));
        assertTrue(FailOn.parse("denied > 0 or spend_refused_usd >= 12.5", names).holds(vars));
        assertFalse(FailOn.parse("changed >= 1 and denied != 0", names).holds(vars));
        assertTrue(FailOn.parse("denied == 1 and changed > 0 or changed == 3", names).holds(vars), "and binds tighter than or");
        assertThrows(IllegalArgumentException.class, () -> FailOn.parse("changed >> 0", names));
        assertThrows(IllegalArgumentException.class, () -> FailOn.parse("changed > 0 or", names));
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> FailOn.parse("refusals > 0", names));
        assertTrue(unknown.getMessage().contains("`refusals`"), unknown.getMessage());
    }

    @Test
    void aSubKeysRequestsCountOnItsRootsCountersAsTheGatewayCountsThem() {
        Replayer r = candidate("""
                policy team {
                  models allow ["a"]
                  limit requests 2 per 1h by key
                }
                """);
        RecordedDecision root = allowed("d0", T0, "a", Map.of());
        RecordedDecision sub = new RecordedDecision("d1", T0 + 1000, "sub1", "task", "", "team", "rev1", "a", 10, 10, false, DataClass.PUBLIC, false,
                Map.of(), Map.of(), Map.of(), Map.of(), Map.of(), Outcome.ALLOW, "allowed", List.of(), null, true, 20, 20, "", "", "", "key1");
        RecordedDecision again = allowed("d2", T0 + 2000, "a", Map.of());
        assertEquals(List.of(Outcome.ALLOW, Outcome.ALLOW, Outcome.THROTTLE), outcomes(r, List.of(root, sub, again)),
                "the family shares the root's two requests an hour");
    }
}
