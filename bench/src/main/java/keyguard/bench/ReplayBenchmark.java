package keyguard.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import keyguard.compiler.emit.CompiledPolicies;
import keyguard.policy.DataClass;
import keyguard.policy.Outcome;
import keyguard.policy.PolicySet;
import keyguard.replay.RecordedDecision;
import keyguard.replay.Replayer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code keyguard replay}'s throughput (issue 18: at least a million decisions per second
 * per core), on a day of recorded decisions of 1,000 keys under a policy with three limits,
 * two budgets and a forbid rule, against a candidate that tightens a limit (so counters
 * drift and some decisions change).
 *
 * <ul>
 *   <li>{@code replay}: the candidate's compiled evaluator deciding each recorded request
 *       with the simulated counters, as {@code keyguard replay} does after reading the log;
 *       one operation is one decision.</li>
 *   <li>{@code parse}: reading one audit event's JSON into a recorded decision (Jackson's
 *       tree), the other part of the command's time.</li>
 * </ul>
 *
 * <pre>
 * bench/jmh.sh ReplayBenchmark -prof gc
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ReplayBenchmark {
    static final int DECISIONS = 200_000;
    static final String POLICY = """
            policy replayed {
              models allow ["gpt-4o-mini", "gpt-4o"]
              limit requests 600 per 1m by key
              limit tokens %s per 1m by key
              limit tokens 50_000_000 per 1d by policy
              budget 20 usd per day hard by key
              budget 5_000 usd per month hard by policy
              @id("no-big-streams") forbid when { request.model == "gpt-4o" && request.stream && request.max_tokens > 2_000 }
            }
            """;

    PolicySet candidate;
    Map<String, keyguard.policy.PolicyEvaluator> evaluators;
    List<RecordedDecision> day;
    List<String> json;
    int next;

    @Setup
    public void setUp() throws Exception {
        candidate = ExamplePolicies.compileWith(POLICY.formatted("4_000"));
        evaluators = CompiledPolicies.compile(candidate);
        java.util.SplittableRandom random = new java.util.SplittableRandom(42);
        Map<String, long[]> perKey = new HashMap<>();
        day = new ArrayList<>(DECISIONS);
        long t0 = 1_796_000_000_000L;
        for (int i = 0; i < DECISIONS; i++) {
            String key = "key" + random.nextInt(1000);
            long at = t0 + i * 400L; // a day
            long[] used = perKey.computeIfAbsent(key, k -> new long[3]);
            long tokens = 200 + random.nextInt(1800);
            Map<String, Long> counters = Map.of("requests.key.1m", used[0] % 600, "tokens.key.1m", used[1] % 20_000,
                    "tokens.policy.1d", used[2], "spend.key.day", used[1] / 10, "spend.policy.month", used[2] / 5, "concurrent.key", 0L);
            used[0]++;
            used[1] += tokens;
            used[2] += tokens;
            day.add(new RecordedDecision("dec_" + i, at, key, key, "", "replayed", "rev1", random.nextInt(4) == 0 ? "gpt-4o" : "gpt-4o-mini",
                    tokens / 2, 1024, random.nextBoolean(), DataClass.PUBLIC, false, Map.of(), Map.of(), Map.of(), counters, Map.of(),
                    Outcome.ALLOW, "allowed", List.of(), null, true, tokens, tokens * 3));
        }
        ObjectMapper m = new ObjectMapper();
        json = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            RecordedDecision r = day.get(i);
            json.add("{\"type\":\"decision\",\"schema\":2,\"decision_id\":\"" + r.decisionId() + "\",\"node\":\"n1\",\"time\":\"2026-11-30T10:00:00Z\","
                    + "\"key_id\":\"" + r.keyId() + "\",\"key_name\":\"bench\",\"owner\":\"\",\"policy\":\"replayed\",\"revision\":\"rev1\",\"rules\":[],"
                    + "\"model\":\"" + r.model() + "\",\"routed_model\":\"" + r.model() + "\",\"provider\":\"openai\",\"estimated_tokens\":" + r.estimatedTokens()
                    + ",\"prompt_tokens\":" + r.estimatedTokens() + ",\"completion_tokens\":100,\"cost_micros\":" + r.costMicros()
                    + ",\"outcome\":\"ok\",\"status\":200,\"gateway_us\":60,\"total_ms\":300,\"data_class\":\"public\",\"detected\":\"\","
                    + "\"usage\":{\"input\":" + r.estimatedTokens() + ",\"cache_write\":0,\"cache_write_1h\":0,\"cache_read\":0,\"output\":100,\"reasoning\":0,"
                    + "\"images\":0,\"web_searches\":0,\"charged_by\":\"provider\"},\"data_action\":\"none\",\"tags\":{\"team\":\"bench\"},"
                    + "\"input\":{\"decided_at_ms\":" + r.decidedAt() + ",\"model\":\"" + r.model() + "\",\"estimated_tokens\":" + r.estimatedTokens()
                    + ",\"max_tokens\":1024,\"stream\":" + r.stream() + ",\"data_class\":\"public\",\"unscannable\":false,\"labels\":{},\"metadata\":{},"
                    + "\"request_tags\":{},\"counters\":" + m.writeValueAsString(r.counters()) + "},"
                    + "\"decision\":{\"outcome\":\"allow\",\"kind\":\"allowed\",\"rules\":[],\"data_action\":\"none\"}}");
        }
        if (RecordedDecision.parse(m.readTree(json.get(0))) == null) throw new IllegalStateException("the sample event does not parse");
    }

    /** One decision per operation: a whole day replayed per invocation, by a fresh replayer (counters start empty). */
    @Benchmark
    @OperationsPerInvocation(DECISIONS)
    public long replay() {
        Replayer r = new Replayer(candidate, evaluators);
        long refused = 0;
        for (RecordedDecision d : day) if (r.replay(d).outcome() != Outcome.ALLOW) refused++;
        return refused;
    }

    static final ObjectMapper JSON = new ObjectMapper();

    @Benchmark
    public RecordedDecision parse() throws Exception {
        String line = json.get(next++ % json.size());
        return RecordedDecision.parse(JSON.readTree(line));
    }
}
