package keyguard.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import keyguard.classify.Classification;
import keyguard.classify.Classifier;
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
import keyguard.policy.ModelInfo;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;
import keyguard.policy.Usage;
import keyguard.proxy.Reservation;
import keyguard.tokens.TokenCounter;
import keyguard.wire.BadRequest;
import keyguard.wire.Endpoint;
import keyguard.wire.ParsedRequest;
import keyguard.wire.RequestParser;
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
 * The gateway's whole in-process path for one allowed chat request, from the body's bytes
 * to the bytes of the upstream request, with the socket stubbed out: the same production
 * calls, in the order {@code InferenceHandler} makes them —
 * <ol>
 *   <li>authenticate the key (id, on-heap index, HMAC);</li>
 *   <li>bind the key's counters and pass the request-limit gate;</li>
 *   <li>parse the body ({@link RequestParser}, with its billables);</li>
 *   <li>count the prompt's tokens (the policy has token limits, so counting cannot be
 *       skipped);</li>
 *   <li>classify every text sent upstream;</li>
 *   <li>decide (compiled policy) on the live counters;</li>
 *   <li>price the reservation ({@link Reservation}) and reserve on the counters;</li>
 *   <li>write the upstream body (model renamed, output cap added) to bytes;</li>
 *   <li>settle the reservation as the response's end would.</li>
 * </ol>
 * Not in it: Undertow's HTTP parsing and socket writes, the audit writer's append (see
 * {@code AuditAppendBenchmark}) and the response relay — the load generator measures those.
 * {@code decideOnly} is steps 1, 3 (without counting), 5, 6 and 8: the "decision path" whose
 * target is 1 µs.
 *
 * Traps avoided: bodies and secrets are state fields (no folding); the upstream bytes go
 * back to JMH (no dead code); counters are real memory-mapped Chronicle files; limits are
 * sized so nothing is refused.
 *
 * <pre>bench/jmh.sh InProcessPathBenchmark -prof gc</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class InProcessPathBenchmark {
    static final String POLICY = """
            policy bench {
              models allow ["sim-small"]
              limit requests 1_000_000_000 per 1m by key
              limit tokens 1_000_000_000_000 per 1d by policy
              limit concurrent 10_000 by key
              budget 1_000_000 usd per day hard by policy
              budget 10_000_000 usd per month soft warn at 80% by policy
            }
            """;

    @Param({"200", "10240"})
    public int bytes;

    private Path dir;
    private Enforcer enforcer;
    private ChronicleKeyStore keys;
    private KeySecrets secrets;
    private PolicySet set;
    private PolicyEvaluator evaluator;
    private Classifier classifier;
    private String secret;
    private byte[] body;

    @Setup(Level.Trial)
    public void setup() {
        dir = BenchFiles.tempDir("keyguard-path-bench");
        set = ExamplePolicies.compileWith(POLICY);
        evaluator = Backend.COMPILED.evaluators(set).get("bench");
        classifier = new Classifier(set.detectors());
        enforcer = new Enforcer(ChronicleCounterStore.open(dir, 100_000, 1024), Clock.systemUTC(), Duration.ofMinutes(30), null);
        keys = ChronicleKeyStore.open(dir.resolve("keys.dat"), 100_000);
        secrets = new KeySecrets(KeySecrets.newServerSecret());
        KeySecrets.NewSecret fresh = KeySecrets.generate();
        secret = fresh.secret();
        keys.put(new KeyRecord(fresh.id(), "bench", "team-bench", "bench", Map.of("env", "prod"), Instant.now(), null, KeyState.ACTIVE,
                secrets.hash(secret)));
        body = RequestParseBenchmark.body(bytes).replace("gpt-4o-mini", "sim-small").getBytes(StandardCharsets.UTF_8);
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        enforcer.close();
        keys.close();
        BenchFiles.delete(dir);
    }

    @Benchmark
    public byte[] wholePath() throws BadRequest {
        KeyRecord key = keys.get(KeySecrets.idOf(secret));
        if (key == null || !secrets.matches(secret, key.secretHash())) throw new IllegalStateException("auth");
        KeyCounters counters = enforcer.counters(key.id(), evaluator.policy());
        long now = System.currentTimeMillis();
        if (enforcer.requestGate(counters, now) != null) throw new IllegalStateException("gate");
        ParsedRequest request = RequestParser.parse(Endpoint.CHAT_COMPLETIONS, body);
        ModelInfo model = set.model(request.model());
        long prompt = TokenCounter.forModel(model).countPrompt(request.texts()) + request.billables().mediaTokens();
        long output = (request.maxTokens() > 0 ? request.maxTokens() : 1024) * request.billables().choices();
        Classification data = classifier.classify(request.body());
        DecisionInput in = new DecisionInput().model(request.model()).estimatedTokens(prompt).maxTokens(output)
                .stream(request.stream()).classification(data.dataClass()).metadata(request.metadata()).keyId(key.id())
                .keyName(key.name()).keyOwner(key.owner()).labels(key.labels()).epochMillis(now).usage(counters);
        Decision d = evaluator.decide(in);
        if (!d.allowed()) throw new IllegalStateException(d.toString());
        ParsedRequest forwarded = Reservation.outbound(request, output, "max_completion_tokens");
        Reservation reservation = Reservation.of(model, prompt, output, request.billables(), false);
        Admission a = enforcer.admit(counters, reservation.tokens(), reservation.costMicros());
        ObjectNode upstream = forwarded.body() == request.body() ? request.body().deepCopy() : forwarded.body();
        upstream.put("model", model.upstream());
        byte[] out = upstream.toString().getBytes(StandardCharsets.UTF_8);
        Reservation.Charge charge = reservation.charge(model, "ok", Usage.of(prompt, 4), true);
        enforcer.settle((Lease) a, true, charge.tokens(), charge.costMicros());
        return out;
    }

    @Benchmark
    public Decision decideOnly() {
        KeyRecord key = keys.get(KeySecrets.idOf(secret));
        if (key == null || !secrets.matches(secret, key.secretHash())) throw new IllegalStateException("auth");
        KeyCounters counters = enforcer.counters(key.id(), evaluator.policy());
        DecisionInput in = new DecisionInput().model("sim-small").estimatedTokens(60).maxTokens(256).keyId(key.id())
                .keyName(key.name()).keyOwner(key.owner()).labels(key.labels()).epochMillis(System.currentTimeMillis()).usage(counters);
        Decision d = evaluator.decide(in);
        Admission a = enforcer.admit(counters, in.tokensNeeded(), 600);
        enforcer.settle((Lease) a, true, 300, 450);
        return d;
    }
}
