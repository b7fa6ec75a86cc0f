package keyguard.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import keyguard.compiler.Backend;
import keyguard.compiler.PolicyCompiler;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Finding 9: every JavaScript file evaluated into one global scope per thread, so one team's
 * file could replace another's function (`globalThis.f = ...`) and keep state across
 * requests and keys. Each file now has its own context, runs from a fresh scope on every
 * call, and finds the global object and the built-ins frozen.
 */
class JsIsolationTest {
    static final String MODELS = """
            provider sim { builtin simulator }
            model "small" { provider sim price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class internal }
            """;
    static final String POLICY = """
            function js count() -> int = file("count.js")
            function js clobber() -> int = file("clobber.js")
            function js victim() -> int = file("victim.js")
            function js proto() -> int = file("proto.js")
            function js seen() -> int = file("seen.js")
            policy p {
              models allow ["small"]
              on error allow
              @id("counted")   forbid when { count() > 1 }
              @id("clobbered") forbid when { clobber() == 0 }
              @id("victim")    forbid when { victim() != 7 }
              @id("proto")     forbid when { proto() == 1 }
              @id("leaked")    forbid when { seen() == 1 }
            }
            """;

    PolicySet set;

    static PolicyCompiler.Source src(String path, String text) {
        return new PolicyCompiler.Source(path, text.getBytes(StandardCharsets.UTF_8));
    }

    @AfterEach
    void close() {
        if (set != null) set.close();
    }

    /** Compiles one function `f() -> int` from {@code js} and calls it {@code times} times; the results. */
    List<Object> calls(String js, int times) {
        PolicyCompiler.Result r = PolicyCompiler.compile(List.of(src("models.kgp", MODELS),
                src("teams/p.kgp", "function js f() -> int = file(\"f.js\")\npolicy p { models allow [\"small\"]\n on error allow\n @id(\"r\") forbid when { f() > 1 } }\n"),
                src("teams/f.js", js)));
        if (!r.ok()) return List.of(r.diagnostics().render());
        if (set != null) set.close();
        set = r.set();
        PolicyEvaluator p = Backend.COMPILED.evaluators(set).get("p");
        List<Object> out = new java.util.ArrayList<>();
        for (int i = 0; i < times; i++) {
            DecisionInput in = new DecisionInput().model("small").epochMillis(1_790_000_000_000L);
            Decision d = p.decide(in);
            out.add(in.functionErrors().isEmpty() ? (d.allowed() ? "allowed" : "denied") : "failed");
        }
        return out;
    }

    @Test
    void aFileCannotCloseItsScopeToKeepState() {
        List<Object> r = calls("}); let s = {n: 0}; (function () { function f() { s.n = s.n + 1; return s.n; }", 3);
        assertEquals(1, r.size(), "refused when the revision loads: " + r);
        assertTrue(r.getFirst().toString().contains("KG0802"), r.toString());
    }

    @Test
    void builtInsAreFrozenDeeplyAndKeepNoMatchBetweenCalls() {
        assertEquals(List.of("failed", "failed"), calls("function f() { Math.max.memo = (Math.max.memo || 0) + 1; return Math.max.memo; }", 2),
                "a property on a built-in function");
        assertEquals(List.of("failed", "failed"), calls("function f() { const it = Object.getPrototypeOf([][Symbol.iterator]()); it.n = (it.n || 0) + 1; return it.n; }", 2),
                "the array iterator prototype");
        // The first call may run out of its 50 ms compiling the regex on a cold, interpreted
        // engine: the second and third calls say whether a match carries over.
        assertEquals(List.of("allowed", "allowed"), calls("""
                function f() {
                  let before;
                  try { before = RegExp.lastMatch; } catch (e) { before = undefined; }
                  /x(\\d+)/.exec("x42");
                  return before === undefined || before === "" ? 0 : 2;
                }
                """, 3).subList(1, 3), "no legacy RegExp statics carry a match into the next call");
    }

    @Test
    void oneFileCannotReachAnothersFunctionsNorKeepStateBetweenCalls() throws Exception {
        PolicyCompiler.Result r = PolicyCompiler.compile(List.of(
                src("models.kgp", MODELS), src("teams/p.kgp", POLICY),
                src("teams/count.js", "let n = 0;\nfunction count() { n = n + 1; return n; }\n"),
                src("teams/clobber.js", """
                        function clobber() {
                          try { globalThis.victim = function () { return 666; }; } catch (e) { return -1; }
                          try { victim = function () { return 666; }; } catch (e) { return -2; }
                          return 0;
                        }
                        """),
                src("teams/victim.js", "function victim() { return 7; }\n"),
                src("teams/proto.js", "function proto() { Object.prototype.leak = 1; Array.prototype.push = null; return 1; }\n"),
                src("teams/seen.js", "function seen() { return ({}).leak === undefined && [].push !== null ? 0 : 1; }\n")));
        assertTrue(r.ok(), r.diagnostics().render());
        set = r.set();
        for (Backend backend : Backend.values()) {
            PolicyEvaluator p = backend.evaluators(set).get("p");
            for (int i = 0; i < 5; i++) {
                DecisionInput in = new DecisionInput().model("small").keyId("k" + i).epochMillis(1_790_000_000_000L);
                Decision d = p.decide(in);
                assertTrue(d.allowed(), backend + " call " + i + ": " + d.rules() + " " + in.functionErrors());
                assertEquals(List.of("proto"), in.functionErrors().stream().map(e -> e.rule()).toList(),
                        "changing a built-in fails (strict mode, frozen): " + in.functionErrors());
            }
        }
        Thread other = Thread.ofPlatform().start(() -> {
            Decision d = Backend.COMPILED.evaluators(set).get("p").decide(new DecisionInput().model("small").epochMillis(1_790_000_000_000L));
            if (!d.allowed()) throw new AssertionError(d.rules().toString());
        });
        other.join(30_000);
    }
}
