package keyguard.compiler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import java.util.LinkedHashMap;
import java.util.Map;
import keyguard.compiler.check.Checker;
import keyguard.compiler.check.FunctionScope;
import keyguard.functions.FunctionLibrary;
import keyguard.lang.diag.Diagnostics;
import keyguard.lang.parse.PolicyParser;
import keyguard.lang.syntax.PolicyFile;
import keyguard.policy.PolicySet;

/**
 * Entry point of the front end: every {@code *.kgp} under a directory, parsed and checked
 * into one {@link PolicySet}, all or nothing. Files are read in path order, so the same
 * directory always compiles to the same set and revision.
 */
public final class PolicyCompiler {
    private PolicyCompiler() {}

    /** The set (null when there are errors), the diagnostics, and the files that were read. */
    public record Result(PolicySet set, Diagnostics diagnostics, List<PolicyFile> files) {
        public boolean ok() { return set != null; }
    }

    public record Source(String path, byte[] bytes) {}

    public static Result compileDirectory(Path dir) {
        return compileDirectory(dir, FunctionLibrary.NONE);
    }

    public static Result compileDirectory(Path dir, FunctionLibrary plugins) {
        List<Source> sources = read(dir);
        return compile(sources, revision(sources), plugins);
    }

    public static Result compile(List<Source> sources) {
        return compile(sources, revision(sources));
    }

    /** Compiles under a given revision label (the gateway's git commit id). */
    public static Result compile(List<Source> sources, String revision) {
        return compile(sources, revision, FunctionLibrary.NONE);
    }

    /**
     * Compiles policy sources; {@code .js} sources are the files that
     * {@code function js ... = file("...")} declarations may name. {@code plugins} are the
     * deployment's Java functions.
     */
    public static Result compile(List<Source> sources, String revision, FunctionLibrary plugins) {
        Diagnostics diagnostics = new Diagnostics();
        List<PolicyFile> files = new ArrayList<>();
        Map<String, byte[]> others = new LinkedHashMap<>();
        for (Source s : sources) {
            if (s.path().endsWith(".js")) {
                others.put(s.path(), s.bytes());
                continue;
            }
            PolicyParser.Result r = PolicyParser.parse(s.path(), s.bytes());
            diagnostics.addAll(r.diagnostics());
            if (r.file() != null) files.add(r.file());
        }
        if (diagnostics.hasErrors()) return new Result(null, diagnostics, files);
        PolicySet set = Checker.check(files, revision, diagnostics, new FunctionScope(plugins, others));
        return new Result(set, diagnostics, files);
    }

    /** Whether a file under the policy directory is part of the policy set: {@code .kgp} policies and {@code .js} functions. */
    public static boolean isSource(Path p) {
        String name = p.getFileName().toString();
        return name.endsWith(".kgp") || name.endsWith(".js");
    }

    /** Every source file under {@code dir} ({@link #isSource}), by relative path, with paths as the user typed the directory. */
    public static List<Source> read(Path dir) {
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(dir)) {
            paths = walk.filter(p -> isSource(p) && Files.isRegularFile(p)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read policy directory " + dir + ": " + e.getMessage(), e);
        }
        List<Source> out = new ArrayList<>();
        for (Path p : paths) {
            try {
                out.add(new Source(p.toString(), Files.readAllBytes(p)));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + p + ": " + e.getMessage(), e);
            }
        }
        return out;
    }

    /** A content hash over paths and bytes: {@code kgp-} and 12 hex digits. */
    public static String revision(List<Source> sources) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (Source s : sources) {
                sha.update(s.path().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                sha.update((byte) 0);
                sha.update(s.bytes());
                sha.update((byte) 0);
            }
            return "kgp-" + HexFormat.of().formatHex(sha.digest()).substring(0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
