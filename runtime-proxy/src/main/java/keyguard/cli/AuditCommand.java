package keyguard.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.concurrent.Callable;
import keyguard.audit.AuditLog;
import net.openhft.chronicle.queue.ChronicleQueue;
import net.openhft.chronicle.queue.ExcerptTailer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Reads the audit log straight from the data directory (read-only; the gateway may be running). */
@Command(name = "audit", description = "Read the audit log: one JSON event per decision.",
        subcommands = {AuditCommand.Tail.class, AuditCommand.Export.class})
final class AuditCommand {
    /** Chronicle's start-up chatter is not part of a command's output. Held, so the setting stays. */
    private static final java.util.logging.Logger CHRONICLE = java.util.logging.Logger.getLogger("net.openhft");

    static Path auditDir(Path data) {
        CHRONICLE.setLevel(java.util.logging.Level.WARNING);
        return data.resolve("audit");
    }

    @Command(name = "tail", description = "Print the last events; with --follow, keep printing new ones.")
    static final class Tail implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--data", paramLabel = "DIR", description = "the gateway's data directory (default: ./data)")
        Path data = Path.of("data");

        @Option(names = {"-n", "--lines"}, description = "how many of the last events (default: 20)")
        int lines = 20;

        @Option(names = {"-f", "--follow"}, description = "keep printing events as they are written")
        boolean follow;

        @Override
        public Integer call() throws InterruptedException {
            PrintWriter out = spec.commandLine().getOut();
            if (!Files.isDirectory(auditDir(data))) {
                spec.commandLine().getErr().println("error: no audit log in " + auditDir(data));
                return 2;
            }
            try (ChronicleQueue q = AuditLog.openForReading(auditDir(data)); ExcerptTailer t = q.createTailer()) {
                ArrayDeque<String> last = new ArrayDeque<>();
                String line;
                while ((line = keyguard.audit.AuditLog.readEvent(t)) != null) {
                    last.addLast(line);
                    if (last.size() > lines) last.removeFirst();
                }
                last.forEach(out::println);
                out.flush();
                while (follow) {
                    line = keyguard.audit.AuditLog.readEvent(t);
                    if (line == null) {
                        Thread.sleep(100);
                        continue;
                    }
                    out.println(line);
                    out.flush();
                }
            }
            return 0;
        }
    }

    @Command(name = "export", description = {"Print the events of a time range as JSON lines.",
            "With several --data (the nodes of a fleet, their data directories copied or mounted), one stream ordered by time."})
    static final class Export implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--data", paramLabel = "DIR", description = "a gateway's data directory (default: ./data); repeat it to merge several nodes' logs")
        java.util.List<Path> data = new java.util.ArrayList<>();

        @Option(names = "--since", paramLabel = "WHEN", description = "a date (2026-11-01) or an instant; default: the beginning")
        String since;

        @Option(names = "--until", paramLabel = "WHEN", description = "a date or an instant, exclusive; default: now")
        String until;

        @Option(names = "--format", description = "jsonl (the only format so far)")
        String format = "jsonl";

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            if (!format.equals("jsonl")) {
                spec.commandLine().getErr().println("error: --format takes jsonl");
                return 2;
            }
            if (data.isEmpty()) data.add(Path.of("data"));
            for (Path d : data) {
                if (!Files.isDirectory(auditDir(d))) {
                    spec.commandLine().getErr().println("error: no audit log in " + auditDir(d));
                    return 2;
                }
            }
            Instant from;
            Instant to;
            try {
                from = AuditLog.parseBound(since);
                to = AuditLog.parseBound(until);
            } catch (RuntimeException e) {
                spec.commandLine().getErr().println("error: --since and --until take a date (2026-11-01) or an ISO-8601 instant");
                return 2;
            }
            java.util.List<ChronicleQueue> queues = new java.util.ArrayList<>();
            try {
                for (Path d : data) queues.add(AuditLog.openForReading(auditDir(d)));
                AuditLog.merge(queues, from, to, out::println);
            } finally {
                queues.forEach(ChronicleQueue::close);
            }
            out.flush();
            return 0;
        }
    }
}
