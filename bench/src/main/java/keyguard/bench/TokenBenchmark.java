package keyguard.bench;

import java.util.List;
import java.util.concurrent.TimeUnit;
import keyguard.tokens.TokenCounter;
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
 * Counting a prompt before forwarding: cl100k against o200k, and the byte bound the
 * gateway uses instead when every limit is far away.
 *
 * <ul>
 *   <li>The text is English prose with some code and non-ASCII, built in {@code @Setup}
 *       (not a constant the JIT could fold); results go back to JMH (no dead code).</li>
 *   <li>{@code baseline} returns the list: the harness cost.</li>
 * </ul>
 *
 * <pre>
 * bench/jmh.sh TokenBenchmark -prof gc
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseParallelGC"})
public class TokenBenchmark {
    @Param({"1024", "10240"})
    public int bytes;

    private List<String> prompt;

    @Setup
    public void setup() {
        String unit = "The gateway reserves tokens before it forwards a request; für Zähler gilt: "
                + "if (used + need > cap) { refuse(); } else { reserve(need); } — then it settles. ";
        StringBuilder sb = new StringBuilder();
        while (sb.length() < bytes) sb.append(unit);
        sb.setLength(bytes);
        prompt = List.of("You are a helpful assistant.", sb.toString());
    }

    @Benchmark
    public List<String> baseline() {
        return prompt;
    }

    @Benchmark
    public int cl100k() {
        return TokenCounter.CL100K.countPrompt(prompt);
    }

    @Benchmark
    public int o200k() {
        return TokenCounter.O200K.countPrompt(prompt);
    }

    @Benchmark
    public long byteBound() {
        return TokenCounter.promptBound(prompt);
    }
}
