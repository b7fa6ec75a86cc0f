package keyguard.compiler.diagnostics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import keyguard.compiler.Golden;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.Repo;
import keyguard.compiler.Trust;
import keyguard.lang.diag.Diagnostic;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * One folder per diagnostic under {@code src/test/resources/diagnostics/}: {@code input.kgp}
 * is compiled together with the shared {@code prelude.kgp}, and everything the compiler
 * says is compared with {@code expected.txt}. A folder named {@code KGnnnn-…} must produce
 * that code first, so each case pins the diagnostic it is named after.
 */
class DiagnosticGoldenTest {

    static Path casesDir() {
        return Repo.root().resolve("policy-compiler/src/test/resources/diagnostics");
    }

    static List<Path> cases() throws IOException {
        try (Stream<Path> s = Files.list(casesDir())) {
            return s.filter(Files::isDirectory).sorted().toList();
        }
    }

    /**
     * Compiles a case. Optional files of the case folder: {@code team} (input.kgp is a
     * team's file, not the operator's), {@code refused.txt} (paths the directory reader
     * refused), {@code allowed-base-urls.txt} (the operator's base-URL allow-list).
     */
    static PolicyCompiler.Result compile(Path caseDir) throws IOException {
        PolicyCompiler.Owner owner = Files.exists(caseDir.resolve("team")) ? PolicyCompiler.Owner.TEAM : PolicyCompiler.Owner.OPERATOR;
        List<String> refused = Files.exists(caseDir.resolve("refused.txt")) ? Files.readAllLines(caseDir.resolve("refused.txt")) : List.of();
        Trust trust = Files.exists(caseDir.resolve("allowed-base-urls.txt"))
                ? Trust.DEFAULT.withBaseUrls(Files.readAllLines(caseDir.resolve("allowed-base-urls.txt"))) : Trust.DEFAULT;
        List<PolicyCompiler.Source> sources = List.of(
                new PolicyCompiler.Source("input.kgp", Files.readAllBytes(caseDir.resolve("input.kgp")), owner),
                new PolicyCompiler.Source("prelude.kgp", Files.readAllBytes(casesDir().resolve("prelude.kgp"))));
        return PolicyCompiler.analyze(PolicyCompiler.compile(new PolicyCompiler.Sources(sources, refused), PolicyCompiler.revision(sources),
                keyguard.functions.FunctionLibrary.NONE, trust)); // as `keyguard check` does
    }

    @TestFactory
    Stream<DynamicTest> everyCaseRendersAsItsGoldenFile() throws IOException {
        return cases().stream().map(dir -> DynamicTest.dynamicTest(dir.getFileName().toString(), () -> {
            PolicyCompiler.Result r = compile(dir);
            String code = dir.getFileName().toString().substring(0, 6);
            List<Diagnostic> all = r.diagnostics().sorted();
            assertFalse(all.isEmpty(), "case " + dir.getFileName() + " produced no diagnostic");
            assertEquals(code, all.get(0).code().id(), "first diagnostic of " + dir.getFileName() + ":\n" + r.diagnostics().render());
            Golden.check(dir.resolve("expected.txt"), r.diagnostics().render());
        }));
    }

    @Test
    void goldenCasesCoverAtLeastTwentyFiveDistinctErrors() throws IOException {
        Set<String> errors = new TreeSet<>();
        for (Path dir : cases()) {
            for (Diagnostic d : compile(dir).diagnostics().sorted()) if (d.isError()) errors.add(d.code().id());
        }
        assertTrue(errors.size() >= 25, "only " + errors.size() + " distinct errors: " + errors);
    }

    @Test
    void thePreludeAloneIsClean() throws IOException {
        PolicyCompiler.Result r = PolicyCompiler.compile(List.of(
                new PolicyCompiler.Source("prelude.kgp", Files.readAllBytes(casesDir().resolve("prelude.kgp")))));
        assertTrue(r.ok() && r.diagnostics().isEmpty(), r.diagnostics().render());
    }
}
