package keyguard.revision;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.Trust;
import keyguard.functions.FunctionLibrary;
import org.eclipse.jgit.lib.FileMode;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;
import org.eclipse.jgit.treewalk.TreeWalk;

/**
 * The revision a replay decides with: a policy directory as it is on disk, or the policy
 * directory as a git revision has it ({@code main}, {@code origin/tighten-limits}, a commit
 * id), read with JGit from the repository the directory lies in, without checking it out.
 * A revision's files get the same owners as on disk (the operator's folder, the teams'
 * files), and its links and special entries are refused as on disk.
 */
public final class Candidate {
    private Candidate() {}

    /**
     * Compiles the candidate: {@code policies} is a directory, or else a git revision of the
     * repository holding {@code policyDir}; the result's set is null when it has errors.
     */
    public static PolicyCompiler.Result compile(String policies, Path policyDir, FunctionLibrary plugins, Trust trust) {
        Path dir = Path.of(policies);
        if (Files.isDirectory(dir)) return PolicyCompiler.compileDirectory(dir, plugins, trust);
        return fromRevision(policies, policyDir, plugins, trust);
    }

    /** Compiles the policy directory {@code policyDir} as git revision {@code revision} has it. */
    public static PolicyCompiler.Result fromRevision(String revision, Path policyDir, FunctionLibrary plugins, Trust trust) {
        FileRepositoryBuilder builder = new FileRepositoryBuilder().findGitDir(policyDir.toAbsolutePath().toFile());
        if (builder.getGitDir() == null) {
            throw new IllegalArgumentException("`" + revision + "` is not a directory, and " + policyDir + " is not in a git repository to find it in");
        }
        if (revision.isBlank() || revision.startsWith("-") || revision.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new IllegalArgumentException("`" + revision.replaceAll("\\p{Cntrl}", "?") + "` is not a git revision");
        }
        try (Repository repo = builder.build(); RevWalk walk = new RevWalk(repo)) {
            ObjectId id = repo.resolve(revision + "^{commit}");
            if (id == null) throw new IllegalArgumentException("`" + revision + "` is neither a directory nor a git revision of " + repo.getWorkTree());
            RevCommit commit = walk.parseCommit(id);
            String prefix = repo.getWorkTree().toPath().toRealPath().relativize(policyDir.toRealPath()).toString().replace('\\', '/');
            PolicyCompiler.Sources sources = read(repo, commit, prefix, policyDir, trust);
            if (sources.files().isEmpty() && sources.refused().isEmpty()) {
                throw new IllegalArgumentException("revision `" + revision + "` has no policy files under `" + (prefix.isEmpty() ? "." : prefix) + "`");
            }
            return PolicyCompiler.compile(sources, commit.abbreviate(12).name(), plugins, trust);
        } catch (org.eclipse.jgit.errors.RevisionSyntaxException e) {
            throw new IllegalArgumentException("`" + revision + "` is not a git revision: " + e.getMessage());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read revision `" + revision + "`: " + e.getMessage(), e);
        }
    }

    private static PolicyCompiler.Sources read(Repository repo, RevCommit commit, String prefix, Path policyDir, Trust trust) throws IOException {
        List<PolicyCompiler.Source> files = new ArrayList<>();
        List<String> refused = new ArrayList<>();
        try (TreeWalk tw = new TreeWalk(repo)) {
            tw.addTree(commit.getTree());
            tw.setRecursive(true);
            while (tw.next()) {
                String path = tw.getPathString();
                String rel;
                if (prefix.isEmpty()) rel = path;
                else if (path.startsWith(prefix + "/")) rel = path.substring(prefix.length() + 1);
                else continue;
                Path relative = Path.of(rel);
                if (relative.getName(0).toString().equals(".git")) continue;
                Path shown = policyDir.resolve(rel);
                FileMode mode = tw.getFileMode(0);
                boolean source = PolicyCompiler.isSource(relative);
                if (trust.impersonatesOperatorDir(relative.getName(0).toString())) {
                    if (source || relative.getNameCount() > 1) refused.add(shown.toString());
                } else if (mode == FileMode.SYMLINK || mode == FileMode.GITLINK) {
                    if (source || mode == FileMode.GITLINK) refused.add(shown.toString());
                } else if (source) {
                    byte[] bytes = repo.open(tw.getObjectId(0)).getBytes();
                    files.add(new PolicyCompiler.Source(shown.toString(), bytes,
                            trust.isOperatorFile(relative) ? PolicyCompiler.Owner.OPERATOR : PolicyCompiler.Owner.TEAM));
                }
            }
        }
        files.sort(java.util.Comparator.comparing(f -> Path.of(f.path()))); // path order, as a directory is read
        return new PolicyCompiler.Sources(files, refused);
    }
}
