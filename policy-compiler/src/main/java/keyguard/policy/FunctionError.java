package keyguard.policy;

import keyguard.functions.FunctionFailure;

/**
 * A function failed while a rule was evaluated. The audit event of the request carries it
 * (policy, rule, function, kind, message) so that a broken function is seen, not guessed.
 *
 * @param denied true when the policy said {@code on error deny} and so the rule fired
 */
public record FunctionError(String policy, String rule, String function, FunctionFailure.Kind kind, String message, boolean denied) {

    public static FunctionError of(Policy p, ForbidRule rule, FunctionFailure f) {
        return new FunctionError(p.name(), rule.id(), f.function(), f.kind(), f.getMessage(), !p.allowOnFunctionError());
    }
}
