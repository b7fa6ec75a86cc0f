package keyguard.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import keyguard.compiler.emit.PolicyEmitter;
import keyguard.compiler.interp.InterpretedPolicy;
import keyguard.policy.CounterRef;
import keyguard.policy.DataClass;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.Policy;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;
import org.junit.jupiter.api.Test;

/**
 * The compiled backend must agree with the reference interpreter on every input. This
 * generates random policies as source text (so the parser, checker and folding are in
 * the loop too) and random requests, and compares whole decisions.
 *
 * <p>Reproduce a failure with {@code -Dkeyguard.seed=<seed printed in the failure>}.
 */
class DifferentialTest {
    private static final int POLICIES = 1_000;
    private static final int INPUTS_PER_POLICY = 12;

    private static final String[] NAMES = {"bot", "tmp-1", "indexer", "Ops-Bot", ""};
    private static final String[] OWNERS = {"team-a", "svc:search", "alice@example.com", ""};
    private static final String[] ENVS = {"prod", "staging", "dev", ""};
    private static final String[] MODELS = {"small", "big", "onprem", "nope"};
    private static final String[] WEEKDAYS = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    private static final String[] CLASSES = {"public", "internal", "confidential", "restricted"};
    private static final String[] ZONES = {"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"};

    @Test
    void compiledPoliciesDecideExactlyAsTheInterpreterOnTenThousandRandomPairs() {
        long seed = Long.getLong("keyguard.seed", System.nanoTime());
        SplittableRandom rnd = new SplittableRandom(seed);
        int pairs = 0;
        int denied = 0;
        int throttled = 0;
        int allowed = 0;
        for (int i = 0; i < POLICIES; i++) {
            String source = new Gen(rnd).policy();
            PolicySet set;
            try {
                set = Snippets.compile(source);
            } catch (AssertionError e) {
                throw new AssertionError("seed " + seed + ": generated policy does not compile:\n" + source, e);
            }
            Policy p = set.policy("p");
            PolicyEvaluator interpreted = new InterpretedPolicy(set, p);
            PolicyEvaluator compiled = PolicyEmitter.compile(set, p);
            for (int j = 0; j < INPUTS_PER_POLICY; j++) {
                Map<CounterRef, Long> usage = new HashMap<>();
                DecisionInput in = input(rnd, usage, p);
                Decision expected = interpreted.decide(in);
                Decision actual = compiled.decide(in);
                if (!expected.equals(actual)) {
                    throw new AssertionError("seed " + seed + ": backends disagree\npolicy:\n" + source + "\ninput: model=" + in.model()
                            + " key=" + in.keyName() + " labels=" + in.labels() + " at=" + Instant.ofEpochMilli(in.epochMillis())
                            + " usage=" + usage + "\ninterpreter: " + expected + "\ncompiled:    " + actual);
                }
                pairs++;
                switch (expected.outcome()) {
                    case ALLOW -> allowed++;
                    case DENY -> denied++;
                    case THROTTLE -> throttled++;
                }
            }
        }
        assertEquals(POLICIES * INPUTS_PER_POLICY, pairs);
        assertTrue(pairs >= 10_000);
        // The generator must reach every outcome, or the agreement proves little.
        assertTrue(allowed > pairs / 20 && denied > pairs / 20 && throttled > pairs / 50,
                "seed " + seed + ": poor coverage: allow " + allowed + ", deny " + denied + ", throttle " + throttled);
    }

    private static DecisionInput input(SplittableRandom r, Map<CounterRef, Long> usage, Policy p) {
        DecisionInput in = new DecisionInput()
                .model(r.nextInt(10) == 0 ? "nope" : pick(r, MODELS))
                .estimatedTokens(r.nextInt(10) == 0 ? r.nextLong(0, 1L << 40) : r.nextLong(0, 5_000))
                .maxTokens(r.nextInt(3) == 0 ? 0 : r.nextLong(0, 4_000))
                .stream(r.nextBoolean())
                .classification(DataClass.values()[r.nextInt(3) == 0 ? r.nextInt(4) : r.nextInt(2)])
                .unscannable(r.nextInt(4) == 0)
                .keyName(pick(r, NAMES))
                .keyOwner(pick(r, OWNERS))
                .keyId("k" + r.nextInt(3))
                .labels(r.nextBoolean() ? Map.of("env", pick(r, ENVS)) : Map.of())
                .metadata(r.nextBoolean() ? Map.of("ticket", r.nextBoolean() ? "OPS-" + r.nextInt(100) : "x") : Map.of())
                .requestTags(r.nextBoolean() ? Map.of("t", pick(r, ENVS)) : Map.of())
                .epochMillis(Instant.parse("2026-01-01T00:00:00Z").toEpochMilli() + r.nextLong(0, 400L * 86_400_000L));
        List<CounterRef> refs = new ArrayList<>();
        p.rateLimits().forEach(l -> refs.add(l.counter()));
        p.concurrency().forEach(l -> refs.add(l.counter()));
        p.budgets().forEach(b -> refs.add(b.counter()));
        refs.add(CounterRef.parse("requests.key.1m"));
        refs.add(CounterRef.parse("tokens.policy.1d"));
        for (CounterRef ref : refs) {
            long cap = 0;
            for (var l : p.rateLimits()) if (l.counter().equals(ref)) cap = l.amount();
            for (var l : p.concurrency()) if (l.counter().equals(ref)) cap = l.amount();
            for (var b : p.budgets()) if (b.counter().equals(ref)) cap = b.amount();
            long v = switch (r.nextInt(4)) {
                case 0 -> 0;
                case 1, 3 -> Math.max(0, cap - r.nextLong(1, Math.max(2, cap / 2 + 2)));
                case 2 -> cap + r.nextLong(0, 3);
                default -> Math.max(0, cap - r.nextLong(0, 3));
            };
            usage.put(ref, v);
        }
        // Half the inputs read like a fleet node's: the part a refusal may rely on is smaller than the estimate.
        boolean fleet = r.nextBoolean();
        return in.usage(new keyguard.policy.UsageView() {
            @Override
            public long used(CounterRef ref) {
                return usage.getOrDefault(ref, 0L);
            }

            @Override
            public long usedForCap(CounterRef ref, long nowMillis) {
                long v = usage.getOrDefault(ref, 0L);
                return fleet ? v / 2 : v;
            }
        });
    }

    private static String pick(SplittableRandom r, String[] from) {
        return from[r.nextInt(from.length)];
    }

    /** Random well-typed policy source over the models of {@link Snippets#MODELS}. */
    private static final class Gen {
        private final SplittableRandom r;

        Gen(SplittableRandom r) { this.r = r; }

        String policy() {
            StringBuilder sb = new StringBuilder("policy p {\n");
            sb.append("  zone \"").append(pick(r, ZONES)).append("\"\n");
            sb.append("  tags { team: \"t").append(r.nextInt(3)).append("\" }\n");
            List<String> models = new ArrayList<>();
            for (String m : new String[] {"small", "big", "onprem"}) if (r.nextInt(4) != 0) models.add("\"" + m + "\"");
            sb.append("  models allow [").append(String.join(", ", models)).append("]\n");
            if (r.nextInt(3) == 0) sb.append("  on unscannable ").append(r.nextBoolean() ? "allow" : "deny").append("\n");
            String[] windows = {"1m", "30s", "1h", "1d"};
            List<String> seen = new ArrayList<>();
            for (int i = r.nextInt(4); i > 0; i--) {
                String metric = r.nextBoolean() ? "requests" : "tokens";
                String scope = r.nextBoolean() ? "key" : "policy";
                String w = pick(r, windows);
                if (seen.contains(metric + scope + w)) continue;
                seen.add(metric + scope + w);
                long n = metric.equals("requests") ? r.nextLong(1, 100) : r.nextLong(100, 20_000);
                sb.append("  limit ").append(metric).append(' ').append(n).append(" per ").append(w).append(" by ").append(scope).append('\n');
            }
            if (r.nextBoolean()) sb.append("  limit concurrent ").append(r.nextInt(1, 5)).append(" by ").append(r.nextBoolean() ? "key" : "policy").append('\n');
            String[] periods = {"day", "week", "month"};
            List<String> budgets = new ArrayList<>();
            for (int i = r.nextInt(3); i > 0; i--) {
                String period = pick(r, periods);
                String scope = r.nextBoolean() ? "key" : "policy";
                if (budgets.contains(period + scope)) continue;
                budgets.add(period + scope);
                sb.append("  budget ").append(r.nextInt(1, 5)).append('.').append(r.nextInt(10)).append(" usd per ").append(period)
                        .append(r.nextBoolean() ? " hard" : " soft").append(r.nextBoolean() ? " warn at " + r.nextInt(1, 101) + "%" : "")
                        .append(" by ").append(scope).append('\n');
            }
            if (r.nextInt(3) != 0) {
                sb.append("  data max ").append(pick(r, CLASSES)).append(" on violation ").append(switch (r.nextInt(3)) {
                    case 0 -> "deny";
                    case 1 -> "redact";
                    default -> "reroute \"" + (r.nextBoolean() ? "onprem" : "big") + "\"";
                }).append('\n');
            }
            for (int i = r.nextInt(4); i > 0; i--) {
                sb.append("  @id(\"r").append(i).append("\")\n");
                if (r.nextBoolean()) sb.append("  @reason(\"{key.name} / {model.id} / {time.hour}\")\n");
                sb.append("  forbid when { ").append(bool(3)).append(" }");
                if (r.nextInt(3) == 0) sb.append(" unless { ").append(bool(2)).append(" }");
                sb.append('\n');
            }
            return sb.append("}\n").toString();
        }

        String bool(int depth) {
            int choice = r.nextInt(depth <= 0 ? 9 : 13);
            return switch (choice) {
                case 0 -> integer() + " " + pick(r, new String[] {"<", "<=", ">", ">=", "==", "!="}) + " " + integer();
                case 1 -> string() + " " + (r.nextBoolean() ? "==" : "!=") + " " + stringLit();
                case 2 -> pick(r, new String[] {"startsWith", "endsWith", "contains"}) + "(" + string() + ", " + stringLit() + ")";
                case 3 -> "matches(" + string() + ", \"" + pick(r, new String[] {"^tmp-", "[0-9]+$", "(?i)ops", "^$", "a|b"}) + "\")";
                case 4 -> string() + " in [" + stringLit() + ", " + stringLit() + (r.nextBoolean() ? ", \"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"prod\"" : "") + "]";
                case 5 -> pick(r, new String[] {"time.hour", "request.max_tokens"}) + " in " + r.nextInt(0, 10) + ".." + r.nextInt(10, 24);
                case 6 -> "time.weekday in " + pick(r, new String[] {"mon..fri", "sat..sun", "wed..wed", "[tue, thu]"});
                case 7 -> klass() + " " + pick(r, new String[] {"<", ">=", "==", "!="}) + " " + klass();
                case 8 -> pick(r, new String[] {"request.stream", "true", "false", "time.weekday == sun"});
                case 9, 10 -> "(" + bool(depth - 1) + ") " + (r.nextBoolean() ? "&&" : "||") + " (" + bool(depth - 1) + ")";
                case 11 -> "!(" + bool(depth - 1) + ")";
                default -> bool(depth - 1) + (r.nextBoolean() ? " && " : " || ") + bool(depth - 1);
            };
        }

        String integer() {
            return switch (r.nextInt(8)) {
                case 0 -> "request.estimated_tokens";
                case 1 -> "request.max_tokens";
                case 2 -> "time.hour";
                case 3 -> "model.context";
                case 4 -> "usage.requests.key.1m";
                case 5 -> "usage.tokens.policy.1d";
                case 6 -> "-" + r.nextInt(100);
                default -> Long.toString(r.nextLong(0, 3_000));
            };
        }

        String string() {
            return switch (r.nextInt(11)) {
                case 0 -> "request.model";
                case 1 -> "key.name";
                case 2 -> "key.owner";
                case 3 -> "key.env";
                case 4 -> "model.id";
                case 5 -> "model.hosting";
                case 6 -> "request.metadata[\"ticket\"]";
                case 7 -> "request.tags[\"t\"]";
                case 8 -> "lower(key.name)";
                case 9 -> "model.provider";
                default -> "key.labels[\"env\"]";
            };
        }

        String stringLit() {
            return "\"" + pick(r, new String[] {"bot", "tmp-", "prod", "small", "big", "self", "", "ops", "OPS-1", "sim", "up"}) + "\"";
        }

        String klass() {
            return switch (r.nextInt(3)) {
                case 0 -> "request.classification";
                case 1 -> "model.max_class";
                default -> pick(r, CLASSES);
            };
        }
    }
}
