package keyguard.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import keyguard.compiler.PolicyCompiler;
import keyguard.policy.PolicySet;

/** Finds and compiles the repository's example policies, for benchmarks. */
final class ExamplePolicies {
    private ExamplePolicies() {}

    static Path dir() {
        String prop = System.getProperty("keyguard.policies");
        if (prop != null) return Path.of(prop);
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("policies"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("run from inside the repository or pass -Dkeyguard.policies=DIR");
        return p.resolve("policies");
    }

    /** The examples plus one extra file. */
    static PolicySet compileWith(String extra) {
        java.util.List<PolicyCompiler.Source> sources = new java.util.ArrayList<>(PolicyCompiler.read(dir()));
        sources.add(new PolicyCompiler.Source("bench.kgp", extra.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        PolicyCompiler.Result r = PolicyCompiler.compile(sources);
        if (!r.ok()) throw new IllegalStateException(r.diagnostics().render());
        return r.set();
    }

    static PolicySet compile() {
        PolicyCompiler.Result r = PolicyCompiler.compileDirectory(dir());
        if (!r.ok()) throw new IllegalStateException(r.diagnostics().render());
        return r.set();
    }
}
