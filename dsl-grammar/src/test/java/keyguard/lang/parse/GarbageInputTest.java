package keyguard.lang.parse;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.SplittableRandom;
import keyguard.lang.diag.Diagnostic;
import org.junit.jupiter.api.Test;

/**
 * Whatever bytes arrive, the parser answers with a tree or diagnostics: never an
 * exception, never a hang, never a raw ANTLR message. The timeouts here are hang guards
 * (generous, not performance claims).
 */
class GarbageInputTest {
    private static final String VALID = """
            policy search = team_default(team: "search") {
              models allow += ["gpt-4o"]
              override limit tokens 5_000_000 per 1d by policy
              @id("x") @reason("r {request.model}")
              forbid when { model.id == "gpt-4o" && key.env != "prod" } unless { time.weekday in mon..fri && time.hour in 8..18 }
            }
            tests search { test "t" { request { model: "gpt-4o" } key { env: "staging" } at "2026-06-06T10:00Z" expect deny by "x" } }
            """;

    private static void parsesToTreeOrDiagnostics(String label, byte[] bytes) {
        PolicyParser.Result r;
        try {
            r = PolicyParser.parse("fuzz.kgp", bytes);
        } catch (Throwable t) {
            throw new AssertionError(label + ": parser threw " + t, t);
        }
        if (r.file() == null) assertTrue(r.diagnostics().hasErrors(), label + ": no tree and no error");
        for (Diagnostic d : r.diagnostics().sorted()) {
            String text = d.toString();
            assertFalse(text.contains("mismatched input") || text.contains("extraneous input") || text.contains("no viable alternative")
                    || text.contains("token recognition error"), label + ": raw ANTLR text leaked: " + text);
            assertTrue(d.code().id().startsWith("KG"), label);
        }
    }

    @Test
    void randomBytesGiveDiagnostics() {
        SplittableRandom rnd = new SplittableRandom(42);
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int i = 0; i < 2_000; i++) {
                byte[] b = new byte[rnd.nextInt(1, 400)];
                rnd.nextBytes(b);
                parsesToTreeOrDiagnostics("random bytes #" + i, b);
            }
        });
    }

    @Test
    void everyTruncationAndEveryMutationOfAValidFileGivesDiagnosticsOrATree() {
        byte[] valid = VALID.getBytes(StandardCharsets.UTF_8);
        SplittableRandom rnd = new SplittableRandom(7);
        String alphabet = "{}()[]\",.:=!<>&|@+-_ \n0123456789abcdefghijklmnopqrstuvwxyz/*%";
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int cut = 0; cut <= valid.length; cut++) {
                parsesToTreeOrDiagnostics("truncated at " + cut, java.util.Arrays.copyOf(valid, cut));
            }
            for (int i = 0; i < 3_000; i++) {
                StringBuilder sb = new StringBuilder(VALID);
                for (int k = rnd.nextInt(1, 4); k > 0; k--) {
                    int at = rnd.nextInt(sb.length());
                    switch (rnd.nextInt(3)) {
                        case 0 -> sb.deleteCharAt(at);
                        case 1 -> sb.insert(at, alphabet.charAt(rnd.nextInt(alphabet.length())));
                        default -> sb.setCharAt(at, alphabet.charAt(rnd.nextInt(alphabet.length())));
                    }
                }
                parsesToTreeOrDiagnostics("mutation #" + i + ":\n" + sb, sb.toString().getBytes(StandardCharsets.UTF_8));
            }
        });
    }

    @Test
    void megabyteLinesAndDeepNestingEndInDiagnostics() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            parsesToTreeOrDiagnostics("1 MB of a", "a".repeat(1 << 20).getBytes(StandardCharsets.UTF_8));
            parsesToTreeOrDiagnostics("1 MB string", ("policy p { tags { t: \"" + "x".repeat(1 << 20) + "\" } }").getBytes(StandardCharsets.UTF_8));
            parsesToTreeOrDiagnostics("1 MB condition", ("policy p { @id(\"r\") forbid when { " + "true && ".repeat(120_000) + "true } }")
                    .getBytes(StandardCharsets.UTF_8));
            parsesToTreeOrDiagnostics("deep parens", ("policy p { @id(\"r\") forbid when { " + "(".repeat(100_000) + "true" + ")".repeat(100_000) + " } }")
                    .getBytes(StandardCharsets.UTF_8));
            parsesToTreeOrDiagnostics("deep negation", ("policy p { @id(\"r\") forbid when { " + "!".repeat(100_000) + "true } }")
                    .getBytes(StandardCharsets.UTF_8));
            parsesToTreeOrDiagnostics("deep braces", "{".repeat(200_000).getBytes(StandardCharsets.UTF_8));
            parsesToTreeOrDiagnostics("nul bytes", new byte[100_000]);
        });
    }
}
