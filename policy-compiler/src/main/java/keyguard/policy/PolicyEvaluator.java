package keyguard.policy;

/**
 * One policy, ready to decide. Implemented by the reference interpreter and by the
 * compiled hidden classes; both must return equal decisions for equal input.
 *
 * <p>Precedence (DESIGN.md): unknown model, then deny (forbid rules, model access, data
 * class), then rate limits, then concurrency, then budgets, then allow.
 */
public interface PolicyEvaluator {
    Decision decide(DecisionInput input);

    Policy policy();
}
