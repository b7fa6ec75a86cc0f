package keyguard.compiler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
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
import keyguard.lang.diag.Code;
import keyguard.lang.diag.Diagnostic;
import keyguard.lang.diag.Diagnostics;
import keyguard.lang.source.SourceFile;
import keyguard.lang.source.Span;
import keyguard.lang.parse.PolicyParser;
import keyguard.lang.syntax.PolicyFile;
import keyguard.policy.PolicySet;

/**
 * Entry point of the front end: every {@code *.kgp} under a directory, parsed and checked
 * into one {@link PolicySet}, all or nothing. Files are read in path order, so the same
 * directory always compiles to the same set and revision.
 *
 * <p>Each source belongs to the operator or to a team ({@link Owner}); a directory's files
 * are the operator's when they lie under {@link Trust#operatorDir()}, every other file is a
 * team's. Sources built in code (tests, documentation examples) are the operator's unless
 * they say otherwise.
 */
public final class PolicyCompiler {
    private PolicyCompiler() {}

    /** The set (null when there are errors), the diagnostics, and the files that were read. */
    public record Result(PolicySet set, Diagnostics diagnostics, List<PolicyFile> files) {
        public boolean ok() { return set != null; }
    }

    /** Who owns a policy file: the operator (providers, credentials, models, detectors, labels) or a team. */
    public enum Owner { OPERATOR, TEAM }

    public record Source(String path, byte[] bytes, Owner owner) {
        /** An operator's source (a whole repository given in code). */
        public Source(String path, byte[] bytes) {
            this(path, bytes, Owner.OPERATOR);
        }
    }

    /**
     * What a directory holds: its source files, and the entries that were refused because
     * they are not regular files (symbolic links, devices, pipes), by path.
     */
    public record Sources(List<Source> files, List<String> refused) {
        public Sources {
            files = List.copyOf(files);
            refused = List.copyOf(refused);
        }
    }

    public static Result compileDirectory(Path dir) {
        return compileDirectory(dir, FunctionLibrary.NONE, Trust.DEFAULT);
    }

    public static Result compileDirectory(Path dir, FunctionLibrary plugins, Trust trust) {
        Sources sources = readDirectory(dir, trust);
        return compile(sources, revision(sources.files()), plugins, trust);
    }

    public static Result compile(List<Source> sources) {
        return compile(sources, revision(sources));
    }

    /** Compiles under a given revision label (the gateway's git commit id). */
    public static Result compile(List<Source> sources, String revision) {
        return compile(sources, revision, FunctionLibrary.NONE);
    }

    public static Result compile(List<Source> sources, String revision, FunctionLibrary plugins) {
        return compile(new Sources(sources, List.of()), revision, plugins, Trust.DEFAULT);
    }

    /**
     * Compiles policy sources; {@code .js} sources are the files that
     * {@code function js ... = file("...")} declarations may name. {@code plugins} are the
     * deployment's Java functions; {@code trust} what the operator allows the repository.
     */
    public static Result compile(Sources sources, String revision, FunctionLibrary plugins, Trust trust) {
        Diagnostics diagnostics = new Diagnostics();
        for (String refused : sources.refused()) {
            diagnostics.add(Diagnostic.error(Code.KG0011, new Span(new SourceFile(refused, ""), 0, 0),
                            "`" + refused + "` is refused")
                    .label("a link, a special file, or a name that passes for the operator's folder")
                    .help("commit regular files only, under their own names; a link could make the gateway read a file outside the policy directory"));
        }
        List<PolicyFile> files = new ArrayList<>();
        Map<String, byte[]> others = new LinkedHashMap<>();
        java.util.Set<String> teamFiles = new java.util.HashSet<>();
        for (Source s : sources.files()) {
            if (s.owner() == Owner.TEAM) teamFiles.add(s.path());
            if (s.path().endsWith(".js")) {
                others.put(s.path(), s.bytes());
                continue;
            }
            PolicyParser.Result r = PolicyParser.parse(s.path(), s.bytes());
            diagnostics.addAll(r.diagnostics());
            if (r.file() != null) files.add(r.file());
        }
        if (diagnostics.hasErrors()) return new Result(null, diagnostics, files);
        PolicySet set = Checker.check(files, revision, diagnostics, new FunctionScope(plugins, others), trust, teamFiles);
        return new Result(set, diagnostics, files);
    }

    /**
     * Adds what the analysis finds ({@code keyguard check}: KG0901–KG0907, warnings) to a
     * compiled result. Not part of {@link #compile}: a gateway loading a revision does not
     * need it, and it costs about 2 ms per policy with forbid rules (a SAT query per rule
     * and allowed model), which 10,000 generated policies turn into 20 s.
     */
    public static Result analyze(Result r) {
        if (r.ok()) keyguard.compiler.analysis.PolicyAnalysis.analyze(r.set(), r.diagnostics());
        return r;
    }

    /** Whether a file under the policy directory is part of the policy set: {@code .kgp} policies and {@code .js} functions. */
    public static boolean isSource(Path p) {
        String name = p.getFileName().toString();
        return name.endsWith(".kgp") || name.endsWith(".js");
    }

    /** Every source file under {@code dir}, as {@link #readDirectory}; throws if an entry was refused. */
    public static List<Source> read(Path dir) {
        Sources s = readDirectory(dir, Trust.DEFAULT);
        if (!s.refused().isEmpty()) throw new UncheckedIOException(new IOException("not regular files: " + s.refused()));
        return s.files();
    }

    /**
     * Every source file under {@code dir} ({@link #isSource}), by relative path, with paths
     * as the user typed the directory, each owned by the operator or a team by where it lies.
     * Links are never followed: a symbolic link below {@code dir} with a source's name or to a
     * folder, and a source name that is not a regular file, is refused, as is a top-level
     * name that could pass for the operator's folder ({@code PLATFORM/}, {@code platform\x.kgp}).
     * {@code dir} itself may be a link. Git's own folder is skipped.
     */
    public static Sources readDirectory(Path dir, Trust trust) {
        List<Path> paths = new ArrayList<>();
        List<String> refused = new ArrayList<>();
        Path root;
        try {
            root = dir.toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read policy directory " + dir + ": " + e.getMessage(), e);
        }
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted().forEach(real -> {
                if (real.equals(root) || real.startsWith(root.resolve(".git"))) return;
                Path p = dir.resolve(root.relativize(real).toString());
                if (trust.impersonatesOperatorDir(root.relativize(real).getName(0).toString())) {
                    if (isSource(real) || Files.isDirectory(real, LinkOption.NOFOLLOW_LINKS)) refused.add(p.toString());
                } else if (Files.isSymbolicLink(real)) {
                    if (isSource(real) || Files.isDirectory(real)) refused.add(p.toString()); // a linked folder could hide sources
                } else if (isSource(real) && !Files.isDirectory(real, LinkOption.NOFOLLOW_LINKS)) {
                    if (Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS)) paths.add(p);
                    else refused.add(p.toString());
                }
            });
        } catch (IOException | UncheckedIOException e) {
            throw new UncheckedIOException("cannot read policy directory " + dir + ": " + e.getMessage(),
                    e instanceof IOException io ? io : ((UncheckedIOException) e).getCause());
        }
        List<Source> out = new ArrayList<>();
        for (Path p : paths) {
            // Opened without following links: a file swapped for a link after the walk is not read.
            try (var ch = Files.newByteChannel(p, java.util.Set.of(java.nio.file.StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
                byte[] bytes = java.nio.channels.Channels.newInputStream(ch).readAllBytes();
                out.add(new Source(p.toString(), bytes, trust.isOperatorFile(dir.relativize(p)) ? Owner.OPERATOR : Owner.TEAM));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + p + ": " + e.getMessage(), e);
            }
        }
        return new Sources(out, refused);
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
