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
