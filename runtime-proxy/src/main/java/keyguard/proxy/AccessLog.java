package keyguard.proxy;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.List;
import keyguard.policy.FunctionError;
import java.util.Map;
import keyguard.audit.AuditEvent;
import keyguard.audit.AuditLog;
import keyguard.classify.Classification;
import keyguard.gateway.Metrics;
import keyguard.keys.KeyRecord;
import keyguard.policy.Decision;
import keyguard.policy.ModelInfo;

/**
 * One line per request, after it ended: decision id, key id and name, policy, models,
 * outcome, status, tokens and the gateway's own time. Never a secret, a credential or
 * prompt text. (The audit queue of the control-plane issue supersedes this for records.)
 */
public final class AccessLog {
    private static final Logger LOG = System.getLogger("keyguard.access");

    private final AuditLog audit;
    private final Metrics metrics;

    /**
     * @param audit where every decision is also recorded; null for none
     * @param metrics counted into; null for none
     */
    public AccessLog(AuditLog audit, Metrics metrics) {
        this.audit = audit;
        this.metrics = metrics;
    }

    public AccessLog() {
        this(null, null);
    }

    /**
     * Refused before a decision could be made (a malformed request, a policy missing from the
     * revision). {@code then} (the answer) runs once the audit event is appended.
     */
    public void refused(String decisionId, String revision, KeyRecord key, Endpoint endpoint, String model, int status, String outcome,
                        Runnable then) {
        LOG.log(Level.INFO, () -> String.format("%s key=%s name=%s policy=%s %s model=%s status=%d outcome=%s", decisionId, key.id(),
                key.name(), key.policy(), endpoint.path(), model, status, outcome));
        audit(decisionId, revision, key, List.of(), model, "", "", 0, 0, 0, 0, outcome, status, 0, 0, Classification.NOTHING, "none", Map.of(),
                List.of(), then);
        if (metrics != null) metrics.requested(key.policy(), model, outcome);
    }

    /** A refused decision, with the prompt's data class and detector hits (types and counts, never values). */
    public void decided(String decisionId, String revision, KeyRecord key, Endpoint endpoint, String model, Decision d, int status,
                        Classification data, List<FunctionError> functionErrors, Runnable then) {
        functionsFailed(decisionId, functionErrors);
        LOG.log(Level.INFO, () -> String.format("%s key=%s name=%s policy=%s %s model=%s status=%d outcome=%s rules=%s data_class=%s detected=%s",
                decisionId, key.id(), key.name(), key.policy(), endpoint.path(), model, status, d.kind().name().toLowerCase(),
                String.join(",", d.rules()), data.dataClass().word(), data.summary()));
        audit(decisionId, revision, key, d.rules(), model, "", "", 0, 0, 0, 0, d.kind().name().toLowerCase(java.util.Locale.ROOT), status,
                0, 0, data, d.dataAction().word(), d.tags(), functionErrors, then);
        if (metrics != null) metrics.requested(key.policy(), model, d.kind().name().toLowerCase(java.util.Locale.ROOT));
    }

    /** A request that reached its provider ended; {@code then} runs once its audit event is appended. */
    public void completed(String decisionId, String revision, KeyRecord key, Endpoint endpoint, String model, ModelInfo routed, Decision d,
                          int status, String outcome, long estimated, long prompt, long completion, long costMicros, long overheadNanos,
                          long totalNanos, Classification data, List<FunctionError> functionErrors, Runnable then) {
        functionsFailed(decisionId, functionErrors);
        LOG.log(Level.INFO, () -> String.format("%s key=%s name=%s policy=%s %s model=%s routed=%s provider=%s status=%d outcome=%s "
                        + "prompt_tokens=%d completion_tokens=%d overhead_us=%d total_ms=%d data_class=%s detected=%s data_action=%s tags=%s",
                decisionId, key.id(), key.name(), key.policy(), endpoint.path(), model, routed.name(), routed.provider(), status, outcome,
                prompt, completion, overheadNanos / 1000, totalNanos / 1_000_000, data.dataClass().word(), data.summary(),
                d.dataAction().word(), d.tags()));
        audit(decisionId, revision, key, d.rules(), model, routed.name(), routed.provider(), estimated, prompt, completion, costMicros,
                outcome, status, overheadNanos / 1000, totalNanos / 1_000_000, data, d.dataAction().word(), d.tags(), functionErrors, then);
        if (metrics != null) {
            metrics.requested(key.policy(), model, outcome);
            metrics.completed(key.policy(), routed.name(), prompt, completion, costMicros, overheadNanos, totalNanos);
        }
    }

    private void audit(String decisionId, String revision, KeyRecord key, List<String> rules, String model, String routed, String provider,
                       long estimated, long prompt, long completion, long cost, String outcome, int status, long gatewayMicros,
                       long totalMillis, Classification data, String action, Map<String, String> tags, List<FunctionError> functionErrors,
                       Runnable then) {
        if (audit == null) {
            if (then != null) then.run();
            return;
        }
        audit.record(new AuditEvent(decisionId, System.currentTimeMillis(), key.id(), key.name(), key.owner(), key.policy(), revision,
                rules, model == null ? "" : model, routed, provider, estimated, prompt, completion, cost, outcome, status, gatewayMicros,
                totalMillis, data.dataClass().word(), data.summary(), action, tags, functionErrors), then);
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
                FUNCTIONS.log(Level.WARNING, () -> String.format("%s policy=%s rule=%s %s; the rule %s%s", decisionId, e.policy(), e.rule(),
                        e.message(), e.denied() ? "denied (on error deny)" : "did not fire (on error allow)",
                        count > 1 ? " (" + (count - 1) + " more failures of this rule in the last 10 s)" : ""));
            }
        }
    }

    private static final System.Logger FUNCTIONS = System.getLogger("keyguard.functions");
    private static final long FAILURE_LOG_EVERY = 10_000_000_000L;
    private final java.util.concurrent.ConcurrentHashMap<String, long[]> failureLog = new java.util.concurrent.ConcurrentHashMap<>();
}
