package keyguard.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import keyguard.audit.AuditEvent;
import keyguard.audit.AuditLog;
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
 * One audit event into the Chronicle Queue on a real memory-mapped file: the JSON the
 * event becomes, the append, and the spend index update — what the writer thread does per
 * request. {@code baseline} builds the event record only (the request thread's share).
 *
 * Traps avoided: every event has its own decision id and time (no cached JSON), the queue
 * grows for real (files roll and map as in production), results go back to JMH.
 *
 * <pre>bench/jmh.sh AuditAppendBenchmark -prof gc</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class AuditAppendBenchmark {
    private Path dir;
    private AuditLog log;
    private long n;

    @Setup(Level.Trial)
    public void setup() {
        dir = BenchFiles.tempDir("keyguard-audit-bench");
        log = AuditLog.open(dir);
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        log.close();
        BenchFiles.delete(dir);
    }

    private AuditEvent event() {
        long i = n++;
        return new AuditEvent("dec_" + Long.toHexString(0x1a2b3c4d5e6fL + i), 1_795_000_000_000L + i, "pvziyj3ymefr", "bench", "team-bench",
                "bench", "kgp-0123456789ab", List.of(), "gpt-4o-mini", "gpt-4o-mini", "openai", 14, 14, 4, 22, "ok", 200, 56, 1,
                "public", "", "", "none", Map.of("team", "bench"), List.of(), "bench", keyguard.policy.Usage.of(14, 4), "provider", decided, "bench", "", "");
    }

    /** What a decision of a policy with three limits and two budgets records for replay (schema 2). */
    private static final keyguard.audit.DecisionRecord decided;

    static {
        keyguard.policy.DecisionInput in = new keyguard.policy.DecisionInput().model("gpt-4o-mini").estimatedTokens(14).maxTokens(256)
                .keyId("pvziyj3ymefr").keyName("bench").labels(Map.of("env", "prod")).epochMillis(1_795_000_000_000L);
        keyguard.policy.UsageReadings readings = new keyguard.policy.UsageReadings(ref -> 1234, 5);
        for (String c : List.of("requests.key.1m", "tokens.key.1m", "tokens.policy.1d", "spend.policy.day", "spend.key.month")) {
            readings.used(keyguard.policy.CounterRef.parse(c), 0);
        }
        decided = new keyguard.audit.DecisionRecord(in, readings, new keyguard.policy.Decision(keyguard.policy.DecisionKind.ALLOWED, "bench",
                List.of(), "", Map.of("team", "bench"), null, keyguard.policy.DataAction.NONE, null, List.of()), null);
    }

    @Benchmark
    public AuditEvent baseline() {
        return event();
    }

    @Benchmark
    public long append() {
        log.appendNow(event());
        return log.written();
    }
}
