package keyguard.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import keyguard.compiler.Backend;
import keyguard.counters.Admission;
import keyguard.counters.ChronicleCounterStore;
import keyguard.counters.Enforcer;
import keyguard.counters.KeyCounters;
import keyguard.counters.Lease;
import keyguard.keys.ChronicleKeyStore;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeySecrets;
import keyguard.keys.KeyState;
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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The counter store on the request path, on real memory-mapped Chronicle files.
 *
 * <ul>
 *   <li>{@code reserveSettle}: one request's reservation on the five counters of a key
 *       with three limits and two budgets, then its settlement with smaller actual usage.
 *       Run with {@code -t 2}: each thread has its own key (thread-scoped state), so the
 *       two share no counter and should scale.</li>
 *   <li>{@code decisionPath}: what the gateway does per request besides JSON and token
 *       counting — key lookup with the HMAC check, the key's bound counters, the compiled
 *       decision reading them, the reservation — and the settlement.</li>
 *   <li>{@code baseline} returns the state: the harness's own cost.</li>
 *   <li>Results go back to JMH (no dead code); inputs live in state objects (no constant
 *       folding). Limits are sized so that nothing is ever refused: this is the allow path.
 *       SampleTime mode gives p50 and p99 alongside the mean.</li>
 * </ul>
 *
 * <pre>
 * bench/jmh.sh CounterBenchmark -t 1 -prof gc
 * bench/jmh.sh CounterBenchmark.reserveSettle -t 2
 * </pre>
 */
@BenchmarkMode({Mode.SampleTime})
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseParallelGC"})
public class CounterBenchmark {

    static final String POLICY = """
            policy bench {
              models allow ["gpt-4o-mini"]
              limit requests 1_000_000_000 per 1m by key
              limit tokens 1_000_000_000_000 per 1d by key
              limit concurrent 10_000 by key
              budget 1_000_000 usd per day hard by key
              budget 10_000_000 usd per month soft warn at 80% by key
            }
            """;

    @State(Scope.Benchmark)
    public static class Shared {
        Path dir;
        Enforcer enforcer;
        ChronicleKeyStore keys;
        KeySecrets secrets;
        PolicyEvaluator evaluator;
        PolicySet set;

        @Setup(Level.Trial)
        public void open() {
            dir = BenchFiles.tempDir("keyguard-counter-bench");
            set = ExamplePolicies.compileWith(POLICY);
            evaluator = Backend.COMPILED.evaluators(set).get("bench");
            enforcer = new Enforcer(ChronicleCounterStore.open(dir, 100_000, 1024), Clock.systemUTC(), Duration.ofMinutes(30), null);
            keys = ChronicleKeyStore.open(dir.resolve("keys.dat"), 100_000);
            secrets = new KeySecrets(KeySecrets.newServerSecret());
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            enforcer.close();
            keys.close();
            BenchFiles.delete(dir);
        }
    }

    @State(Scope.Thread)
    public static class PerThread {
        String secret;
        KeyCounters counters;
        DecisionInput input;

        @Setup(Level.Trial)
        public void bind(Shared s) {
            KeySecrets.NewSecret fresh = KeySecrets.generate();
            secret = fresh.secret();
            s.keys.put(new KeyRecord(fresh.id(), "bench", "team-bench", "bench", Map.of("env", "prod"), Instant.now(), null,
                    KeyState.ACTIVE, s.secrets.hash(fresh.secret())));
            counters = s.enforcer.counters(fresh.id(), s.set.policy("bench"));
            input = new DecisionInput().model("gpt-4o-mini").estimatedTokens(800).maxTokens(256).keyId(fresh.id())
                    .keyName("bench").keyOwner("team-bench").labels(Map.of("env", "prod")).usage(counters);
        }
    }

    @Benchmark
    public Object baseline(PerThread t) {
        return t.counters;
    }

    @Benchmark
    public Admission reserveSettle(Shared s, PerThread t) {
        Admission a = s.enforcer.admit(t.counters, 1056, 600);
        s.enforcer.settle((Lease) a, true, 900, 450);
        return a;
    }

    @Benchmark
    public Decision decisionPath(Shared s, PerThread t) {
        String id = KeySecrets.idOf(t.secret);
        KeyRecord key = s.keys.get(id);
        if (key == null || !s.secrets.matches(t.secret, key.secretHash())) throw new IllegalStateException("auth failed");
        KeyCounters kc = s.enforcer.counters(key.id(), s.evaluator.policy());
        DecisionInput in = t.input.epochMillis(System.currentTimeMillis()).usage(kc);
        Decision d = s.evaluator.decide(in);
        if (!d.allowed()) throw new IllegalStateException(d.toString());
        Admission a = s.enforcer.admit(kc, in.tokensNeeded(), 600);
        s.enforcer.settle((Lease) a, true, 900, 450);
        return d;
    }

    /** The parts of {@link #decisionPath}, to see where its time goes. */
    @Benchmark
    public boolean keyLookupAndHmac(Shared s, PerThread t) {
        KeyRecord key = s.keys.get(KeySecrets.idOf(t.secret));
        return s.secrets.matches(t.secret, key.secretHash());
    }

    @Benchmark
    public Decision decideOnLiveCounters(Shared s, PerThread t) {
        return s.evaluator.decide(t.input.epochMillis(System.currentTimeMillis()));
    }

}
