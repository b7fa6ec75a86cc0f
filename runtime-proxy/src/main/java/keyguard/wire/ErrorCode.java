package keyguard.wire;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every error the gateway answers with, in one place: HTTP status, OpenAI's {@code type}
 * and {@code code} (Anthropic's {@code type} follows from the status, see
 * {@link ErrorBodies}), and the message template. {@code {name}} placeholders are filled in
 * order by {@link #error}. docs/gateway-errors.md is generated from this list and pins every
 * body in both API shapes ({@code GatewayErrorCatalogTest}).
 */
public enum ErrorCode {
    // ------------------------------------------------------------ who is calling
    MISSING_API_KEY(401, "authentication_error", "invalid_api_key", "missing API key: send `Authorization: Bearer kg-…` or `x-api-key: kg-…`"),
    INVALID_API_KEY(401, "authentication_error", "invalid_api_key", "invalid API key"),
    SECRET_REPLACED(401, "authentication_error", "invalid_api_key",
            "this secret of API key `{key}` was replaced at {replaced_at} and stopped working at {valid_until}; use the new secret"),
    KEY_REVOKED(401, "authentication_error", "invalid_api_key", "API key `{key}` has been revoked"),
    KEY_EXPIRED(401, "authentication_error", "invalid_api_key", "API key `{key}` expired at {expires_at}"),
    PARENT_KEY_ENDED(401, "authentication_error", "invalid_api_key", "API key `{key}` is a sub-key of `{parent}`, which is revoked or expired"),
    SUB_KEY_MODEL(403, "permission_error", "model_not_allowed", "this sub-key may call only {models}, not `{model}`"),
    DELEGATION_REFUSED(403, "permission_error", "delegation_not_allowed", "{reason}"),
    SUB_KEY_INVALID(400, "invalid_request_error", "invalid_request", "{reason}"),
    SUB_KEY_NOT_FOUND(404, "invalid_request_error", "not_found", "{reason}"),
    INVALID_WORKLOAD_TOKEN(401, "authentication_error", "invalid_api_key", "the workload token is refused: {reason}"),
    KEY_STORE_UNAVAILABLE(503, "api_error", "key_store_unavailable",
            "this gateway cannot confirm its keys are current (the fleet's key store is unreachable); retry shortly"),
    TOO_MANY_FAILED_AUTHENTICATIONS(429, "rate_limit_error", "too_many_failed_authentications",
            "too many requests with invalid API keys from this address; retry later"),
    ADMIN_UNAUTHORIZED(401, "authentication_error", "invalid_api_key", "{reason}"),
    ADMIN_FORBIDDEN(403, "permission_error", "forbidden", "{reason}"),
    ADMIN_INVALID_REQUEST(400, "invalid_request_error", "invalid_request", "{reason}"),
    ADMIN_UNAVAILABLE(503, "api_error", "unavailable", "{reason}"),
    ADMIN_STORE_UNAVAILABLE(503, "api_error", "audit_unavailable", "{reason}"),

    // ------------------------------------------------------------ what was sent
    NO_ROUTE(404, "invalid_request_error", "not_found",
            "no route {method} {path} (Keyguard serves /v1/chat/completions, /v1/embeddings, /v1/models, /v1/messages)"),
    METHOD_NOT_ALLOWED(405, "invalid_request_error", "method_not_allowed", "{method} is not allowed on {path}; use POST"),
    BODY_UNREADABLE(400, "invalid_request_error", "invalid_request", "the request body could not be read"),
    REQUEST_TOO_LARGE(413, "invalid_request_error", "request_too_large", "request body is larger than {max_bytes} bytes"),
    INVALID_REQUEST(400, "invalid_request_error", "invalid_request", "{reason}"),
    DATA_CLASS_HEADER_INVALID(400, "invalid_request_error", "invalid_request",
            "`x-keyguard-data-class` must be public, internal, confidential or restricted"),
    NOT_REDACTABLE(400, "invalid_request_error", "invalid_request", "the request cannot be forwarded redacted: {reason}"),
    CHAT_MODEL_FOR_EMBEDDINGS(400, "invalid_request_error", "model_not_supported",
            "model `{model}` is a chat model; embeddings need an embedding model"),
    EMBEDDING_MODEL_FOR_CHAT(400, "invalid_request_error", "model_not_supported", "model `{model}` is an embedding model; call /v1/embeddings"),
    MAX_TOKENS_EXCEEDS_LIMIT(400, "invalid_request_error", "max_tokens_exceeds_limit",
            "`{field}` is {asked}; the policy `{policy}` allows at most {limit}"),
    PARAMETER_NOT_ALLOWED(400, "invalid_request_error", "parameter_not_allowed",
            "`{param}` changes what model `{model}` bills and has no price there; the policy `{policy}` does not allow it"),

    // ------------------------------------------------------------ what the policy decided
    POLICY_MISSING(403, "permission_error", "policy_denied", "the policy `{policy}` of this key is not in the loaded revision"),
    KEY_OUTSIDE_ORGANISATION(403, "permission_error", "key_outside_organisation",
            "this key {reason}; the operator puts keys in teams (a key owned by a team's group is in the team), and teams in org units"),
    END_USERS_FULL(429, "rate_limit_error", "end_users_exceeded",
            "this key already counts {max} end users, the most policy `{policy}` tracks, and none of them is idle; a new end user is served once one is"),
    END_USER_INVALID(400, "invalid_request_error", "invalid_request",
            "the end user (`{source}`) must be a string of 1 to {max} characters without control characters"),
    MODEL_NOT_FOUND(404, "invalid_request_error", "model_not_found", "{reason}"),
    POLICY_DENIED(403, "permission_error", "policy_denied", "{reason}"),
    MODEL_NOT_ALLOWED(403, "permission_error", "model_not_allowed", "{reason}"),
    DATA_CLASS_DENIED(403, "permission_error", "data_class_denied", "{reason}"),
    REQUEST_TAG_REQUIRED(400, "invalid_request_error", "request_tag_required", "{reason}"),
    REQUEST_TAG_NOT_ALLOWED(403, "permission_error", "request_tag_not_allowed", "{reason}"),
    REQUEST_TAGS_INVALID(400, "invalid_request_error", "invalid_request",
            "`x-keyguard-tags` must be `name=value` pairs separated by commas (at most {max} tags; names of letters, digits, `_`, `.`, `-`): {reason}"),
    RATE_LIMIT_EXCEEDED(429, "rate_limit_error", "rate_limit_exceeded", "{reason}"),
    RATE_LIMIT_NEVER_FITS(429, "rate_limit_error", "rate_limit_exceeded",
            "{reason}; this request alone needs more than that, so it can never pass (lower max_tokens or the prompt)"),
    INSUFFICIENT_QUOTA(429, "insufficient_quota", "insufficient_quota", "{reason}"),

    // ------------------------------------------------------------ the gateway itself
    INTERNAL_ERROR(500, "api_error", "internal_error", "the gateway failed on this request; the operator can find {decision_id} in its log"),
    AUDIT_UNAVAILABLE(503, "api_error", "audit_unavailable",
            "the gateway cannot record this request in its audit log, so it does not forward it; retry shortly"),
    AUDIT_FAILED(503, "api_error", "audit_unavailable",
            "the gateway could not record this request in its audit log; the operator can find {decision_id} in its log"),
    COUNTER_STORE_UNAVAILABLE(503, "api_error", "counter_store_unavailable",
            "the fleet's counter store cannot be reached and this gateway has spent its share of `{limit}`; retry shortly"),
    OVERLOADED(503, "api_error", "overloaded", "the gateway holds its maximum of {in_flight} requests in flight; retry shortly"),
    WORKLOAD_TOKENS_BUSY(503, "api_error", "overloaded",
            "the gateway is checking as many new workload tokens as it checks at once; retry shortly (a token it has checked is answered at once)"),

    // ------------------------------------------------------------ the provider
    UPSTREAM_CREDENTIAL_REJECTED(502, "api_error", "upstream_error",
            "upstream `{provider}` rejected Keyguard's credential (HTTP {status}); an operator must check the provider's credential"),
    UPSTREAM_RATE_LIMITED(429, "rate_limit_error", "upstream_rate_limited", "upstream `{provider}` is rate limiting the gateway; retry later"),
    UPSTREAM_FAILED_STATUS(502, "api_error", "upstream_error", "upstream `{provider}` answered HTTP {status}"),
    /** Sent with the upstream's own 4xx status ({@link GatewayError#withStatus}) to a caller of the other API shape. */
    UPSTREAM_REJECTED(400, "invalid_request_error", "upstream_rejected", "upstream `{provider}` rejected the request (HTTP {status})"),
    UPSTREAM_UNREADABLE(502, "api_error", "upstream_error", "upstream `{provider}` sent an unreadable reply"),
    UPSTREAM_NOT_JSON(502, "api_error", "upstream_error", "upstream `{provider}` sent a reply that is not JSON"),
    UPSTREAM_CUT_OFF(502, "api_error", "upstream_error", "upstream `{provider}` reply was cut off"),
    UPSTREAM_STREAM_BROKE(502, "api_error", "upstream_error", "upstream `{provider}` stream broke off"),
    UPSTREAM_STREAM_ERROR(502, "api_error", "upstream_error", "upstream `{provider}` reported an error mid-stream"),
    UPSTREAM_STREAM_UNFINISHED(502, "api_error", "upstream_error", "upstream `{provider}` stream ended without finishing"),
    UPSTREAM_TIMEOUT(504, "api_error", "upstream_error", "upstream `{provider}` did not answer in time"),
    UPSTREAM_UNREACHABLE(502, "api_error", "upstream_error", "upstream `{provider}` is unreachable"),
    UPSTREAM_BUSY(503, "api_error", "upstream_busy",
            "the gateway holds its maximum of connections to upstream `{provider}` and its waiting line is full; retry shortly"),
    UPSTREAM_FAILED(502, "api_error", "upstream_error", "upstream `{provider}` failed: {cause}");

    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([a-z_]+)}");

    public final int status;
    public final String type;
    public final String code;
    public final String template;

    ErrorCode(int status, String type, String code, String template) {
        this.status = status;
        this.type = type;
        this.code = code;
        this.template = template;
    }

    /** The template's placeholders, in order. */
    public List<String> placeholders() {
        List<String> out = new ArrayList<>();
        Matcher m = PLACEHOLDER.matcher(template);
        while (m.find()) out.add(m.group(1));
        return out;
    }

    /** This error with its placeholders filled, in order, by {@code values}. */
    public GatewayError error(Object... values) {
        Matcher m = PLACEHOLDER.matcher(template);
        StringBuilder sb = new StringBuilder();
        int i = 0;
        while (m.find()) {
            if (i >= values.length) throw new IllegalArgumentException(name() + " needs " + placeholders());
            m.appendReplacement(sb, Matcher.quoteReplacement(String.valueOf(values[i++])));
        }
        if (i != values.length) throw new IllegalArgumentException(name() + " takes " + placeholders() + ", given " + values.length + " values");
        m.appendTail(sb);
        return GatewayError.of(this, sb.toString());
    }
}
