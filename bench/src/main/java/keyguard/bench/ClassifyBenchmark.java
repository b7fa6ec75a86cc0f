package keyguard.bench;

import java.util.List;
import java.util.concurrent.TimeUnit;
import keyguard.classify.Classification;
import keyguard.classify.Classifier;
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
 * Scanning a prompt with every built-in detector.
 *
 * <ul>
 *   <li>{@code clean}: prose, code, numbers, dates and versions with nothing to find — the
 *       common case, which must not allocate per byte ({@code -prof gc}).</li>
 *   <li>{@code dirty}: the same text with an e-mail, a card number and a key every ~500
 *       bytes (allocation here is per finding, not per byte).</li>
 *   <li>Sizes from 1 KB to 1 MB show the scan is linear. The text is built in
 *       {@code @Setup} (no constant folding) and the result goes back to JMH (no dead code);
 *       {@code baseline} returns the input.</li>
 * </ul>
 *
 * <pre>
 * bench/jmh.sh ClassifyBenchmark -prof gc
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseParallelGC"})
public class ClassifyBenchmark {
    @Param({"1024", "10240", "102400", "1048576"})
    public int bytes;

    @Param({"clean", "dirty"})
    public String text;

    private List<String> prompt;
    private Classifier classifier;

    @Setup
    public void setup() {
        String clean = "The gateway reserves tokens before it forwards a request (version 2.4.1, build 2026-11-27). "
                + "for (int i = 0; i < n; i++) { total += price[i] * 1000; } // 42 items at 19.99 each, id=7f3a9c. ";
        String dirty = "Contact jane.doe@example.com, card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE. ";
        StringBuilder sb = new StringBuilder();
        int i = 0;
        while (sb.length() < bytes) {
            sb.append(text.equals("dirty") && i % 3 == 2 ? dirty : clean);
            i++;
        }
        sb.setLength(bytes);
        prompt = List.of(sb.toString());
        classifier = new Classifier(List.of());
    }

    @Benchmark
    public List<String> baseline() {
        return prompt;
    }

    @Benchmark
    public Classification scan() {
        return classifier.classify(prompt);
    }
}
