package keyguard.proxy;

import keyguard.policy.Decision;
import keyguard.policy.Limit;

/** The error contract of DESIGN.md for decisions that are not allow. */
public final class DecisionErrors {
    private DecisionErrors() {}

    public static int status(Decision d) {
        return switch (d.kind()) {
            case UNKNOWN_MODEL -> 404;
            case FORBIDDEN, MODEL_NOT_ALLOWED, DATA_CLASS -> 403;
            case RATE_LIMIT, CONCURRENCY, BUDGET -> 429;
            case ALLOWED -> 200;
        };
    }

    public static GatewayError of(Decision d, String revision, String decisionId) {
        GatewayError e = switch (d.kind()) {
            case UNKNOWN_MODEL -> GatewayError.of(404, "invalid_request_error", "model_not_found", d.reason()).param("model");
            case FORBIDDEN -> GatewayError.of(403, "permission_error", "policy_denied", d.reason());
            case MODEL_NOT_ALLOWED -> GatewayError.of(403, "permission_error", "model_not_allowed", d.reason()).param("model");
            case DATA_CLASS -> GatewayError.of(403, "permission_error", "data_class_denied", d.reason());
            case RATE_LIMIT, CONCURRENCY -> GatewayError.of(429, "rate_limit_error", "rate_limit_exceeded", d.reason())
                    .header("retry-after", "1");
            case BUDGET -> GatewayError.of(429, "insufficient_quota", "insufficient_quota", d.reason()).header("x-should-retry", "false");
            case ALLOWED -> throw new IllegalArgumentException("an allow is not an error");
        };
        e.detail("rule", String.join(",", d.rules())).detail("policy", d.policy()).detail("revision", revision);
        Limit limit = d.limit();
        if (limit != null) {
            e.detail("scope", limit.counter().scope().word()).detail("limit", limit.amount());
        }
        return e.detail("decision_id", decisionId);
    }
}
