package keyguard.policy;

import java.util.List;
import java.util.Map;

/**
 * The answer of {@link PolicyEvaluator#decide}: the outcome, why ({@code kind} and the ids
 * of the rules or limits that decided), a human reason, the audit tags, and what the
 * gateway must do besides forwarding (redact, reroute to {@code routedModel}, warn).
 * {@code limit} is the limit or budget that throttled, otherwise null.
 *
 * <p>Decisions are values: the two backends must return equal decisions for equal input,
 * which the differential test checks with {@link #equals}.
 */
public record Decision(DecisionKind kind, String policy, List<String> rules, String reason, Map<String, String> tags,
                       String routedModel, DataAction dataAction, Limit limit, List<String> warnings) {

    public Outcome outcome() { return kind.outcome(); }

    public boolean allowed() { return kind == DecisionKind.ALLOWED; }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(outcome().word());
        if (!rules.isEmpty()) sb.append(" by ").append(String.join(", ", rules));
        if (!reason.isEmpty()) sb.append(" (").append(reason).append(')');
        if (routedModel != null) sb.append(" routed to ").append(routedModel);
        if (dataAction != DataAction.NONE) sb.append(" data ").append(dataAction.word());
        if (!warnings.isEmpty()) sb.append(" warnings ").append(warnings);
        return sb.toString();
    }
}
