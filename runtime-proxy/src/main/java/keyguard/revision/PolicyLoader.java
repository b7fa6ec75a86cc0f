package keyguard.revision;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import keyguard.classify.Classifier;
import keyguard.compiler.Backend;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.testing.PolicyTestRunner;
import keyguard.providers.Providers;

/**
 * Loads the policy directory into the {@link LoadedPolicies} the gateway serves, and
 * reloads it — on a change seen by the watcher (debounced) or when asked — all or
 * nothing: every file must compile and every inline test pass, or the running revision
 * keeps serving and the failure is kept for {@code GET /admin/policies}. A new revision is
 * swapped in atomically; requests in flight finish on the snapshot they started with, and
 * the old revision's compiled classes are unloaded once nothing refers to them.
 */
public final class PolicyLoader implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("keyguard.policies");

    /**
     * The last reload attempt that failed: when, and the diagnostics or failed tests
     * ({@code teamReport}: the same without quoting the operator's files).
     */
    public record Failure(Instant at, String revision, String report, String teamReport) {}

    private final Path dir;
    private final Function<String, String> env;
    private final Providers.HttpUpstreamHolder http;
    private final Clock clock;
    private final AtomicReference<LoadedPolicies> current = new AtomicReference<>();
    private final AtomicLong reloads = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private volatile Failure lastFailure;
    private volatile WatchService watcher;
    private Thread watchThread;

    private final keyguard.functions.FunctionLibrary plugins;
    private final keyguard.compiler.Trust trust;
    /** Retires replaced revisions' JavaScript contexts once requests that started on them are done. */
    private final java.util.concurrent.ScheduledExecutorService retirer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon().name("keyguard-policy-retirer").unstarted(r));

    public PolicyLoader(Path dir, Function<String, String> env, Providers.HttpUpstreamHolder http, Clock clock) {
        this(dir, env, http, clock, keyguard.functions.FunctionLibrary.NONE, keyguard.compiler.Trust.DEFAULT);
    }

    public PolicyLoader(Path dir, Function<String, String> env, Providers.HttpUpstreamHolder http, Clock clock,
                        keyguard.functions.FunctionLibrary plugins, keyguard.compiler.Trust trust) {
        this.dir = dir;
        this.env = env;
        this.http = http;
        this.clock = clock;
        this.plugins = plugins;
        this.trust = trust;
    }

    /** How long a replaced revision's functions stay callable: longer than any decision, which never waits on upstream. */
    static final Duration RETIRE_AFTER = Duration.ofSeconds(30);

    /** Loads the directory for the first time; a failure is thrown, nothing is served. */
    public LoadedPolicies loadInitial() {
        LoadedPolicies lp = compile();
        current.set(lp);
        return lp;
    }

    public LoadedPolicies current() { return current.get(); }

    public Failure lastFailure() { return lastFailure; }

    public long reloads() { return reloads.get(); }

    public long failures() { return failures.get(); }

    /** Compiles the directory again and swaps it in if it loads; the answer says which revision serves. */
    public synchronized LoadedPolicies reload() {
        LoadedPolicies before = current.get();
        try {
            LoadedPolicies next = compile();
            if (before != null && next.set().revision().equals(before.set().revision())) {
                next.set().close();
                return before;
            }
            current.set(next);
            if (before != null && before.set().scripts() != null) {
                retirer.schedule(before.set()::close, RETIRE_AFTER.toMillis(), TimeUnit.MILLISECONDS);
            }
            reloads.incrementAndGet();
            lastFailure = null;
            LOG.log(System.Logger.Level.INFO, "policies reloaded: revision " + next.set().revision()
                    + (before == null ? "" : " (was " + before.set().revision() + ")"));
            return next;
        } catch (PolicyLoadException e) {
            lastFailure = new Failure(clock.instant(), revisionNow(), e.report(), e.teamReport()); // before the count: readers see both
            failures.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "policy reload failed (" + e.getMessage() + "); still serving revision "
                    + (before == null ? "none" : before.set().revision()) + "\n" + e.report());
            return before;
        } catch (RuntimeException e) {
            lastFailure = new Failure(clock.instant(), "", String.valueOf(e.getMessage()), "the policies could not be read; ask the platform team");
            failures.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "policy reload failed; still serving the previous revision", e);
            return before;
        }
    }

    private String revisionNow() {
        try {
            return PolicyRevision.of(dir, PolicyCompiler.readDirectory(dir, trust).files());
        } catch (RuntimeException e) {
            return "";
        }
    }

    private LoadedPolicies compile() {
        PolicyCompiler.Sources sources = PolicyCompiler.readDirectory(dir, trust);
        String revision = PolicyRevision.of(dir, sources.files());
        Compiled c = tested(PolicyCompiler.compile(sources, revision, plugins, trust));
        return new LoadedPolicies(c.set(), c.evaluators(), new Providers(c.set(), env, http), clock.instant(), new Classifier(c.set().detectors()));
    }

    /** A revision compiled and tested, not served: its set and evaluators. */
    public record Compiled(keyguard.policy.PolicySet set, java.util.Map<String, keyguard.policy.PolicyEvaluator> evaluators) {}

    /**
     * Compiles a candidate as a reload would (this loader's plugins and trust; its inline
     * tests run on the evaluators returned) without serving it: a git revision of the
     * policy directory's repository, or another directory. Throws
     * {@link PolicyLoadException} when it does not compile or a test fails, and
     * {@link IllegalArgumentException} when there is no such revision or directory.
     */
    public Compiled candidate(String revision, Path directory) {
        PolicyCompiler.Result r;
        if (directory != null) {
            if (!Files.isDirectory(directory)) throw new IllegalArgumentException("`" + directory + "` is not a directory");
            r = PolicyCompiler.compileDirectory(directory, plugins, trust);
        } else {
            r = Candidate.fromRevision(revision, dir, plugins, trust);
        }
        return tested(r);
    }

    /** The compiled set with its evaluators, compiled once: the inline tests run on the very classes that will serve. */
    private Compiled tested(PolicyCompiler.Result compiled) {
        if (!compiled.ok()) throw new PolicyLoadException(compiled.diagnostics(), this::isOperatorFile);
        java.util.Map<String, keyguard.policy.PolicyEvaluator> evaluators = Backend.COMPILED.evaluators(compiled.set());
        StringBuilder failed = new StringBuilder();
        int failedCount = 0;
        for (PolicyTestRunner.Outcome o : PolicyTestRunner.run(compiled.set(), evaluators)) {
            if (o.passed()) continue;
            failedCount++;
            failed.append("test failed: ").append(o.test().policy()).append(" / \"").append(o.test().name()).append("\": ")
                    .append(o.failure()).append('\n');
        }
        if (failedCount > 0) {
            compiled.set().close();
            throw new PolicyLoadException(failedCount + " inline test(s) fail", failed.toString());
        }
        return new Compiled(compiled.set(), evaluators);
    }

    /**
     * Whether a compiled source file ({@code SourceFile.path()}: relative to the policy
     * directory, or as read) belongs to the operator, and so is never quoted to a team.
     * Anything that cannot be placed counts as the operator's.
     */
    public boolean operatorOwned(String sourcePath) {
        try {
            Path p = Path.of(sourcePath);
            return p.isAbsolute() ? isOperatorFile(sourcePath) : trust.isOperatorFile(p.normalize());
        } catch (java.nio.file.InvalidPathException e) {
            return true;
        }
    }

    /** Whether a source path (as read: the directory, then the relative path) is in the operator's folder. */
    private boolean isOperatorFile(String path) {
        try {
            return trust.isOperatorFile(dir.relativize(Path.of(path)));
        } catch (IllegalArgumentException e) {
            return true; // not under the directory: never quote it to a team
        }
    }

    /**
     * Watches the directory (and, in a git working tree, the branch the tree is on) and
     * reloads after {@code debounce} without further changes.
     */
    public void watch(Duration debounce) throws IOException {
        WatchService ws = FileSystems.getDefault().newWatchService();
        register(ws, dir);
        Path git = gitDir();
        if (git != null) {
            register(ws, git);
            Path refs = git.resolve("refs/heads");
            if (Files.isDirectory(refs)) register(ws, refs);
        }
        watcher = ws;
        watchThread = Thread.ofPlatform().daemon().name("keyguard-policy-watcher").start(() -> loop(ws, debounce));
    }

    private Path gitDir() {
        for (Path p = dir.toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve(".git"))) return p.resolve(".git");
        }
        return null;
    }

    /** Registers {@code root} and its subdirectories, except git's own (the .git directory itself is registered alone). */
    private static void register(WatchService ws, Path root) throws IOException {
        boolean gitRoot = root.endsWith(".git");
        Files.walkFileTree(root, new java.nio.file.SimpleFileVisitor<>() {
            @Override
            public java.nio.file.FileVisitResult preVisitDirectory(Path d, java.nio.file.attribute.BasicFileAttributes attrs) throws IOException {
                if (!d.equals(root) && (gitRoot || d.endsWith(".git"))) return java.nio.file.FileVisitResult.SKIP_SUBTREE;
                d.register(ws, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE);
                return java.nio.file.FileVisitResult.CONTINUE;
            }
        });
    }

    private void loop(WatchService ws, Duration debounce) {
        try {
            while (true) {
                WatchKey key = ws.take();
                key.pollEvents();
                key.reset();
                // Debounce: an editor's save or a checkout is a burst of events.
                WatchKey more;
                while ((more = ws.poll(debounce.toMillis(), TimeUnit.MILLISECONDS)) != null) {
                    more.pollEvents();
                    more.reset();
                }
                try {
                    register(ws, dir); // new subdirectories
                } catch (IOException ignored) {
                    // the directory may be mid-checkout; the next event registers it
                }
                reload();
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // closing
        }
    }

    @Override
    public void close() {
        WatchService ws = watcher;
        if (ws != null) {
            try {
                ws.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        if (watchThread != null) watchThread.interrupt();
        retirer.shutdownNow();
        LoadedPolicies lp = current.get();
        if (lp != null) lp.set().close();
    }
}
