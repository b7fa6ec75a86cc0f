package keyguard.bench;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import keyguard.compiler.Backend;
import keyguard.compiler.PolicyCompiler;
import keyguard.functions.FunctionLibrary;
import keyguard.functions.PolicyFunction;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What a policy function adds to a compiled decision. One policy, one forbid rule, three
 * ways to write its condition:
 *
 * <ul>
 *   <li>{@code builtin}: {@code request.estimated_tokens > 1000} — no function, the baseline;
 *   <li>{@code java}: {@code risk_java(request.estimated_tokens) > 80}, a plugin function;
 *   <li>{@code js}: {@code risk_js(request.estimated_tokens) > 80}, the same logic in JavaScript.
 * </ul>
 *
 * {@code directCall} calls the plugin's {@code apply} from Java, the "direct call" a plugin
 * function should cost. Decisions allow (the rule does not fire), so nothing but the call
 * differs; results go back to JMH and the input lives in {@code @State}, so nothing folds
 * or dies. Run twice: as is (GraalJS interpreted) and with the Graal JIT,
 * {@code bench/jmh.sh --graal-jit FunctionBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FunctionBenchmark {

    /** The plugin function: 90 for long prompts, 10 otherwise. */
    public static final class RiskJava implements PolicyFunction {
        public String name() { return "risk_java"; }
        public long apply(long tokens) { return tokens > 1000 ? 90 : 10; }
    }

    static final String JS = "function risk_js(tokens) { return tokens > 1000 ? 90 : 10; }\n";

    @Param({"builtin", "java", "js"})
    public String condition;

    private PolicySet set;
    private PolicyEvaluator policy;
    private DecisionInput input;
    private final RiskJava direct = new RiskJava();

    @Setup(Level.Trial)
    public void setup() {
        String when = switch (condition) {
            case "builtin" -> "request.estimated_tokens > 1000";
            case "java" -> "risk_java(request.estimated_tokens) > 80";
            default -> "risk_js(request.estimated_tokens) > 80";
        };
        String kgp = """
                function js risk_js(tokens: int) -> int = file("risk.js")
                policy p {
                  models allow ["sim-small"]
                  @id("risky") forbid when { %s }
                }
                """.formatted(when);
        List<PolicyCompiler.Source> sources = new java.util.ArrayList<>(PolicyCompiler.read(ExamplePolicies.dir()));
        sources.add(new PolicyCompiler.Source("bench/functions.kgp", kgp.getBytes(StandardCharsets.UTF_8)));
        sources.add(new PolicyCompiler.Source("bench/risk.js", JS.getBytes(StandardCharsets.UTF_8)));
        PolicyCompiler.Result r = PolicyCompiler.compile(sources, "bench", FunctionLibrary.of("bench", new RiskJava()));
        if (!r.ok()) throw new IllegalStateException(r.diagnostics().render());
        set = r.set();
        policy = Backend.COMPILED.evaluators(set).get("p");
        input = new DecisionInput().model("sim-small").keyId("k1").estimatedTokens(800).maxTokens(256)
                .at(Instant.parse("2026-06-08T10:00:00Z"));
        if (!policy.decide(input).allowed()) throw new IllegalStateException("the benchmark decision must allow");
    }

    @TearDown(Level.Trial)
    public void close() {
        set.close();
    }

    @Benchmark
    public Decision decide() {
        return policy.decide(input);
    }

    @Benchmark
    public long directCall() {
        return direct.apply(input.estimatedTokens());
    }
}
