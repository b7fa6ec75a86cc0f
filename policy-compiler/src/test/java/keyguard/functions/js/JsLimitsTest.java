package keyguard.functions.js;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import keyguard.functions.FunctionFailure;
import keyguard.functions.FunctionRef;
import keyguard.policy.ir.Type;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The watchdog's limits on an engine of their own, with a CPU-time limit long enough that
 * only the limit under test can stop the call.
 */
class JsLimitsTest {
    private static final JsEngine ENGINE = new JsEngine(new JsEngine.Limits(Duration.ofSeconds(60), 100_000, 64L << 20, 1 << 20, 1 << 20));
    private static final List<JsModule> OPEN = new ArrayList<>();

    @AfterAll
    static void close() {
        OPEN.forEach(JsModule::close);
    }

    private static FunctionRef fn(String body) {
        List<JsModule.Problem> problems = new ArrayList<>();
        JsModule m = JsModule.open(ENGINE, Map.of("f.js", "function f(n) {\n" + body + "\n}\n"),
                List.of(new JsModule.Declaration("f", "f.js", List.of(Type.INT), Type.INT)), problems);
        assertEquals(List.of(), problems);
        OPEN.add(m);
        return m.functions().getFirst();
    }

    @Test
    void aCallThatKeepsAllocatingIsCancelledAtTheMemoryLimit() {
        FunctionRef f = fn("if (n === 0) return 3; const a = []; for (let i = 0; i < 1e7; i++) a.push(new Array(n).fill(i)); return a.length;");
        FunctionFailure e = assertThrows(FunctionFailure.class, () -> f.invoke(100_000L));
        assertEquals(FunctionFailure.Kind.MEMORY_LIMIT, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains("allocated more than 64 MiB"), e.getMessage());
        assertEquals(3L, f.invoke(0L), "the next call gets a fresh context");
    }

    @Test
    void aCallThatSpendsItsTimeInsideABuiltInIsCancelledByTheCpuTimeLimit() {
        // No statements run inside sort() and nothing is retained past the limit's reach:
        // only the watchdog's CPU-time limit can stop this call.
        JsEngine strict = new JsEngine(new JsEngine.Limits(Duration.ofMillis(50), 100_000, 4L << 30, 1 << 20, 1 << 20));
        List<JsModule.Problem> problems = new ArrayList<>();
        JsModule m = JsModule.open(strict, Map.of("f.js", "function f(n) { return 'xy'.repeat(n).split('').sort().reverse().sort().length; }\n"),
                List.of(new JsModule.Declaration("f", "f.js", List.of(Type.INT), Type.INT)), problems);
        OPEN.add(m);
        assertEquals(List.of(), problems);
        long t0 = System.nanoTime();
        FunctionFailure e = assertThrows(FunctionFailure.class, () -> m.functions().getFirst().invoke(500_000L));
        assertEquals(FunctionFailure.Kind.TIMEOUT, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains("ran longer than 50 ms of CPU time"), e.getMessage());
        assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "stopped within seconds, not at the end of the sort");
        assertEquals(20L, m.functions().getFirst().invoke(10L), "the next call gets a fresh context");
    }

    @Test
    void theStatementLimitAppliesPerCallNotPerContext() {
        FunctionRef f = fn("let s = 0; for (let i = 0; i < n; i++) s += i; return s;");
        // 400 calls of ~2,000 statements each: 800k statements on one context, under a 100k
        // limit only because the count is reset before every call; a 200k-iteration call is stopped.
        for (int i = 0; i < 400; i++) assertEquals(999L * 1000 / 2, f.invoke(1_000L));
        FunctionFailure e = assertThrows(FunctionFailure.class, () -> f.invoke(200_000L));
        assertEquals(FunctionFailure.Kind.STATEMENT_LIMIT, e.kind(), e.getMessage());
    }
}
