package keyguard.functions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import keyguard.compiler.Backend;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.Snippets;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.DecisionKind;
import keyguard.policy.FunctionError;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code function js}: declared in a policy, written in a file next to it, called from a
 * forbid rule on both backends, and kept in its sandbox. Every way a function can fail
 * ends in the decision the policy declares, with the failure noted for the audit log.
 */
class JsFunctionsTest {

    static final String RISK_JS = """
            // A request's risk, 0..100: long prompts to external models are risky.
            function risk_score(model, tokens) {
              let score = tokens > 1000 ? 60 : 10;
              if (model.startsWith("big")) score += 30;
              return score;
            }
            """;

    static final String POLICY = """
            function js risk_score(model: string, tokens: int) -> int = file("functions/risk.js")

            policy p {
              models allow ["small", "big"]
              @id("too-risky") @reason("risk {request.model}")
              forbid when { risk_score(model.id, request.estimated_tokens) > 80 }
            }
            """;

    static PolicyCompiler.Result compile(String policy, String... jsFiles) {
        List<PolicyCompiler.Source> sources = new ArrayList<>();
        sources.add(new PolicyCompiler.Source("pol/models.kgp", Snippets.MODELS.getBytes(StandardCharsets.UTF_8)));
        sources.add(new PolicyCompiler.Source("pol/input.kgp", policy.getBytes(StandardCharsets.UTF_8)));
        for (int i = 0; i < jsFiles.length; i += 2) {
            sources.add(new PolicyCompiler.Source("pol/" + jsFiles[i], jsFiles[i + 1].getBytes(StandardCharsets.UTF_8)));
        }
        return PolicyCompiler.compile(sources, "test", FunctionLibrary.NONE);
    }

    static PolicySet set(String policy, String... jsFiles) {
        PolicyCompiler.Result r = compile(policy, jsFiles);
        assertTrue(r.ok(), () -> r.diagnostics().render());
        return r.set();
    }

    static DecisionInput req(String model, long tokens) {
        return new DecisionInput().model(model).estimatedTokens(tokens).at(Instant.parse("2026-06-08T10:00:00Z"));
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aJsFunctionDecidesAForbidRule(Backend b) {
        PolicyEvaluator p = b.evaluators(set(POLICY, "functions/risk.js", RISK_JS)).get("p");
        assertEquals(DecisionKind.ALLOWED, p.decide(req("big", 10)).kind());
        assertEquals(DecisionKind.ALLOWED, p.decide(req("small", 5000)).kind());
        Decision d = p.decide(req("big", 5000));
        assertEquals(DecisionKind.FORBIDDEN, d.kind());
        assertEquals(List.of("too-risky"), d.rules());
        assertEquals("risk big", d.reason());
    }

    @Test
    void callsFromManyThreadsEachGetTheirOwnContextAndAgree() throws Exception {
        PolicyEvaluator p = Backend.COMPILED.evaluators(set(POLICY, "functions/risk.js", RISK_JS)).get("p");
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int seed = t;
                results.add(pool.submit(() -> {
                    int denied = 0;
                    for (int i = 0; i < 2_000; i++) {
                        boolean expectDeny = (i + seed) % 2 == 0;
                        Decision d = p.decide(req("big", expectDeny ? 5000 : 10));
                        assertEquals(expectDeny, d.kind() == DecisionKind.FORBIDDEN);
                        if (expectDeny) denied++;
                    }
                    return denied;
                }));
            }
            for (Future<Integer> f : results) assertEquals(1_000, f.get());
        } finally {
            pool.shutdownNow();
        }
    }

    // ------------------------------------------------------------------ failures

    static final String FAILING = """
            function js broken(model: string) -> bool = file("functions/broken.js")
            policy p {
              models allow ["small", "big"]
              @id("guard") forbid when { broken(model.id) }
            }
            policy lenient {
              models allow ["small", "big"]
              on error allow
              @id("guard") forbid when { broken(model.id) }
            }
            """;

    static Decision failing(Backend b, String policy, String body, DecisionInput in) {
        PolicySet s = set(FAILING, "functions/broken.js", "function broken(model) {\n" + body + "\n}\n");
        try {
            return b.evaluators(s).get(policy).decide(in);
        } finally {
            s.close();
        }
    }

    /** Each way out of the sandbox or past a limit, and what the audit note says. */
    static final String[][] ESCAPES = {
            {"return Java.type('java.lang.System').exit(1);", "THREW"},
            {"return java.lang.System.exit(1);", "THREW"},
            {"return require('fs').readFileSync('/etc/passwd') != null;", "THREW"},
            {"return load('/etc/passwd') != null;", "THREW"},
            {"return Polyglot.eval('python', '1') == 1;", "THREW"},
            {"return Packages.java.lang.Runtime.getRuntime() != null;", "THREW"},
            {"while (true) {}", "STATEMENT_LIMIT"},
            {"const a = new Uint8Array(1 << 30); return a.length > 0;", "THREW"}, // a 1 GB array: typed arrays are capped at 1 MiB
            {"return 'x'.repeat(1 << 30).length > 0;", "THREW"},
            {"throw new Error('boom');", "THREW"},
            {"return 42;", "WRONG_TYPE"},
            {"return undefined;", "WRONG_TYPE"},
    };

    @ParameterizedTest
    @EnumSource(Backend.class)
    void everyEscapeAndLimitIsStoppedAndEndsInTheDeclaredDecision(Backend b) {
        for (String[] e : ESCAPES) {
            DecisionInput in = req("small", 10);
            Decision d = failing(b, "p", e[0], in);
            assertEquals(DecisionKind.FORBIDDEN, d.kind(), e[0]);
            FunctionError err = in.functionError("guard");
            assertNotNull(err, e[0]);
            assertEquals(e[1], err.kind().name(), e[0] + " -> " + err.message());
            assertEquals("broken", err.function());
            assertTrue(err.denied());
            assertTrue(d.reason().contains("could not be evaluated: function `broken`"), d.reason());

            DecisionInput in2 = req("small", 10);
            assertEquals(DecisionKind.ALLOWED, failing(b, "lenient", e[0], in2).kind(), e[0]);
            assertFalse(in2.functionError("guard").denied());
        }
    }

    @Test
    void aFunctionThatRunsTooLongIsCancelledByTheWatchdog() {
        // A busy loop inside one statement-free built-in call: only the clock can stop it.
        DecisionInput in = req("small", 10);
        long t0 = System.nanoTime();
        Decision d = failing(Backend.COMPILED, "p", "return 'a'.repeat(1000).split('').sort((x, y) => { for (;;) {} }).length > 0;", in);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(DecisionKind.FORBIDDEN, d.kind());
        FunctionError err = in.functionError("guard");
        assertTrue(err.kind() == FunctionFailure.Kind.TIMEOUT || err.kind() == FunctionFailure.Kind.STATEMENT_LIMIT, err.toString());
        assertTrue(ms < 30_000, "stopped after " + ms + " ms");
    }

    @Test
    void aContextThatHitALimitIsReplacedAndTheNextCallWorks() {
        PolicySet s = set(FAILING, "functions/broken.js", """
                function broken(model) {
                  if (model === "big") { while (true) {} }
                  return false;
                }
                """);
        PolicyEvaluator p = Backend.COMPILED.evaluators(s).get("p");
        assertEquals(DecisionKind.FORBIDDEN, p.decide(req("big", 1)).kind());
        DecisionInput ok = req("small", 1);
        assertEquals(DecisionKind.ALLOWED, p.decide(ok).kind());
        assertTrue(ok.functionErrors().isEmpty());
        s.close();
    }

    @Test
    void aClosedRevisionFailsItsCallsInsteadOfRunningThem() {
        PolicySet s = set(POLICY, "functions/risk.js", RISK_JS);
        PolicyEvaluator p = Backend.COMPILED.evaluators(s).get("p");
        assertEquals(DecisionKind.ALLOWED, p.decide(req("big", 1)).kind());
        s.close();
        DecisionInput in = req("big", 1);
        assertEquals(DecisionKind.FORBIDDEN, p.decide(in).kind());
        assertEquals(FunctionFailure.Kind.UNAVAILABLE, in.functionError("too-risky").kind());
    }

    // ------------------------------------------------------------------ compile time

    @Test
    void aCallWithWrongArgumentsIsACompileTimeError() {
        String bad = POLICY.replace("risk_score(model.id, request.estimated_tokens)", "risk_score(request.estimated_tokens, model.id)");
        PolicyCompiler.Result r = compile(bad, "functions/risk.js", RISK_JS);
        assertFalse(r.ok());
        assertTrue(r.diagnostics().render().contains("KG0403"), r.diagnostics().render());
        assertTrue(r.diagnostics().render().contains("argument 1 of `risk_score` must be a string, not an int"), r.diagnostics().render());
    }

    @Test
    void aMissingFileOrFunctionIsACompileTimeError() {
        PolicyCompiler.Result missing = compile(POLICY);
        assertTrue(missing.diagnostics().render().contains("KG0802"), missing.diagnostics().render());
        assertTrue(missing.diagnostics().render().contains("no file `functions/risk.js`"), missing.diagnostics().render());

        PolicyCompiler.Result undefinedFn = compile(POLICY, "functions/risk.js", "function other() { return 1 }");
        assertTrue(undefinedFn.diagnostics().render().contains("does not define a function `risk_score`"), undefinedFn.diagnostics().render());

        PolicyCompiler.Result syntax = compile(POLICY, "functions/risk.js", "function risk_score(a, b) { return (; }");
        assertTrue(syntax.diagnostics().render().contains("SyntaxError"), syntax.diagnostics().render());
        assertTrue(syntax.diagnostics().render().contains("pol/functions/risk.js:1"), syntax.diagnostics().render());

        PolicyCompiler.Result escape = compile(POLICY.replace("functions/risk.js", "../risk.js"), "functions/risk.js", RISK_JS);
        assertTrue(escape.diagnostics().render().contains("no file `../risk.js`"), escape.diagnostics().render());
    }

    @Test
    void theRevisionChangesWhenOnlyTheJavaScriptChanges() {
        List<PolicyCompiler.Source> a = List.of(new PolicyCompiler.Source("pol/input.kgp", POLICY.getBytes(StandardCharsets.UTF_8)),
                new PolicyCompiler.Source("pol/functions/risk.js", RISK_JS.getBytes(StandardCharsets.UTF_8)));
        List<PolicyCompiler.Source> b = List.of(a.get(0),
                new PolicyCompiler.Source("pol/functions/risk.js", RISK_JS.replace("60", "61").getBytes(StandardCharsets.UTF_8)));
        assertFalse(PolicyCompiler.revision(a).equals(PolicyCompiler.revision(b)));
    }
}
