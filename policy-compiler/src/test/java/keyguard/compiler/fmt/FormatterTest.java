package keyguard.compiler.fmt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import keyguard.compiler.Golden;
import keyguard.compiler.Repo;
import keyguard.lang.antlr.KgpLexer;
import keyguard.lang.source.SourceFile;
import org.antlr.v4.runtime.CharStreams;
import org.antlr.v4.runtime.Token;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

class FormatterTest {

    private static String fmt(String path, String text) {
        Formatter.Result r = Formatter.format(new SourceFile(path, text));
        assertTrue(r.ok(), r.diagnostics().render());
        return r.text();
    }

    @TestFactory
    Stream<DynamicTest> goldenCasesFormatAsExpectedAndAreIdempotent() throws IOException {
        Path dir = Repo.root().resolve("policy-compiler/src/test/resources/fmt");
        try (Stream<Path> cases = Files.list(dir)) {
            return cases.filter(Files::isDirectory).sorted().toList().stream().map(c -> DynamicTest.dynamicTest(c.getFileName().toString(), () -> {
                String formatted = fmt("input.kgp", Files.readString(c.resolve("input.kgp")));
                Golden.check(c.resolve("expected.kgp"), formatted);
                assertEquals(formatted, fmt("expected.kgp", formatted), "formatting twice changes nothing");
            }));
        }
    }

    @Test
    void theExamplePoliciesAreFormatted() throws IOException {
        try (Stream<Path> files = Files.walk(Repo.policies())) {
            for (Path f : files.filter(p -> p.toString().endsWith(".kgp")).toList()) {
                String text = Files.readString(f);
                assertEquals(text, fmt(f.toString(), text), f + " is not formatted; run ./keyguard fmt policies");
            }
        }
    }

    @Test
    void theVerifierRejectsOutputThatChangedATokenOrDroppedAComment() {
        SourceFile original = new SourceFile("a.kgp", "policy p { models allow [\"small\"] } // keep me\n");
        assertThrows(IllegalStateException.class, () -> Formatter.verify(original, "policy p { models allow [\"big\"] }\n"));
        assertThrows(IllegalStateException.class, () -> Formatter.verify(original, "policy p { models allow [\"small\"] }\n"));
        assertThrows(IllegalStateException.class, () -> Formatter.verify(original, "policy p { models allow [\"small\"] \n"));
        Formatter.verify(original, "policy p {\n  models allow [\"small\"]\n} // keep me\n");
    }

    @Test
    void scrambledWhitespaceAndCommentsFormatToTheSameCanonicalText() throws IOException {
        SplittableRandom rnd = new SplittableRandom(11);
        try (Stream<Path> files = Files.walk(Repo.policies())) {
            for (Path f : files.filter(p -> p.toString().endsWith(".kgp")).sorted().toList()) {
                String canonical = Files.readString(f);
                for (int round = 0; round < 30; round++) {
                    String scrambled = scramble(canonical, rnd);
                    String once = fmt(f.toString(), scrambled);
                    assertEquals(once, fmt(f.toString(), once), "not idempotent on a scrambled " + f + ":\n" + scrambled);
                    if (round % 2 == 0) assertEquals(canonical, fmt(f.toString(), reflow(canonical, rnd)), "whitespace-only change of " + f);
                }
            }
        }
    }

    /** Changes only the amount of horizontal space between tokens: formatting must undo it. */
    private static String reflow(String text, SplittableRandom rnd) {
        StringBuilder sb = new StringBuilder();
        KgpLexer lexer = new KgpLexer(CharStreams.fromString(text));
        for (Token t = lexer.nextToken(); t.getType() != Token.EOF; t = lexer.nextToken()) {
            if (t.getType() == KgpLexer.WS && !t.getText().contains("\n")) sb.append(" ".repeat(rnd.nextInt(1, 4)));
            else sb.append(t.getText());
        }
        return sb.toString();
    }

    /** Random whitespace, newlines and extra comments between tokens. */
    private static String scramble(String text, SplittableRandom rnd) {
        StringBuilder sb = new StringBuilder();
        KgpLexer lexer = new KgpLexer(CharStreams.fromString(text));
        List<String> extras = List.of(" ", "  ", "\n", "\n\n", " /* c */ ", " // c\n", "\t");
        for (Token t = lexer.nextToken(); t.getType() != Token.EOF; t = lexer.nextToken()) {
            if (t.getType() == KgpLexer.WS) {
                sb.append(t.getText().contains("\n") ? "\n" : " ");
            } else {
                sb.append(t.getText());
                if (t.getType() != KgpLexer.LINE_COMMENT && rnd.nextInt(6) == 0) sb.append(extras.get(rnd.nextInt(extras.size())));
            }
        }
        return sb.toString();
    }
}
