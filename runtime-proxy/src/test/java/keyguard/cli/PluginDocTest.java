package keyguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import keyguard.functions.PluginJars;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/plugins.md as a user follows it: its JavaScript files, policies and plugin class
 * become a policy directory and a plugin folder, and {@code keyguard check}, {@code test}
 * and {@code explain} run on them with {@code --plugins}.
 */
class PluginDocTest {
    private static final Pattern KGP = Pattern.compile("```kgp\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern JS = Pattern.compile("```js (\\S+)\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern JAVA = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern CLASS = Pattern.compile("package ([\\w.]+);.*?public final class (\\w+)", Pattern.DOTALL);

    @TempDir
    static Path tmp;
    static Path policies;
    static Path plugins;

    @BeforeAll
    static void followTheDoc() throws IOException {
        String doc = Files.readString(CliTest.examples().getParent().resolve("docs/plugins.md"));
        policies = Files.createDirectories(tmp.resolve("policies"));
        try (var walk = Files.walk(CliTest.examples())) { // the example policies too: the doc's names must not clash with them
            for (Path src : walk.toList()) {
                Path dst = policies.resolve(CliTest.examples().relativize(src).toString());
                if (Files.isDirectory(src)) Files.createDirectories(dst);
                else Files.copy(src, dst);
            }
        }
        Matcher m = KGP.matcher(doc);
        for (int i = 0; m.find(); i++) Files.writeString(policies.resolve("doc-" + i + ".kgp"), m.group(1));
        m = JS.matcher(doc);
        while (m.find()) {
            Path f = policies.resolve(m.group(1));
            Files.createDirectories(f.getParent());
            Files.writeString(f, m.group(2));
        }
        Map<String, String> classes = new LinkedHashMap<>();
        m = JAVA.matcher(doc);
        while (m.find()) {
            Matcher c = CLASS.matcher(m.group(1));
            assertTrue(c.find(), "a java block without a class");
            classes.put(c.group(1) + "." + c.group(2), m.group(1));
        }
        plugins = tmp.resolve("plugins");
        PluginJars.build(plugins, "acme-functions.jar", classes, List.copyOf(classes.keySet()));
    }

    @Test
    void checkAndTestRunWithTheDocsFunctions() {
        CliTest.Run check = CliTest.run("check", "--plugins", plugins.toString(), policies.toString());
        assertEquals(0, check.code(), check.err());
        CliTest.Run test = CliTest.run("test", "--plugins", plugins.toString(), policies.toString());
        assertEquals(0, test.code(), test.out() + test.err());
        assertTrue(test.lastLine().matches("\\d+ passed, 0 failed"), test.out());
        assertTrue(Integer.parseInt(test.lastLine().split(" ")[0]) >= 6, "the doc's six tests ran with the examples': " + test.lastLine());
        CliTest.Run interpreted = CliTest.run("test", "--backend", "interpreter", "--plugins", plugins.toString(), policies.toString());
        assertEquals(test.lastLine(), interpreted.lastLine(), interpreted.out());
    }

    @Test
    void withoutThePluginFolderTheCallIsAnUnknownFunction() {
        CliTest.Run check = CliTest.run("check", policies.toString());
        assertEquals(1, check.code());
        assertTrue(check.err().contains("error[KG0108]: unknown function `cost_center_valid`"), check.err());
    }

    @Test
    void explainShowsAFunctionsResultAndAFunctionsFailure() throws IOException {
        Path req = tmp.resolve("request.json");
        Files.writeString(req, "{\"model\": \"gpt-4o-mini\", \"estimated_tokens\": 5000}");
        CliTest.Run r = CliTest.run("explain", "--plugins", plugins.toString(), "--policies", policies.toString(), "--policy", "analysts",
                "--request", req.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("decision: deny by too-risky"), r.out());
        assertTrue(r.out().contains("risk_score(model.id, request.estimated_tokens) = 90"), r.out());

        CliTest.Run failing = CliTest.run("explain", "--plugins", plugins.toString(), "--policies", policies.toString(), "--policy", "lenient",
                "--request", req.toString());
        assertEquals(0, failing.code(), failing.err());
        assertTrue(failing.out().startsWith("decision: allow"), failing.out());
        assertTrue(failing.out().contains("function `strict_check` threw Error: the model table is not loaded"), failing.out());
        assertTrue(failing.out().contains("the policy says `on error allow`"), failing.out());
    }
}
