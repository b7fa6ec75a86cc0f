package keyguard.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import keyguard.compiler.Backend;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.testing.JUnitXml;
import keyguard.compiler.testing.PolicyTestRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "test", description = "Run the inline tests of a policy directory on the compiled backend.")
final class TestCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "DIR", description = "policy directory (default: ./policies)")
    Path dir = Path.of("policies");

    @picocli.CommandLine.Mixin
    PluginsOption plugins = new PluginsOption();

    @picocli.CommandLine.Mixin
    TrustOptions trustOptions = new TrustOptions();

    @Option(names = "--junit", paramLabel = "FILE", description = "also write the results as JUnit XML")
    Path junit;

    @Option(names = "--backend", description = "compiled (default) or interpreter")
    Backend backend = Backend.COMPILED;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!Files.isDirectory(dir)) {
            err.println("error: `" + dir + "` is not a directory");
            return 2;
        }
        PolicyCompiler.Result r = PolicyCompiler.compileDirectory(dir, plugins.library(), trustOptions.trust());
        err.print(r.diagnostics().render());
        err.flush();
        if (!r.ok()) {
            err.println("error: the policies do not compile; no test ran");
            out.println("0 passed, 0 failed");
            return 1;
        }
        List<PolicyTestRunner.Outcome> outcomes = PolicyTestRunner.run(r.set(), backend);
        int failed = 0;
        for (PolicyTestRunner.Outcome o : outcomes) {
            if (o.passed()) continue;
            failed++;
            out.printf("FAIL %s › %s%n  --> %s%n  %s%n  decision: %s%n", o.test().suite(), o.test().name(),
                    o.test().span().location(), o.failure(), o.decision());
        }
        if (junit != null) {
            Path parent = junit.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            Files.writeString(junit, JUnitXml.render("keyguard policies " + r.set().revision(), outcomes));
        }
        out.printf("%d passed, %d failed%n", outcomes.size() - failed, failed);
        return failed == 0 ? 0 : 1;
    }
}
