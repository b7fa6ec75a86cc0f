package keyguard.compiler.diagnostics;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import keyguard.compiler.Golden;
import keyguard.compiler.Repo;
import keyguard.lang.diag.Code;
import org.junit.jupiter.api.Test;

/**
 * Every code has a page {@code docs/errors/KGnnnn.md}, generated from the catalog and the
 * golden example of the same code, so the pages can never drift from what the compiler
 * says. Re-bless with {@code -Dbless=true} after changing a message.
 */
class ErrorCatalogDocsTest {

    @Test
    void everyCodeHasAPageThatMatchesTheCatalogAndItsExample() throws IOException {
        Path docs = Repo.root().resolve("docs/errors");
        List<String> missingExamples = new ArrayList<>();
        StringBuilder index = new StringBuilder("# Diagnostic codes\n\n")
                .append("Every message of `keyguard check` carries a stable code. A code keeps its meaning forever and is never reused.\n\n")
                .append("| code | meaning |\n|---|---|\n");
        for (Code code : Code.values()) {
            index.append("| [").append(code.id()).append("](").append(code.id()).append(".md) | ").append(code.title()).append(" |\n");
            StringBuilder page = new StringBuilder();
            page.append("# ").append(code.id()).append(": ").append(code.title()).append("\n\n");
            page.append(code.explanation()).append("\n");
            Path example = example(code);
            if (example != null) {
                String input = new String(Files.readAllBytes(example.resolve("input.kgp")), StandardCharsets.UTF_8);
                page.append("\n## Example\n\nCompiled together with the [shared prelude](../../policy-compiler/src/test/resources/diagnostics/prelude.kgp), ")
                        .append("which declares the models `small` and `big` and the template `base(team, daily)`.\n\n```kgp\n").append(input.endsWith("\n") ? input : input + "\n").append("```\n\n");
                page.append("`keyguard check` says:\n\n```text\n").append(Files.readString(example.resolve("expected.txt")).stripTrailing()).append("\n```\n");
            } else {
                missingExamples.add(code.id());
            }
            Golden.check(docs.resolve(code.id() + ".md"), page.toString());
        }
        Golden.check(docs.resolve("README.md"), index.toString());
        assertTrue(missingExamples.size() <= 0, "codes without a golden example: " + missingExamples);
    }

    private static Path example(Code code) throws IOException {
        for (Path dir : DiagnosticGoldenTest.cases()) {
            if (dir.getFileName().toString().startsWith(code.id() + "-")) return dir;
        }
        return null;
    }
}
