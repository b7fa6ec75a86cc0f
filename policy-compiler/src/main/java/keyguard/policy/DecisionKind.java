package keyguard.policy;

/**
 * Why a decision came out as it did, in the precedence order of DESIGN.md: the first
 * that applies wins. The gateway maps each to its status and error code.
 */
public enum DecisionKind {
    ALLOWED(Outcome.ALLOW),
    UNKNOWN_MODEL(Outcome.DENY),
    /** The request's tags: a required one missing ({@code tags.required}) or one the policy does not accept ({@code tags.allow}). */
    REQUEST_TAGS(Outcome.DENY),
    FORBIDDEN(Outcome.DENY),
    MODEL_NOT_ALLOWED(Outcome.DENY),
    DATA_CLASS(Outcome.DENY),
    RATE_LIMIT(Outcome.THROTTLE),
    CONCURRENCY(Outcome.THROTTLE),
    BUDGET(Outcome.THROTTLE);

    private final Outcome outcome;

    DecisionKind(Outcome outcome) { this.outcome = outcome; }

    public Outcome outcome() { return outcome; }
}
