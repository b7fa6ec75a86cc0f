package keyguard.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import keyguard.audit.AuditLog;
import keyguard.compiler.PolicyCompiler;
import keyguard.compiler.emit.CompiledPolicies;
import keyguard.replay.FailOn;
import keyguard.replay.RecordedDecision;
import keyguard.replay.Replay;
import keyguard.replay.ReplayReport;
import keyguard.revision.Candidate;
import keyguard.replay.Replayer;
import net.openhft.chronicle.queue.ChronicleQueue;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "replay", description = {"Decide the requests of an audit log again under a candidate revision and report what would change.",
        "Exit 0; 1 when --fail-on holds; 2 when the log or the candidate cannot be read."})
final class ReplayCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--audit", paramLabel = "DIR", required = true,
            description = "a gateway's data directory (or its audit folder); repeat it to merge the logs of a fleet's nodes")
    List<Path> audit = new ArrayList<>();

    @Option(names = {"--from", "--since"}, paramLabel = "WHEN", description = "a date (2026-11-01) or an instant; default: the beginning")
    String from;

    @Option(names = {"--to", "--until"}, paramLabel = "WHEN", description = "a date or an instant, exclusive; default: the end")
    String to;

    @Option(names = "--policies", paramLabel = "DIR|REV", required = true,
            description = "the candidate: a policy directory, or a git revision (branch, tag, commit) of the repository holding --policy-dir")
    String policies;

    @Option(names = "--policy-dir", paramLabel = "DIR", description = "where the policies lie in their git repository, for a revision (default: policies)")
    Path policyDir = Path.of("policies");

    @Option(names = "--format", paramLabel = "FORMAT", description = "text (default), markdown (for a pull request) or json")
    String format = "text";

    @Option(names = "--fail-on", paramLabel = "EXPR",
            description = "exit 1 when this holds, e.g. 'changed > 0' or 'denied > 100 or spend_refused_usd >= 50'")
    String failOn;

    @Option(names = "--examples", paramLabel = "N", description = "decision ids shown per kind of change (default: 3)")
    int examples = 3;

    @picocli.CommandLine.Mixin
    PluginsOption plugins = new PluginsOption();

    @picocli.CommandLine.Mixin
    TrustOptions trustOptions = new TrustOptions();

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!List.of("text", "markdown", "json").contains(format)) {
            err.println("error: --format takes text, markdown or json");
            return 2;
        }
        FailOn condition = null;
        if (failOn != null) {
            try {
                condition = FailOn.parse(failOn, new ReplayReport("", 0).variables().keySet());
            } catch (IllegalArgumentException e) {
                err.println("error: " + e.getMessage());
                return 2;
            }
        }
        Instant since;
        Instant until;
        try {
            since = AuditLog.parseBound(from);
            until = AuditLog.parseBound(to);
        } catch (RuntimeException e) {
            err.println("error: --from and --to take a date (2026-11-01) or an ISO-8601 instant");
            return 2;
        }
        List<Path> dirs = new ArrayList<>();
        for (Path a : audit) {
            Path dir = Files.isDirectory(AuditCommand.auditDir(a)) ? AuditCommand.auditDir(a) : a;
            if (!Files.isDirectory(dir) || !hasQueueFiles(dir)) {
                err.println("error: no audit log in " + a + " (give a gateway's data directory or its audit folder)");
                return 2;
            }
            dirs.add(dir);
        }

        PolicyCompiler.Result compiled;
        try {
            compiled = Candidate.compile(policies, policyDir, plugins.library(), trustOptions.trust());
        } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
            err.println("error: " + e.getMessage());
            return 2;
        }
        err.print(compiled.diagnostics().render());
        if (!compiled.ok()) {
            err.println("error: the candidate has " + compiled.diagnostics().errorCount() + " error(s); nothing replayed");
            return 2;
        }
        Replayer replayer = new Replayer(compiled.set(), CompiledPolicies.compile(compiled.set()));
        ReplayReport report = new ReplayReport(compiled.set().revision(), examples);
        List<ChronicleQueue> queues = new ArrayList<>();
        try {
            for (Path d : dirs) queues.add(AuditLog.openForReading(d));
            List<RecordedDecision> decisions = Replay.read(queues, since, until, report);
            Replay.run(decisions, replayer, report);
        } finally {
            queues.forEach(ChronicleQueue::close);
        }
        out.print(switch (format) {
            case "markdown" -> report.markdown();
            case "json" -> report.json();
            default -> report.text();
        });
        out.flush();
        if (condition != null && report.replayed() == 0) {
            // A gate that saw nothing must not pass: a wrong range or a log from before schema 2 would always look clean.
            err.println("error: nothing was replayed (no decision events of schema 2 in the range); --fail-on cannot be judged");
            return 2;
        }
        if (condition != null && condition.holds(report.variables())) {
            err.println("--fail-on `" + condition + "` holds");
            return 1;
        }
        return 0;
    }

    private static boolean hasQueueFiles(Path dir) {
        try (var s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().endsWith(".cq4"));
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
