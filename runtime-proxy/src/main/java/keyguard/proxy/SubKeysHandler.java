package keyguard.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.Methods;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import keyguard.audit.AuditLog;
import keyguard.audit.UntrustedText;
import keyguard.delegation.CarveOuts;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeySecrets;
import keyguard.keys.KeyState;
import keyguard.keys.KeyStore;
import keyguard.policy.Delegation;
import keyguard.policy.Durations;
import keyguard.policy.Money;
import keyguard.policy.Policy;
import keyguard.revision.LoadedPolicies;
import keyguard.wire.ApiShape;
import keyguard.wire.ErrorCode;
import keyguard.wire.GatewayError;
import keyguard.wire.Responses;

/**
 * Sub-keys, minted and revoked by the key above them on the data plane
 * ({@code POST /v1/keyguard/keys}, {@code DELETE /v1/keyguard/keys/{id}}), as the key's
 * policy allows ({@code delegate max N depth D}).
 *
 * <p>Invariants: a sub-key only narrows. It has its parent's policy, owner, labels and team,
 * and counts on its root's {@code by key} counters ({@link KeyRecord#counterKey}), so a family
 * of keys never exceeds what the root may; it may call a subset of its parent's models; it
 * expires no later than its parent; a key holds at most {@code N} active sub-keys and none
 * lies deeper than {@code D} below the root. It is served only while every key above it is
 * ({@link KeyAuth}). A workload token mints nothing. Every mint and revocation is audited.
 * A sub-key minted with a budget ({@code budget_usd}) spends from a carve-out of its parent's
 * budgets, reserved before it is stored and returned when it ends ({@link CarveOuts}).
 */
public final class SubKeysHandler implements HttpHandler {
    public static final String PATH = "/v1/keyguard/keys";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_LIFETIME_SECONDS = 30L * 86_400;
    private static final long DEFAULT_LIFETIME_SECONDS = 3_600;
    private static final int MAX_BODY = 16 * 1024;
    private static final int MAX_NAME = 128;
    private static final java.math.BigDecimal MAX_CARVE_OUT_USD = java.math.BigDecimal.valueOf(1_000_000);

    private final KeyAuth auth;
    private final KeyStore keys;
    private final KeySecrets secrets;
    private final Supplier<LoadedPolicies> policies;
    private final AuditLog audit;
    private final Clock clock;
    private final CarveOuts carveOuts;

    public SubKeysHandler(KeyAuth auth, KeyStore keys, KeySecrets secrets, Supplier<LoadedPolicies> policies, AuditLog audit, Clock clock,
                          CarveOuts carveOuts) {
        this.carveOuts = carveOuts;
        this.auth = auth;
        this.keys = keys;
        this.secrets = secrets;
        this.policies = policies;
        this.audit = audit;
        this.clock = clock;
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) {
        boolean mint = exchange.getRequestMethod().equals(Methods.POST) && exchange.getRelativePath().equals(PATH);
        boolean revoke = exchange.getRequestMethod().equals(Methods.DELETE) && exchange.getRelativePath().startsWith(PATH + "/");
        if (!mint && !revoke) {
            Responses.error(exchange, ApiShape.OPENAI, ErrorCode.SUB_KEY_NOT_FOUND.error("`POST " + PATH + "` mints a sub-key, `DELETE " + PATH
                    + "/{id}` revokes one"), Map.of());
            return;
        }
        if (exchange.isInIoThread()) { // the store's writes (Redis in a fleet) and the body are waited for on a worker
            exchange.dispatch(this);
            return;
        }
        Authentication a = auth.authenticate(exchange);
        if (a instanceof Authentication.Refusal r) {
            auth.answer(exchange, ApiShape.OPENAI, r);
            return;
        }
        KeyRecord caller = ((Authentication.Key) a).record();
        try {
            if (caller.secretHash().isEmpty()) throw refused("a workload token mints no sub-keys; a key an admin made does");
            if (mint) mint(exchange, caller);
            else revoke(exchange, caller, exchange.getRelativePath().substring(PATH.length() + 1));
        } catch (Refusal e) {
            Responses.error(exchange, ApiShape.OPENAI, e.error, Map.of());
        }
    }

    /** A request this handler refuses, with its answer. */
    private static final class Refusal extends Exception {
        final GatewayError error;

        Refusal(GatewayError error) {
            super(null, null, false, false);
            this.error = error;
        }
    }

    private static Refusal refused(String reason) {
        return new Refusal(ErrorCode.DELEGATION_REFUSED.error(reason));
    }

    private static Refusal invalid(String reason) {
        return new Refusal(ErrorCode.SUB_KEY_INVALID.error(reason));
    }

    private void mint(HttpServerExchange exchange, KeyRecord parent) throws Refusal {
        JsonNode body = body(exchange);
        LoadedPolicies lp = policies.get();
        Policy policy = lp.set().policy(parent.policy());
        if (policy == null) throw refused("the policy `" + parent.policy() + "` of this key is not in the loaded revision");
        Delegation delegation = policy.delegation();
        if (delegation == null) throw refused("policy `" + policy.name() + "` lets its keys mint no sub-keys (it has no `delegate max N depth D`)");
        int depth = parent.delegated() == null ? 1 : parent.delegated().depth() + 1;
        if (depth > delegation.maxDepth()) {
            throw refused("a sub-key of this key would lie " + depth + " levels below its root; policy `" + policy.name() + "` allows " + delegation.maxDepth());
        }
        JsonNode nameNode = body.get("name");
        String name = nameNode != null && nameNode.isTextual() ? nameNode.asText() : "";
        if (name.isEmpty() || name.length() > MAX_NAME || UntrustedText.hasControl(name)) {
            throw invalid("`name` is required: at most " + MAX_NAME + " characters without control characters");
        }
        List<String> allowed = parent.delegated() != null ? parent.delegated().models() : policy.allowedModels();
        List<String> models = new ArrayList<>();
        JsonNode m = body.get("models");
        if (m == null || m.isNull()) {
            models.addAll(allowed);
        } else {
            if (!m.isArray() || m.isEmpty() || m.size() > 256) throw invalid("`models` is a non-empty list of the models this key may call");
            for (JsonNode model : m) {
                if (!model.isTextual() || !allowed.contains(model.asText())) {
                    throw refused("a sub-key may call only models its parent may: " + allowed + ", not `"
                            + UntrustedText.quote(model.asText(), 64) + "`");
                }
                if (!models.contains(model.asText())) models.add(model.asText());
            }
        }
        Instant now = clock.instant();
        long seconds = DEFAULT_LIFETIME_SECONDS;
        JsonNode in = body.get("expires_in");
        if (in != null && !in.isNull()) {
            seconds = in.isTextual() ? Durations.parseSeconds(in.asText()) : -1;
            if (seconds <= 0 || seconds > MAX_LIFETIME_SECONDS) throw invalid("`expires_in` is a duration of at most 30d, such as `15m` or `2h`");
        }
        Instant expires = now.plusSeconds(seconds);
        if (parent.expiresAt() != null && expires.isAfter(parent.expiresAt())) {
            if (in != null && !in.isNull()) throw refused("a sub-key expires no later than its parent, at " + parent.expiresAt());
            expires = parent.expiresAt();
        }
        long carve = carveOut(body);
        boolean explicitExpiry = in != null && !in.isNull();
        String root = parent.delegated() == null ? parent.id() : parent.delegated().root();
        KeySecrets.NewSecret secret = KeySecrets.generate();
        KeyRecord child;
        List<String> unacknowledged;
        synchronized (keys) { // the checks, the reservation and the write together: two mints at once cannot both take the last place
            KeyRecord current = keys.get(parent.id()); // a revocation (under this lock too) may have come since authentication
            if (current == null || current.state() != KeyState.ACTIVE || current.expired(clock.instant())) {
                throw refused("this key was revoked or expired while the sub-key was being minted");
            }
            long active = keys.all().stream().filter(k -> k.delegated() != null && k.delegated().parent().equals(parent.id())
                    && k.state() == KeyState.ACTIVE && !k.expired(now)).count();
            if (active >= delegation.maxChildren()) {
                throw refused("this key holds " + active + " active sub-keys, the most policy `" + policy.name() + "` allows; revoke one first");
            }
            KeyRecord.CarveOut carveOut = null;
            if (carve > 0) {
                try {
                    carveOut = carveOuts.reserve(parent, secret.id(), carve, lp, policy);
                } catch (CarveOuts.Refused e) {
                    throw refused(e.getMessage());
                }
                // A carve-out is a slice of the parent's current budget periods: its sub-key ends with the first of them.
                if (expires.isAfter(carveOut.ends())) {
                    if (explicitExpiry) {
                        carveOuts.release(parent, carveOut, lp, policy);
                        throw refused("a sub-key with a carve-out expires by the end of the budget period it is carved from, at " + carveOut.ends());
                    }
                    expires = carveOut.ends();
                }
            }
            child = new KeyRecord(secret.id(), name, parent.owner(), parent.policy(), parent.labels(), now, expires, KeyState.ACTIVE,
                    secrets.hash(secret.secret()), null, parent.labelsByAdmin(), parent.team(),
                    new KeyRecord.Delegated(parent.id(), root, depth, models, carveOut != null ? carveOut : parent.carveOut()));
            try {
                unacknowledged = keys.putAndConfirm(child, Duration.ofSeconds(2));
            } catch (RuntimeException e) {
                if (carveOut != null) carveOuts.release(parent, carveOut, lp, policy); // no sub-key holds it
                throw e;
            }
        }
        audit.recordAdmin("key:" + parent.id(), "keys.delegate", child.id(), "minted for policy " + child.policy() + ", depth " + depth
                + ", models " + models + ", until " + expires + (carve > 0 ? ", with a carve-out of " + Money.format(carve) + " usd" : ""));
        ObjectNode out = JSON.createObjectNode().put("id", child.id()).put("name", name).put("secret", secret.secret())
                .put("parent", parent.id()).put("root", root).put("depth", depth).put("policy", child.policy())
                .put("expires_at", expires.toString());
        if (carve > 0) out.put("budget_usd", Money.format(carve));
        models.forEach(out.putArray("models")::add);
        if (!unacknowledged.isEmpty()) unacknowledged.forEach(out.putArray("unacknowledged_nodes")::add);
        Responses.json(exchange, 201, out.toString());
    }

    /** Revokes a sub-key below the caller, and every sub-key below it. */
    private void revoke(HttpServerExchange exchange, KeyRecord caller, String id) throws Refusal {
        KeyRecord target = keys.get(id);
        boolean under = false;
        for (KeyRecord k = target; k != null && k.delegated() != null && !under; k = keys.get(k.delegated().parent())) {
            under = k.delegated().parent().equals(caller.id());
        }
        // A key that is not below the caller is answered as one that does not exist: no key learns of another's.
        if (target == null || !under) {
            throw new Refusal(ErrorCode.SUB_KEY_NOT_FOUND.error("no sub-key `" + UntrustedText.quote(id, 64) + "` below this key"));
        }
        List<String> below;
        synchronized (keys) { // as a mint's: a sub-key minted below the target meanwhile is revoked too, or refused
            if (target.state() != KeyState.REVOKED) keys.putAndConfirm(target.withState(KeyState.REVOKED), Duration.ofSeconds(2));
            below = keys.revokeSubKeys(target);
        }
        audit.recordAdmin("key:" + caller.id(), "keys.revoke", target.id(), "revoked by the key above it, with its sub-keys " + below);
        ObjectNode out = JSON.createObjectNode().put("id", target.id()).put("state", "revoked");
        below.forEach(out.putArray("sub_keys_revoked")::add);
        // Carve-outs go back at once, the deepest first: each reaches the one above it before that one returns.
        List<KeyRecord> ended = new ArrayList<>();
        for (String k : below) {
            KeyRecord r = keys.get(k);
            if (r != null) ended.add(r);
        }
        ended.sort(java.util.Comparator.comparingInt((KeyRecord k) -> k.delegated().depth()).reversed());
        for (KeyRecord k : ended) carveOuts.giveBack(k, "key:" + caller.id());
        if (target.holdsCarveOut()) out.put("budget_returned_usd", Money.format(carveOuts.giveBack(target, "key:" + caller.id())));
        Responses.json(exchange, 200, out.toString());
    }

    /** The carve-out a mint asks for ({@code budget_usd}, a decimal string or number of at most six decimals), 0 for none. */
    private static long carveOut(JsonNode body) throws Refusal {
        JsonNode b = body.get("budget_usd");
        if (b == null || b.isNull()) return 0;
        try {
            java.math.BigDecimal usd = b.isTextual() && b.asText().length() <= 32 ? new java.math.BigDecimal(b.asText()) : b.isNumber() ? b.decimalValue() : null;
            if (usd != null && usd.signum() > 0 && usd.compareTo(MAX_CARVE_OUT_USD) <= 0) return Money.micros(usd);
        } catch (NumberFormatException | ArithmeticException e) {
            // answered below
        }
        throw invalid("`budget_usd` is the sub-key's carve-out of its parent's budget: a positive amount in usd of at most six decimals, such as \"2.50\"");
    }

    private static JsonNode body(HttpServerExchange exchange) throws Refusal {
        exchange.startBlocking();
        byte[] bytes;
        try (var in = exchange.getInputStream()) {
            bytes = in.readNBytes(MAX_BODY + 1);
        } catch (IOException e) {
            throw invalid("the request body could not be read");
        }
        if (bytes.length > MAX_BODY) throw invalid("the request body is at most " + MAX_BODY + " bytes");
        try {
            JsonNode n = JSON.readTree(bytes);
            if (n == null || !n.isObject()) throw invalid("the request body is a JSON object");
            return n;
        } catch (IOException e) {
            throw invalid("the request body is not JSON");
        }
    }
}
