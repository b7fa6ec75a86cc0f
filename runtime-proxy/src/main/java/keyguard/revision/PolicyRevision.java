package keyguard.revision;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import keyguard.compiler.PolicyCompiler;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.Status;
import org.eclipse.jgit.api.errors.GitAPIException;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;

/**
 * The revision a policy directory is at: in a git working tree, the commit id (12 hex
 * digits), with {@code -dirty-} and a content hash when the directory has uncommitted or
 * untracked changes; elsewhere the content hash alone ({@code kgp-…}). Read with JGit, so
 * no git binary is needed.
 */
final class PolicyRevision {
    private PolicyRevision() {}

    static String of(Path dir, List<PolicyCompiler.Source> sources) {
        String content = PolicyCompiler.revision(sources);
        FileRepositoryBuilder builder = new FileRepositoryBuilder().readEnvironment().findGitDir(dir.toAbsolutePath().toFile());
        if (builder.getGitDir() == null) return content;
        try (Repository repo = builder.build()) {
            ObjectId head = repo.resolve("HEAD");
            if (head == null || repo.getWorkTree() == null) return content;
            String commit = head.getName().substring(0, 12);
            Path top = repo.getWorkTree().toPath().toRealPath();
            Path relative = top.relativize(dir.toRealPath());
            var command = Git.wrap(repo).status();
            if (!relative.toString().isEmpty()) command.addPath(relative.toString().replace('\\', '/')); // the whole tree otherwise
            Status status = command.call();
            return status.isClean() ? commit : commit + "-dirty-" + content.substring(4);
        } catch (IOException | GitAPIException | RuntimeException e) {
            System.getLogger("keyguard.policies").log(System.Logger.Level.WARNING,
                    "cannot read the git state of " + dir + " (" + e.getMessage() + "); using a content hash");
            return content;
        }
    }
}
