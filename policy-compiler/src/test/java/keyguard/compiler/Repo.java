package keyguard.compiler;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the repository is, for tests that read `policies/` or `docs/`. */
public final class Repo {
    private Repo() {}

    public static Path root() {
        String prop = System.getProperty("keyguard.repo.root");
        Path p = prop != null ? Path.of(prop) : Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("policies"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("cannot find the repository root (no policies/ above " + Path.of("").toAbsolutePath() + ")");
        return p;
    }

    public static Path policies() { return root().resolve("policies"); }
}
