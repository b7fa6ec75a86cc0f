package keyguard.replay;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import keyguard.policy.Money;
import keyguard.policy.Outcome;

/**
 * What a replay found: how many recorded decisions it repeated, which of them the candidate
 * decides otherwise (from what to what, with example decision ids), grouped by policy, key
 * and the rule that made the difference, and the spend involved. Rendered as text, as
 * markdown for a pull request, or as JSON; {@link #lastLine} is the summary every format
 * ends with.
 */
public final class ReplayReport {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** How many groups each "by …" list shows in text and markdown (JSON has them all). */
    private static final int TOP = 10;

    /** A group of changes: how many, and the first few decision ids. */
    private static final class Group {
        long count;
        final List<String> examples = new ArrayList<>();
    }

    private final String candidate;
    private final int examplesPerChange;
    private final TreeSet<String> serving = new TreeSet<>();
    private long replayed;
    private long skipped;
    private long changed;
    private long nowDenied;
    private long nowThrottled;
    private long nowAllowed;
    private long spendRefused;
    private long spendAdmitted;
    private long first = Long.MAX_VALUE;
    private long last = Long.MIN_VALUE;
    private final Map<String, Group> changes = new LinkedHashMap<>();
    private final Map<String, Long> byOutcome = new LinkedHashMap<>();
    private final Map<String, Long> byPolicy = new LinkedHashMap<>();
    private final Map<String, Long> byKey = new LinkedHashMap<>();
    private final Map<String, Long> byRule = new LinkedHashMap<>();

    /** @param candidate the candidate's revision; {@code examplesPerChange} decision ids kept per kind of change */
    public ReplayReport(String candidate, int examplesPerChange) {
        this.candidate = candidate;
        this.examplesPerChange = examplesPerChange;
    }

    /** An event replay could not repeat (no recorded input). */
    public void skipped() {
        skipped++;
    }

    /** A recorded decision the candidate could not decide (its evaluator threw): counted, with the first few ids. */
    public void failed(RecordedDecision r, RuntimeException e) {
        failed++;
        if (failedExamples.size() < examplesPerChange) failedExamples.add(r.decisionId() + ": " + keyguard.audit.UntrustedText.quote(String.valueOf(e), 200));
    }

    private long failed;
    private final List<String> failedExamples = new ArrayList<>();

    /** One replayed decision: what was decided, and what the candidate decides. */
    public void add(RecordedDecision r, Replayer.Verdict was, Replayer.Verdict now) {
        replayed++;
        first = Math.min(first, r.decidedAt());
        last = Math.max(last, r.decidedAt());
        serving.add(r.revision());
        if (!now.differs(was)) return;
        changed++;
        Group g = changes.computeIfAbsent(keyguard.audit.UntrustedText.quote(was.describe() + " → " + now.describe(), 512), k -> new Group());
        g.count++;
        if (g.examples.size() < examplesPerChange) g.examples.add(r.decisionId());
        byOutcome.merge(was.outcome().word() + " → " + now.outcome().word(), 1L, Long::sum);
        byPolicy.merge(r.policy(), 1L, Long::sum);
        byKey.merge(r.keyId() + " (" + keyguard.audit.UntrustedText.quote(r.keyName(), 64) + ")", 1L, Long::sum);
        Replayer.Verdict why = now.outcome() == Outcome.ALLOW ? was : now;
        byRule.merge(why.rules().isEmpty() ? why.kind() : String.join(", ", why.rules()), 1L, Long::sum);
        if (was.outcome() != now.outcome()) {
            switch (now.outcome()) {
                case DENY -> nowDenied++;
                case THROTTLE -> nowThrottled++;
                case ALLOW -> nowAllowed++;
            }
            if (was.outcome() == Outcome.ALLOW) spendRefused += was.costMicros();
            if (now.outcome() == Outcome.ALLOW) spendAdmitted += now.costMicros();
        }
    }

    public long replayed() { return replayed; }

    public long changed() { return changed; }

    /**
     * What {@code --fail-on} can test: {@code replayed}, {@code skipped}, {@code failed}
     * (decisions the candidate could not make), {@code changed},
     * {@code denied}, {@code throttled}, {@code allowed} (requests whose outcome became that),
     * {@code refused} (denied + throttled), {@code spend_refused_usd}, {@code spend_admitted_usd}.
     */
    public Map<String, Double> variables() {
        Map<String, Double> v = new LinkedHashMap<>();
        v.put("replayed", (double) replayed);
        v.put("skipped", (double) skipped);
        v.put("failed", (double) failed);
        v.put("changed", (double) changed);
        v.put("denied", (double) nowDenied);
        v.put("throttled", (double) nowThrottled);
        v.put("allowed", (double) nowAllowed);
        v.put("refused", (double) (nowDenied + nowThrottled));
        v.put("spend_refused_usd", spendRefused / 1e6);
        v.put("spend_admitted_usd", spendAdmitted / 1e6);
        return v;
    }

    /** {@code replayed 48000 decisions: 312 changed (300 allow → throttle, 12 allow → deny)}. */
    public String lastLine() {
        StringBuilder sb = new StringBuilder("replayed ").append(replayed).append(" decisions: ").append(changed).append(" changed");
        if (!byOutcome.isEmpty()) {
            sb.append(" (");
            int i = 0;
            for (Map.Entry<String, Long> e : sorted(byOutcome)) sb.append(i++ == 0 ? "" : ", ").append(e.getValue()).append(' ').append(e.getKey());
            sb.append(')');
        }
        return sb.toString();
    }

    private String span() {
        if (replayed == 0) return "no decisions";
        return Instant.ofEpochMilli(first) + " to " + Instant.ofEpochMilli(last);
    }

    private String spendLine() {
        return "$" + Money.format(spendRefused) + " charged for requests the candidate refuses; $" + Money.format(spendAdmitted)
                + " (their reservations' price) for requests it admits that were refused";
    }

    public String text() {
        StringBuilder sb = new StringBuilder();
        sb.append("candidate ").append(candidate).append(" against ").append(replayed).append(" decisions of revision")
                .append(serving.size() == 1 ? " " : "s ").append(String.join(", ", serving)).append(" (").append(span()).append(")\n");
        if (skipped > 0) sb.append("not replayable: ").append(skipped).append(" events (refused before their policy decided, or written before schema 2)\n");
        if (failed > 0) sb.append("could not be decided by the candidate: ").append(failed).append(", e.g. ").append(String.join("; ", failedExamples)).append('\n');
        if (changed > 0) {
            sb.append("\nchanges:\n");
            for (Map.Entry<String, Group> e : sortedGroups()) {
                sb.append(String.format("%8d  %s%n          e.g. %s%n", e.getValue().count, e.getKey(), String.join(", ", e.getValue().examples)));
            }
            sb.append("\nspend: ").append(spendLine()).append('\n');
            table(sb, "by policy", byPolicy);
            table(sb, "by key", byKey);
            table(sb, "by rule", byRule);
        }
        return sb.append('\n').append(lastLine()).append('\n').toString();
    }

    private static void table(StringBuilder sb, String title, Map<String, Long> m) {
        sb.append('\n').append(title).append(":\n");
        int i = 0;
        for (Map.Entry<String, Long> e : sorted(m)) {
            if (i++ == TOP) {
                sb.append(String.format("%8s  (%d more)%n", "…", m.size() - TOP));
                break;
            }
            sb.append(String.format("%8d  %s%n", e.getValue(), e.getKey()));
        }
    }

    /** Ready to paste into a pull request. */
    public String markdown() {
        StringBuilder sb = new StringBuilder();
        sb.append("### Policy replay: `").append(candidate).append("`\n\n");
        sb.append("| | |\n|---|---|\n");
        sb.append("| replayed | ").append(replayed).append(" decisions of `").append(String.join("`, `", serving)).append("`, ")
                .append(span()).append(" |\n");
        sb.append("| changed | **").append(changed).append("** |\n");
        sb.append("| now refused | ").append(nowDenied).append(" denied, ").append(nowThrottled).append(" throttled |\n");
        sb.append("| now allowed | ").append(nowAllowed).append(" |\n");
        sb.append("| spend | ").append(spendLine().replace("$", "\\$")).append(" |\n");
        if (skipped > 0) sb.append("| not replayable | ").append(skipped).append(" events |\n");
        if (failed > 0) sb.append("| could not be decided | ").append(failed).append(" |\n");
        if (changed > 0) {
            sb.append("\n#### Changes\n\n| requests | from → to | examples |\n|---:|---|---|\n");
            for (Map.Entry<String, Group> e : sortedGroups()) {
                sb.append("| ").append(e.getValue().count).append(" | ").append(cell(e.getKey())).append(" | `")
                        .append(String.join("` `", e.getValue().examples)).append("` |\n");
            }
            mdTable(sb, "policy", byPolicy);
            mdTable(sb, "key", byKey);
            mdTable(sb, "rule", byRule);
        }
        return sb.append('\n').append(lastLine()).append('\n').toString();
    }

    private static void mdTable(StringBuilder sb, String what, Map<String, Long> m) {
        sb.append("\n| ").append(what).append(" | changed |\n|---|---:|\n");
        int i = 0;
        for (Map.Entry<String, Long> e : sorted(m)) {
            if (i++ == TOP) {
                sb.append("| … ").append(m.size() - TOP).append(" more | |\n");
                break;
            }
            sb.append("| ").append(cell(e.getKey())).append(" | ").append(e.getValue()).append(" |\n");
        }
    }

    /** A table cell: names come from keys and policies, so pipes and line breaks are escaped. */
    private static String cell(String s) {
        return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ");
    }

    public String json() {
        ObjectNode o = JSON.createObjectNode();
        o.put("candidate", candidate);
        ArrayNode rev = o.putArray("serving_revisions");
        serving.forEach(rev::add);
        if (replayed > 0) {
            o.put("from", Instant.ofEpochMilli(first).toString());
            o.put("to", Instant.ofEpochMilli(last).toString());
        }
        variables().forEach((k, v) -> {
            if (!k.endsWith("_usd")) o.put(k, v.longValue());
        });
        // Exact decimals, not doubles (8e-06): micro-dollars with six places.
        o.put("spend_refused_usd", java.math.BigDecimal.valueOf(spendRefused, 6));
        o.put("spend_admitted_usd", java.math.BigDecimal.valueOf(spendAdmitted, 6));
        ArrayNode ch = o.putArray("changes");
        for (Map.Entry<String, Group> e : sortedGroups()) {
            ObjectNode c = ch.addObject().put("change", e.getKey()).put("count", e.getValue().count);
            ArrayNode ex = c.putArray("examples");
            e.getValue().examples.forEach(ex::add);
        }
        counts(o.putObject("by_outcome"), byOutcome);
        counts(o.putObject("by_policy"), byPolicy);
        counts(o.putObject("by_key"), byKey);
        counts(o.putObject("by_rule"), byRule);
        o.put("summary", lastLine());
        return o.toPrettyString() + "\n";
    }

    private static void counts(ObjectNode o, Map<String, Long> m) {
        for (Map.Entry<String, Long> e : sorted(m)) o.put(e.getKey(), e.getValue());
    }

    private static List<Map.Entry<String, Long>> sorted(Map<String, Long> m) {
        return m.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey())).toList();
    }

    private List<Map.Entry<String, Group>> sortedGroups() {
        return changes.entrySet().stream()
                .sorted(Comparator.<Map.Entry<String, Group>>comparingLong(e -> -e.getValue().count).thenComparing(Map.Entry::getKey)).toList();
    }
}
