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
            sources.add(source(Repo.policies().resolve("platform/models.kgp")));
            sources.add(source(Repo.policies().resolve("platform/labels.kgp")));
            sources.add(source(Repo.policies().resolve("templates/team.kgp")));
            sources.add(new PolicyCompiler.Source(ex.doc().getFileName() + "#L" + ex.line(), ex.source().getBytes(StandardCharsets.UTF_8)));
            sources.addAll(SCRIPTS);
            PolicyCompiler.Result r = PolicyCompiler.compile(sources, PolicyCompiler.revision(sources), plugins());
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

    private static final Pattern JS_BLOCK = Pattern.compile("```js (\\S+)\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern JAVA_BLOCK = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern CLASS = Pattern.compile("package ([\\w.]+);.*?public (?:final )?class (\\w+) implements PolicyFunction", Pattern.DOTALL);

    /** {@code ```js functions/risk.js} blocks: the files that policy examples' {@code function js} declarations name. */
    static final List<PolicyCompiler.Source> SCRIPTS = new ArrayList<>();
    private static keyguard.functions.FunctionLibrary plugins;

    static {
        try {
            for (Path doc : docs()) {
                Matcher m = JS_BLOCK.matcher(Files.readString(doc));
                while (m.find()) SCRIPTS.add(new PolicyCompiler.Source(m.group(1), m.group(2).getBytes(StandardCharsets.UTF_8)));
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Every {@code ```java} plugin class in the docs, compiled into one jar, as a plugin folder. */
    static synchronized keyguard.functions.FunctionLibrary plugins() throws IOException {
        if (plugins != null) return plugins;
        java.util.Map<String, String> classes = new java.util.LinkedHashMap<>();
        for (Path doc : docs()) {
            Matcher m = JAVA_BLOCK.matcher(Files.readString(doc));
            while (m.find()) {
                Matcher c = CLASS.matcher(m.group(1));
                if (c.find()) classes.put(c.group(1) + "." + c.group(2), m.group(1));
            }
        }
        Path dir = Files.createTempDirectory("doc-plugins");
        if (!classes.isEmpty()) keyguard.functions.PluginJars.build(dir, "docs.jar", classes, List.copyOf(classes.keySet()));
        return plugins = keyguard.functions.FunctionLibrary.load(dir);
    }

    private static List<Path> docs() throws IOException {
        try (Stream<Path> docs = Files.walk(Repo.root().resolve("docs"))) {
            return docs.filter(p -> p.toString().endsWith(".md") && !p.toString().contains("/errors/")).sorted().toList();
        }
    }

    private static PolicyCompiler.Source source(Path p) throws IOException {
        return new PolicyCompiler.Source(Repo.root().relativize(p).toString(), Files.readAllBytes(p));
    }
}
