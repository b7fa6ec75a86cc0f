package keyguard.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.emit.CompiledPolicies;
import keyguard.policy.Policy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "check", description = "Compile every .kgp file of a policy directory; exit 0 when clean, 1 with errors.")
final class CheckCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "DIR", description = "policy directory (default: ./policies)")
    Path dir = Path.of("policies");

    @picocli.CommandLine.Mixin
    PluginsOption plugins = new PluginsOption();

    @picocli.CommandLine.Mixin
    TrustOptions trustOptions = new TrustOptions();

    @Option(names = "--cost", description = "report each policy's static cost bound (evaluation steps)")
    boolean cost;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!Files.isDirectory(dir)) {
            err.println("error: `" + dir + "` is not a directory");
            return 2;
        }
        long start = System.nanoTime();
        PolicyCompiler.Result r = PolicyCompiler.analyze(PolicyCompiler.compileDirectory(dir, plugins.library(), trustOptions.trust()));
        err.print(r.diagnostics().render());
        err.flush();
        if (!r.ok()) {
            err.println("error: " + r.diagnostics().errorCount() + " error(s), " + r.diagnostics().warningCount() + " warning(s); nothing loaded");
            return 1;
        }
        CompiledPolicies.compile(r.set());
        long ms = (System.nanoTime() - start) / 1_000_000;
        if (cost) {
            for (Policy p : r.set().policies().values()) {
                out.printf("%-24s cost bound %4d steps (%d rules, %d limits, %d budgets)%n", p.name(), p.costBound(),
                        p.forbids().size(), p.rateLimits().size() + p.concurrency().size(), p.budgets().size());
            }
        }
        out.printf("ok: %d files, %d models, %d policies, %d tests, revision %s (%d ms)%s%n", r.files().size(), r.set().models().size(),
                r.set().policies().size(), r.set().tests().size(), r.set().revision(), ms,
                r.diagnostics().warningCount() > 0 ? ", " + r.diagnostics().warningCount() + " warning(s)" : "");
        return 0;
    }
}
