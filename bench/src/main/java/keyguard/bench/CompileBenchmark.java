package keyguard.bench;

import java.util.concurrent.TimeUnit;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.emit.CompiledPolicies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Compiling the example repository cold: parse, check, emit and define every hidden class,
 * in a fresh JVM each time (single shot, no warm-up, ten forks). This is what a gateway
 * pays at start and on its first reload, ANTLR's table set-up included.
 *
 * <pre>
 * java -jar bench/target/benchmarks.jar CompileBenchmark
 * </pre>
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 0)
@Measurement(iterations = 1)
@Fork(value = 10, jvmArgsAppend = "--sun-misc-unsafe-memory-access=allow")
public class CompileBenchmark {

    @Benchmark
    public Object compileExamplesCold() {
        PolicyCompiler.Result r = PolicyCompiler.compileDirectory(ExamplePolicies.dir());
        if (!r.ok()) throw new IllegalStateException(r.diagnostics().render());
        return CompiledPolicies.compile(r.set());
    }
}
