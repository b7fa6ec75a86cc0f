package keyguard.proxy;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import keyguard.classify.Classification;
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

    public void refused(String decisionId, KeyRecord key, Endpoint endpoint, String model, int status, String outcome) {
        LOG.log(Level.INFO, () -> String.format("%s key=%s name=%s policy=%s %s model=%s status=%d outcome=%s", decisionId, key.id(),
                key.name(), key.policy(), endpoint.path(), model, status, outcome));
    }

    public void decided(String decisionId, KeyRecord key, Endpoint endpoint, String model, Decision d, int status) {
        decided(decisionId, key, endpoint, model, d, status, Classification.NOTHING);
    }

    /** A refused decision, with the prompt's data class and detector hits (types and counts, never values). */
    public void decided(String decisionId, KeyRecord key, Endpoint endpoint, String model, Decision d, int status, Classification data) {
        LOG.log(Level.INFO, () -> String.format("%s key=%s name=%s policy=%s %s model=%s status=%d outcome=%s rules=%s data_class=%s detected=%s",
                decisionId, key.id(), key.name(), key.policy(), endpoint.path(), model, status, d.kind().name().toLowerCase(),
                String.join(",", d.rules()), data.dataClass().word(), data.summary()));
    }

    public void completed(String decisionId, KeyRecord key, Endpoint endpoint, String model, ModelInfo routed, Decision d, int status,
                          String outcome, long prompt, long completion, long overheadNanos, long totalNanos, Classification data) {
        LOG.log(Level.INFO, () -> String.format("%s key=%s name=%s policy=%s %s model=%s routed=%s provider=%s status=%d outcome=%s "
                        + "prompt_tokens=%d completion_tokens=%d overhead_us=%d total_ms=%d data_class=%s detected=%s data_action=%s tags=%s",
                decisionId, key.id(), key.name(), key.policy(), endpoint.path(), model, routed.name(), routed.provider(), status, outcome,
                prompt, completion, overheadNanos / 1000, totalNanos / 1_000_000, data.dataClass().word(), data.summary(),
                d.dataAction().word(), d.tags()));
    }
}
