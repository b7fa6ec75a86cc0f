package keyguard.proxy;

import io.undertow.server.HttpServerExchange;
import io.undertow.util.Headers;
import io.undertow.util.HttpString;
import java.time.Clock;
import java.util.Map;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeySecrets;
import keyguard.keys.KeyState;
import keyguard.keys.KeyStore;
import keyguard.wire.ApiShape;
import keyguard.wire.ErrorCode;
import keyguard.wire.Responses;

/**
 * Virtual-key authentication: the secret from {@code Authorization: Bearer} or
 * {@code x-api-key}, its id looked up in memory, its HMAC compared in constant time.
 * Messages name the key id at most, never what was presented.
 */
public final class KeyAuth {
    private static final HttpString X_API_KEY = new HttpString("x-api-key");

    private final KeyStore keys;
    private final KeySecrets secrets;
    private final Clock clock;
    private final AuthFailures failures;

    /** Trusted workload-token issuers, or null: only keys. */
    private final keyguard.identity.WorkloadIdentity workloads;

    public KeyAuth(KeyStore keys, KeySecrets secrets, Clock clock) {
        this(keys, secrets, clock, null);
    }

    public KeyAuth(KeyStore keys, KeySecrets secrets, Clock clock, keyguard.identity.WorkloadIdentity workloads) {
        this.keys = keys;
        this.secrets = secrets;
        this.clock = clock;
        this.failures = new AuthFailures(clock);
        this.workloads = workloads;
    }

    /** How failed authentications are answered (slower for an address that keeps failing). */
    public AuthFailures failures() { return failures; }

    /** Answers a refusal in the route's shape: a 401 through {@link AuthFailures}, anything else at once. */
    public void answer(HttpServerExchange exchange, ApiShape shape, Authentication.Refusal refusal) {
        if (refusal.error().status() == 401) failures.answer(exchange, shape, refusal.error());
        else Responses.error(exchange, shape, refusal.error(), Map.of());
    }

    /** The key's record, or a 401 error. */
    public Authentication authenticate(HttpServerExchange exchange) {
        if (!keys.current()) {
            // A fleet node that cannot prove it has every change may have missed a revocation.
            return new Authentication.Refusal(ErrorCode.KEY_STORE_UNAVAILABLE.error().header("retry-after", "1"));
        }
        String presented = presented(exchange);
        if (presented == null) {
            return new Authentication.Refusal(ErrorCode.MISSING_API_KEY.error());
        }
        if (workloads != null && keyguard.identity.WorkloadIdentity.looksLikeJwt(presented)) {
            // A workload's JWT (docs/identity.md): decided, limited and audited as a key of its mapped policy.
            return switch (workloads.verify(presented)) {
                case keyguard.identity.WorkloadIdentity.Workload w -> new Authentication.Key(w.record());
                case keyguard.identity.WorkloadIdentity.Refused r -> new Authentication.Refusal(ErrorCode.INVALID_WORKLOAD_TOKEN.error(r.reason()));
                case keyguard.identity.WorkloadIdentity.Busy b -> new Authentication.Refusal(ErrorCode.WORKLOAD_TOKENS_BUSY.error().header("retry-after", "1"));
            };
        }
        String id = KeySecrets.idOf(presented);
        KeyRecord record = id == null ? null : keys.get(id);
        if (record == null) return new Authentication.Refusal(ErrorCode.INVALID_API_KEY.error());
        if (!secrets.matches(presented, record.secretHash())) {
            KeyRecord.Rotation r = record.rotation();
            KeyRecord.PreviousSecret matched = null;
            if (r != null) {
                for (KeyRecord.PreviousSecret p : r.previous()) {
                    if (secrets.matches(presented, p.hash())) matched = p;
                }
            }
            if (matched == null) return new Authentication.Refusal(ErrorCode.INVALID_API_KEY.error());
            if (!clock.instant().isBefore(matched.validUntil())) {
                return new Authentication.Refusal(ErrorCode.SECRET_REPLACED.error(record.id(), matched.replacedAt(), matched.validUntil()));
            }
        }
        if (record.state() == KeyState.REVOKED) return new Authentication.Refusal(ErrorCode.KEY_REVOKED.error(record.id()));
        if (record.expired(clock.instant())) {
            return new Authentication.Refusal(ErrorCode.KEY_EXPIRED.error(record.id(), record.expiresAt()));
        }
        // A sub-key is served only while every key above it is: revoking a key ends its sub-keys at once, on every node.
        int levels = 0;
        for (KeyRecord.Delegated d = record.delegated(); d != null && levels++ <= keyguard.policy.Delegation.MAX_DEPTH; ) {
            KeyRecord above = keys.get(d.parent());
            if (above == null || above.state() != KeyState.ACTIVE || above.expired(clock.instant())) {
                return new Authentication.Refusal(ErrorCode.PARENT_KEY_ENDED.error(record.id(), d.parent()));
            }
            d = above.delegated();
        }
        return new Authentication.Key(record);
    }

    /**
     * Whether authenticating this request means checking a signature (a workload token not
     * verified before): too slow for an IO thread, which serves every connection it holds.
     */
    public boolean verifiesSignature(HttpServerExchange exchange) {
        if (workloads == null) return false;
        String presented = presented(exchange);
        return presented != null && keyguard.identity.WorkloadIdentity.looksLikeJwt(presented) && !workloads.remembers(presented);
    }

    static String presented(HttpServerExchange exchange) {
        String auth = exchange.getRequestHeaders().getFirst(Headers.AUTHORIZATION);
        if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            String v = auth.substring(7).strip();
            if (!v.isEmpty()) return v;
        }
        String apiKey = exchange.getRequestHeaders().getFirst(X_API_KEY);
        return apiKey == null || apiKey.isBlank() ? null : apiKey.strip();
    }
}
