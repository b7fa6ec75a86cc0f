package keyguard.proxy;

import java.util.List;
import java.util.Map;
import keyguard.audit.AuditEvent;
import keyguard.audit.AuditLog;
import keyguard.audit.DecisionRecord;
import keyguard.audit.UntrustedText;
import keyguard.classify.Classification;
import keyguard.keys.KeyRecord;
import keyguard.metrics.Metrics;
import keyguard.policy.Decision;
import keyguard.policy.FunctionError;
import keyguard.policy.ModelInfo;
import keyguard.wire.Endpoint;

/**
 * One line per request, after it ended: decision id, key id and name, policy, models,
 * outcome, status, tokens and the gateway's own time. Never a secret, a credential or
 * prompt text. The audit log is the record; this is the operator's tail.
 *
 * <p>Cheap by construction, because it runs for every request: the line is built with a
 * {@link StringBuilder} (no {@code String.format}), handed to {@code java.util.logging}
 * with its source already set (so no stack walk infers the caller), and emitted on the
 * audit writer's thread after the response is released, not on the request's IO thread.
 */
public final class AccessLog {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger("keyguard.access");

    private final AuditLog audit;
    private final Metrics metrics;
    /** Whether a response completes normally when its audit event could not be written (see {@link AuditLog.Then}). */
    private final boolean failOpen;

    /**
     * @param audit where every decision is also recorded; null for none
     * @param metrics counted into; null for none
     */
    /** This gateway's name, in every audit event. */
    private final String node;

    /** Where finished events go to be decided again by a shadow revision, if one is loaded; null for none. */
    private final keyguard.replay.Shadow shadow;

    /** The organisation of the loaded revision: each event names its key's team and org unit. */
    private final java.util.function.Supplier<keyguard.policy.OrgChart> org;

    public AccessLog(AuditLog audit, Metrics metrics, boolean failOpen, String node, keyguard.replay.Shadow shadow) {
        this(audit, metrics, failOpen, node, shadow, () -> keyguard.policy.OrgChart.NONE);
    }

    public AccessLog(AuditLog audit, Metrics metrics, boolean failOpen, String node, keyguard.replay.Shadow shadow,
                     java.util.function.Supplier<keyguard.policy.OrgChart> org) {
        this.org = org;
        this.shadow = shadow;
        this.audit = audit;
        this.metrics = metrics;
        this.failOpen = failOpen;
        this.node = node;
    }

    public AccessLog() {
        this(null, null, false, "", null);
    }

    /**
     * Whether a request may be forwarded: the audit log took its last event, or failures are
     * tolerated ({@code --audit-failure open}). When false the gateway answers 503 and
     * forwards nothing, so nothing is charged that is not audited.
     */
    public boolean mayForward() {
        return failOpen || audit == null || audit.writable();
    }

    /**
     * Refused by the gateway rather than by the policy: before a decision could be made (a
     * malformed request, a policy missing from the revision; {@code decided} null), or after
     * the policy allowed it (a model of the wrong kind, the audit log or the counter store
     * unavailable, overload). {@code then} (the answer) runs once the audit event is appended.
     */
    public void refused(String decisionId, String revision, KeyRecord key, Endpoint endpoint, String model, int status, String outcome,
                        DecisionRecord decided, AuditLog.Then then) {
        Runnable line = !LOG.isLoggable(java.util.logging.Level.INFO) ? null
                : () -> emit(start(decisionId, key, endpoint, model).append(" status=").append(status).append(" outcome=").append(outcome));
        audit(decisionId, revision, key, List.of(), model, "", "", 0, 0, 0, 0, outcome, status, 0, 0, Classification.NOTHING, "none", Map.of(),
                List.of(), null, null, decided, then, line);
        if (metrics != null) metrics.requested(key.policy(), model, outcome);
    }

    /** A refused decision, with the prompt's data class and detector hits (types and counts, never values). */
    public void decided(String decisionId, String revision, KeyRecord key, Endpoint endpoint, String model, Decision d, int status,
                        Classification data, List<FunctionError> functionErrors, DecisionRecord decided, AuditLog.Then then) {
        functionsFailed(decisionId, functionErrors);
        String outcome = d.kind().name().toLowerCase(java.util.Locale.ROOT);
        Runnable line = !LOG.isLoggable(java.util.logging.Level.INFO) ? null
                : () -> emit(start(decisionId, key, endpoint, model).append(" status=").append(status).append(" outcome=").append(outcome)
                        .append(" rules=").append(String.join(",", d.rules())).append(" data_class=").append(data.dataClass().word())
                        .append(" detected=").append(data.summary()));
        audit(decisionId, revision, key, d.rules(), model, "", "", 0, 0, 0, 0, outcome, status,
                0, 0, data, d.dataAction().word(), d.tags(), functionErrors, null, null, decided, then, line);
        if (metrics != null) metrics.requested(key.policy(), model, outcome);
    }

    /**
     * A request that reached its provider ended; {@code then} runs once its audit event is
     * appended. {@code usage} is what it used by billing term, {@code chargedBy} how its
     * charge was found ({@link AuditEvent#chargedBy}).
     */
    public void completed(String decisionId, String revision, KeyRecord key, Endpoint endpoint, String model, ModelInfo routed, Decision d,
                          int status, String outcome, long estimated, keyguard.policy.Usage usage, String chargedBy, long costMicros,
                          long overheadNanos, long totalNanos, Classification data, List<FunctionError> functionErrors, DecisionRecord decided,
                          AuditLog.Then then) {
        long prompt = usage.promptTokens();
        long completion = usage.completionTokens();
        functionsFailed(decisionId, functionErrors);
        Runnable line = !LOG.isLoggable(java.util.logging.Level.INFO) ? null
                : () -> emit(start(decisionId, key, endpoint, model).append(" routed=").append(routed.name()).append(" provider=")
                        .append(routed.provider()).append(" status=").append(status).append(" outcome=").append(outcome)
                        .append(" prompt_tokens=").append(prompt).append(" completion_tokens=").append(completion)
                        .append(" overhead_us=").append(overheadNanos / 1000).append(" total_ms=").append(totalNanos / 1_000_000)
                        .append(" data_class=").append(data.dataClass().word()).append(" detected=").append(data.summary())
                        .append(" data_action=").append(d.dataAction().word()).append(" tags=").append(UntrustedText.quote(d.tags().toString(), 512)));
        audit(decisionId, revision, key, d.rules(), model, routed.name(), routed.provider(), estimated, prompt, completion, costMicros,
                outcome, status, overheadNanos / 1000, totalNanos / 1_000_000, data, d.dataAction().word(), d.tags(), functionErrors,
                usage, chargedBy, decided, then, line);
        if (metrics != null) {
            metrics.requested(key.policy(), model, outcome);
            metrics.completed(key.policy(), routed.name(), prompt, completion, costMicros, overheadNanos, totalNanos);
        }
    }

    /** The line's start. Names and the caller's model are escaped and bounded: no value can forge a line. */
    private static StringBuilder start(String decisionId, KeyRecord key, Endpoint endpoint, String model) {
        StringBuilder sb = new StringBuilder(512).append(decisionId).append(" key=").append(key.id()).append(" name=");
        UntrustedText.append(sb, key.name(), 128).append(" policy=").append(key.policy()).append(' ').append(endpoint.path()).append(" model=");
        return UntrustedText.append(sb, model, 256);
    }

    /** Publishes a line with its source given, so that {@code java.util.logging} does not walk the stack to find it. */
    private static void emit(CharSequence line) {
        java.util.logging.LogRecord r = new java.util.logging.LogRecord(java.util.logging.Level.INFO, line.toString());
        r.setLoggerName(LOG.getName());
        r.setSourceClassName(AccessLog.class.getName());
        r.setSourceMethodName("request");
        LOG.log(r);
    }

    /**
     * Records the audit event; the answer ({@code then}) runs once it is appended (told false
     * when it could not be, unless failures are tolerated), and the access line after that.
     */
    private void audit(String decisionId, String revision, KeyRecord key, List<String> rules, String model, String routed, String provider,
                       long estimated, long prompt, long completion, long cost, String outcome, int status, long gatewayMicros,
                       long totalMillis, Classification data, String action, Map<String, String> tags, List<FunctionError> functionErrors,
                       keyguard.policy.Usage usage, String chargedBy, DecisionRecord decided, AuditLog.Then then, Runnable line) {
        AuditLog.Then after = recorded -> {
            if (then != null) then.run(recorded || failOpen);
            if (line != null) line.run();
        };
        if (audit == null) {
            after.run(true);
            return;
        }
        if (decided != null && !decided.policy().requestTags().isEmpty() && !decided.input().requestTags().isEmpty()
                && decided.decision().kind() != keyguard.policy.DecisionKind.REQUEST_TAGS) {
            // The caller's tags, as the policy's `allow tags` accepted them, join the policy's (which win): spend groups by them.
            // A policy that declares none records none: caller strings never become spend groups unasked.
            Map<String, String> merged = new java.util.LinkedHashMap<>(tags);
            decided.input().requestTags().forEach((k, v) -> { // accepted values only (an unknown model's request was never judged)
                keyguard.policy.TagRule rule = decided.policy().requestTags().get(k);
                if (rule != null && rule.accepts(v)) merged.putIfAbsent(k, v);
            });
            tags = merged;
        }
        keyguard.policy.OrgChart.Team team = key.team(org.get());
        AuditEvent event = new AuditEvent(decisionId, System.currentTimeMillis(), key.id(), key.name(), key.owner(), key.policy(), revision,
                rules, model == null ? "" : model, routed, provider, estimated, prompt, completion, cost, outcome, status, gatewayMicros,
                totalMillis, data.dataClass().word(), data.summary(), data.unscannableSummary(), action, tags, functionErrors, node,
                usage, chargedBy, decided, team == null ? "" : team.name(), team == null || team.unit() == null ? "" : team.unitName(),
                key.delegated() == null ? "" : key.delegated().root());
        audit.record(event, after);
        if (shadow != null) shadow.offer(event); // after the answer: the shadow never delays it
    }

    /**
     * A failing function is logged at WARNING, at most once per 10 s per policy rule with
     * the number of failures since, so a function broken for every request cannot flood the log.
     */
    private void functionsFailed(String decisionId, List<FunctionError> errors) {
        for (FunctionError e : errors) {
            if (metrics != null) metrics.functionFailed(e);
            long now = System.nanoTime();
            long[] state = failureLog.computeIfAbsent(e.policy() + "/" + e.rule(), k -> new long[] {now - FAILURE_LOG_EVERY, 0});
            synchronized (state) {
                state[1]++;
                if (now - state[0] < FAILURE_LOG_EVERY) continue;
                long count = state[1];
                state[0] = now;
                state[1] = 0;
                FUNCTIONS.log(System.Logger.Level.WARNING, () -> String.format("%s policy=%s rule=%s %s; the rule %s%s", decisionId, e.policy(), e.rule(),
                        UntrustedText.quote(e.message(), 512), e.denied() ? "denied (on error deny)" : "did not fire (on error allow)",
                        count > 1 ? " (" + (count - 1) + " more failures of this rule in the last 10 s)" : ""));
            }
        }
    }

    private static final System.Logger FUNCTIONS = System.getLogger("keyguard.functions");
    private static final long FAILURE_LOG_EVERY = 10_000_000_000L;
    private final java.util.concurrent.ConcurrentHashMap<String, long[]> failureLog = new java.util.concurrent.ConcurrentHashMap<>();
}
