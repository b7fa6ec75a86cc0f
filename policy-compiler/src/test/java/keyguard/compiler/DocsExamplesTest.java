package keyguard.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import keyguard.compiler.testing.PolicyTestRunner;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every {@code ```kgp} block in {@code docs/*.md} compiles together with the example
 * repository's models and team template, and its inline tests pass on both backends.
 * A {@code ```kgp-error KGnnnn} block must fail with that code.
 */
class DocsExamplesTest {
    private static final Pattern BLOCK = Pattern.compile("```(kgp(?:-error (KG\\d{4}))?)\\n(.*?)```", Pattern.DOTALL);

    record Example(Path doc, int line, String errorCode, String source) {}

    static List<Example> examples() throws IOException {
        List<Example> out = new ArrayList<>();
        try (Stream<Path> docs = Files.walk(Repo.root().resolve("docs"))) {
            for (Path doc : docs.filter(p -> p.toString().endsWith(".md") && !p.toString().contains("/errors/")).sorted().toList()) {
                String text = Files.readString(doc);
                Matcher m = BLOCK.matcher(text);
                while (m.find()) {
                    int line = (int) text.substring(0, m.start()).lines().count() + 1;
                    out.add(new Example(doc, line, m.group(2), m.group(3)));
                }
            }
        }
        return out;
    }

    @TestFactory
    Stream<DynamicTest> everyPolicyExampleInTheDocsCompilesAndItsTestsPass() throws IOException {
        List<Example> all = examples();
        assertTrue(all.size() >= 6, "docs should carry examples, found " + all.size());
        return all.stream().map(ex -> DynamicTest.dynamicTest(Repo.root().relativize(ex.doc()) + ":" + ex.line(), () -> {
            List<PolicyCompiler.Source> sources = new ArrayList<>();
            sources.add(source(Repo.policies().resolve("models.kgp")));
            sources.add(source(Repo.policies().resolve("templates/team.kgp")));
            sources.add(new PolicyCompiler.Source(ex.doc().getFileName() + "#L" + ex.line(), ex.source().getBytes(StandardCharsets.UTF_8)));
            PolicyCompiler.Result r = PolicyCompiler.compile(sources);
            if (ex.errorCode() != null) {
                assertFalse(r.ok(), "example is marked as an error but compiles");
                assertEquals(ex.errorCode(), r.diagnostics().sorted().get(0).code().id(), r.diagnostics().render());
                return;
            }
            assertTrue(r.ok(), r.diagnostics().render());
            for (Backend backend : Backend.values()) {
                for (PolicyTestRunner.Outcome o : PolicyTestRunner.run(r.set(), backend)) {
                    assertTrue(o.passed(), backend + ": " + o.test().name() + ": " + o.failure() + " (" + o.decision() + ")");
                }
            }
        }));
    }

    private static PolicyCompiler.Source source(Path p) throws IOException {
        return new PolicyCompiler.Source(Repo.root().relativize(p).toString(), Files.readAllBytes(p));
    }
}
