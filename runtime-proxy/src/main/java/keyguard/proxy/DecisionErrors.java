package keyguard.proxy;

import java.time.Instant;
import keyguard.counters.Refused;
import keyguard.policy.Decision;
import keyguard.policy.Limit;
import keyguard.policy.Metric;
import keyguard.policy.Money;
import keyguard.wire.ErrorCode;
import keyguard.wire.GatewayError;

/** The error contract of DESIGN.md for decisions that are not allow. */
public final class DecisionErrors {
    private DecisionErrors() {}

    public static int status(Decision d) {
        return switch (d.kind()) {
            case UNKNOWN_MODEL -> 404;
            case FORBIDDEN, MODEL_NOT_ALLOWED, DATA_CLASS -> 403;
            case REQUEST_TAGS -> d.rules().contains(keyguard.policy.Decisions.RULE_TAGS_REQUIRED) ? 400 : 403;
            case RATE_LIMIT, CONCURRENCY, BUDGET -> 429;
            case ALLOWED -> 200;
        };
    }

    public static GatewayError of(Decision d, String revision, String decisionId) {
        return of(d, revision, decisionId, null, 0);
    }

    /**
     * With what the counters said, for a throttle: how much is used, when it resets, and
     * when to retry ({@code retry-after}, whole seconds rounded up). A budget is not
     * retried ({@code x-should-retry: false}); nor is a request that alone exceeds a limit.
     */
    public static GatewayError of(Decision d, String revision, String decisionId, Refused refused, long nowMillis) {
        GatewayError e = switch (d.kind()) {
            case UNKNOWN_MODEL -> ErrorCode.MODEL_NOT_FOUND.error(d.reason()).param("model");
            case FORBIDDEN -> ErrorCode.POLICY_DENIED.error(d.reason());
            case MODEL_NOT_ALLOWED -> ErrorCode.MODEL_NOT_ALLOWED.error(d.reason()).param("model");
            case DATA_CLASS -> ErrorCode.DATA_CLASS_DENIED.error(d.reason());
            case REQUEST_TAGS -> (d.rules().contains(keyguard.policy.Decisions.RULE_TAGS_REQUIRED) ? ErrorCode.REQUEST_TAG_REQUIRED
                    : ErrorCode.REQUEST_TAG_NOT_ALLOWED).error(d.reason());
            case RATE_LIMIT, CONCURRENCY -> {
                if (refused != null && refused.retryAfterMillis() < 0) {
                    yield ErrorCode.RATE_LIMIT_NEVER_FITS.error(d.reason()).header("x-should-retry", "false");
                }
                long ms = refused == null ? 1000 : Math.max(1, refused.retryAfterMillis());
                yield ErrorCode.RATE_LIMIT_EXCEEDED.error(d.reason())
                        .header("retry-after", Long.toString((ms + 999) / 1000))
                        .header("retry-after-ms", Long.toString(ms));
            }
            case BUDGET -> ErrorCode.INSUFFICIENT_QUOTA.error(d.reason()).header("x-should-retry", "false");
            case ALLOWED -> throw new IllegalArgumentException("an allow is not an error");
        };
        e = e.detail("rule", String.join(",", d.rules())).detail("policy", d.policy()).detail("revision", revision);
        Limit limit = d.limit();
        if (limit != null) {
            e = e.detail("scope", limit.counter().scope().word()).detail("limit", limit.amount());
            if (refused != null) {
                e = e.detail("used", refused.used());
                if (refused.resetsAtMillis() > 0) e = e.detail("resets_at", Instant.ofEpochMilli(refused.resetsAtMillis()).toString());
                if (limit.counter().metric() == Metric.SPEND) {
                    e = e.detail("used_usd", Money.format(refused.used())).detail("limit_usd", Money.format(limit.amount()));
                }
            }
        }
        return e.detail("decision_id", decisionId);
    }
}
