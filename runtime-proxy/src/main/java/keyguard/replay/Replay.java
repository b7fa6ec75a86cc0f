package keyguard.replay;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import keyguard.audit.AuditLog;
import net.openhft.chronicle.queue.ChronicleQueue;

/**
 * A replay from audit logs to a report: every decision event of {@code [from, to)} (of one
 * gateway or the merged logs of a fleet) is read, put in the order the decisions were made
 * (an event is written when its request ends, so the log's order is not quite that), and
 * decided again by the candidate.
 *
 * <p>Memory: the range's decisions are held at once to be sorted, a few hundred bytes each
 * (a day of a million requests is a few hundred MB; narrow the range with {@code --from}
 * and {@code --to} for more).
 */
public final class Replay {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Replay() {}

    /** The decisions of the logs in {@code [from, to)} in decision order; events replay cannot repeat are counted in {@code report}. */
    public static List<RecordedDecision> read(List<ChronicleQueue> queues, Instant from, Instant to, ReplayReport report) {
        List<RecordedDecision> out = new ArrayList<>();
        AuditLog.merge(queues, from, to, line -> {
            JsonNode e;
            try {
                e = JSON.readTree(line);
            } catch (IOException ex) {
                return; // not an event of ours
            }
            if (!"decision".equals(e.path("type").asText())) return;
            RecordedDecision r = RecordedDecision.parse(e);
            if (r == null) report.skipped();
            else out.add(r);
        });
        out.sort(Comparator.comparingLong(RecordedDecision::decidedAt)); // stable: ties keep the log's order
        return out;
    }

    /** Decides each of {@code decisions} (in decision order) under the candidate and adds it to {@code report}. */
    public static ReplayReport run(List<RecordedDecision> decisions, Replayer replayer, ReplayReport report) {
        for (RecordedDecision r : decisions) {
            Replayer.Verdict now;
            try {
                now = replayer.replay(r);
            } catch (RuntimeException e) {
                report.failed(r, e); // one decision the candidate cannot make does not end the replay
                continue;
            }
            report.add(r, Replayer.Verdict.of(r), now);
        }
        return report;
    }
}
