package keyguard.bench;

import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import keyguard.compiler.Backend;
import keyguard.policy.CounterRef;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;
import keyguard.policy.UsageView;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code decide} on the example policies: the compiled hidden class against the reference
 * interpreter, on the same inputs.
 *
 * <ul>
 *   <li>{@code baseline} reads the input and returns it: the cost of the harness, the
 *       call and the input object, to subtract by eye.</li>
 *   <li>Counters are excluded on purpose: the usage view is an in-memory function, so
 *       this measures the decision logic alone (counter costs are the counter store's
 *       benchmark).</li>
 *   <li>Results are returned to JMH, so nothing is dead code; inputs live in a
 *       {@code @State} object, so nothing folds to a constant.</li>
 *   <li>{@code case}: {@code allow} is the hot path (a team key calling an allowed model,
 *       all rules evaluated, every limit and budget checked); {@code forbid} denies by a
 *       rule (allocates the reason); {@code throttle} hits a limit (a preallocated
 *       decision).</li>
 * </ul>
 *
 * <pre>
 * java -jar bench/target/benchmarks.jar DecideBenchmark -prof gc
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseParallelGC", "--sun-misc-unsafe-memory-access=allow"})
public class DecideBenchmark {

    /** The four example policies, and {@code rules20}: a policy with twenty typical forbid rules, none firing on allow. */
    @Param({"search", "support", "research", "demo", "rules20"})
    public String policy;

    @Param({"allow", "forbid", "throttle"})
    public String scenario;

    private PolicyEvaluator compiled;
    private PolicyEvaluator interpreted;
    private DecisionInput input;

    @Setup
    public void setup() {
        PolicySet set = policy.equals("rules20") ? ExamplePolicies.compileWith(RULES20) : ExamplePolicies.compile();
        compiled = Backend.COMPILED.evaluators(set).get(policy);
        interpreted = Backend.INTERPRETER.evaluators(set).get(policy);
        Map<CounterRef, Long> usage = new java.util.HashMap<>();
        input = new DecisionInput().keyId("k1").keyName("indexer").keyOwner("team")
                .labels(Map.of("env", "prod")).estimatedTokens(800).maxTokens(256)
                .at(Instant.parse("2026-06-08T10:00:00Z"));
        switch (policy) {
            case "search", "support" -> input.model("gpt-4o-mini");
            case "research" -> input.model("sim-large");
            case "rules20" -> input.model("gpt-4o-mini");
            default -> input.model("sim-small");
        }
        switch (scenario) {
            case "forbid" -> {
                switch (policy) {
                    case "search" -> input.model("gpt-4o").labels(Map.of("env", "staging")).at(Instant.parse("2026-06-06T10:00:00Z"));
                    case "support" -> input.model("claude-sonnet").estimatedTokens(90_000);
                    case "research" -> input.model("gpt-4o").at(Instant.parse("2026-06-06T10:00:00Z"));
                    case "rules20" -> input.keyName("svc-15");
                    default -> input.model("sim-large"); // demo has no rules: denied by the model list
                }
            }
            case "throttle" -> {
                usage.put(CounterRef.parse("requests.key.1m"), 1_000_000L);
                usage.put(CounterRef.parse("requests.policy.1d"), 1_000_000L);
            }
            default -> { }
        }
        UsageView view = usage.isEmpty() ? UsageView.NONE : ref -> usage.getOrDefault(ref, 0L);
        input.usage(view);
        String c = compiled.decide(input).toString();
        String i = interpreted.decide(input).toString();
        if (!c.equals(i)) throw new IllegalStateException("backends disagree: " + c + " vs " + i);
        if (!c.startsWith(switch (scenario) { case "allow" -> "allow"; case "forbid" -> "deny"; default -> "throttle"; })) {
            throw new IllegalStateException(policy + "/" + scenario + " decided " + c);
        }
    }

    /** Twenty rules of the kinds real policies have: names, labels, models, hours, sizes, metadata. */
    static final String RULES20;

    static {
        StringBuilder sb = new StringBuilder("policy rules20 = team_default(team: \"bench\", cost_center: \"cc-0\") {\n");
        for (int i = 0; i < 20; i++) {
            sb.append("  @id(\"rule-").append(i).append("\")\n  forbid when { ");
            sb.append(switch (i % 5) {
                case 0 -> "key.name == \"svc-" + i + "\" && model.id != \"sim-small\"";
                case 1 -> "key.labels[\"team\"] == \"t" + i + "\" && request.estimated_tokens > " + (10_000 + i);
                case 2 -> "model.id in [\"gpt-4o\", \"claude-sonnet\"] && key.env != \"prod\" && time.hour in 0..6";
                case 3 -> "request.metadata[\"purpose\"] == \"p" + i + "\" || request.max_tokens > " + (100_000 + i);
                default -> "startsWith(key.owner, \"ext-" + i + "\") && !request.stream";
            });
            sb.append(" }\n");
        }
        RULES20 = sb.append("}\n").toString();
    }

    @Benchmark
    public DecisionInput baseline() {
        return input;
    }

    @Benchmark
    public Decision compiled() {
        return compiled.decide(input);
    }

    @Benchmark
    public Decision interpreter() {
        return interpreted.decide(input);
    }
}
