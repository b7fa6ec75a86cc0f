package keyguard.proxy;

import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.server.RequestTooBigException;
import io.undertow.util.Headers;
import io.undertow.util.Methods;
import io.undertow.util.SameThreadExecutor;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import keyguard.audit.AuditLog;
import keyguard.classify.Classification;
import keyguard.counters.Admission;
import keyguard.counters.Enforcer;
import keyguard.counters.KeyCounters;
import keyguard.counters.Lease;
import keyguard.counters.NeedsStore;
import keyguard.counters.Overloaded;
import keyguard.counters.Refused;
import keyguard.counters.StoreUnavailable;
import keyguard.keys.KeyRecord;
import keyguard.policy.DataAction;
import keyguard.policy.DataClass;
import keyguard.policy.Decision;
import keyguard.policy.DecisionInput;
import keyguard.policy.Decisions;
import keyguard.policy.Limit;
import keyguard.policy.ModelInfo;
import keyguard.policy.Policy;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.ProviderInfo;
import keyguard.providers.Call;
import keyguard.providers.CallListener;
import keyguard.providers.Provider;
import keyguard.revision.LoadedPolicies;
import keyguard.tokens.PromptTokens;
import keyguard.tokens.TokenCounter;
import keyguard.wire.ApiShape;
import keyguard.wire.BadRequest;
import keyguard.wire.Endpoint;
import keyguard.wire.ErrorCode;
import keyguard.wire.GatewayError;
import keyguard.wire.ParsedRequest;
import keyguard.wire.RequestParser;
import keyguard.wire.Responses;

/**
 * The request path of one inference endpoint, in the order of DESIGN.md:
 * authenticate the key, read the body (capped), parse it, decide with the key's compiled
 * policy, then hand the call to the routed model's provider. Every refusal is answered in
 * the endpoint's shape with {@code error.keyguard} details and a decision id.
 *
 * <p>Threads: authentication, small bodies, parsing and deciding run on the IO thread
 * (microseconds); bodies over 2 KiB are parsed and token-counted on a worker thread.
 * Nothing here blocks on the network: providers answer asynchronously.
 */
public final class InferenceHandler implements HttpHandler {
    /** Output cap assumed for reservations when the caller sends none and the policy sets no {@code default max_tokens}. */
    public static final long DEFAULT_MAX_TOKENS = 1024;
    /** Above this, parsing and token counting (~11 us per KB) move off the IO thread. */
    private static final int INLINE_BODY_BYTES = 2 * 1024;
    /**
     * Prompts whose count would cost more than cl100k on this many bytes (~22 us) are
     * counted on a worker thread: o200k costs five times as much per byte.
     */
    private static final long INLINE_COUNT_BYTES = 2 * 1024;
    /** A caller may declare its prompt's class; it can raise the class found, never lower it. */
    static final io.undertow.util.HttpString DATA_CLASS_HEADER = new io.undertow.util.HttpString("x-keyguard-data-class");

    private final Endpoint endpoint;
    private final KeyAuth auth;
    private final Supplier<LoadedPolicies> policies;
    private final long maxBodyBytes;
    private final Enforcer enforcer;
    private final Clock clock;
    private final AccessLog log;
    private final CallerTimeouts timeouts;

    public InferenceHandler(Endpoint endpoint, KeyAuth auth, Supplier<LoadedPolicies> policies, long maxBodyBytes, Enforcer enforcer, AccessLog log,
                            CallerTimeouts timeouts) {
        this.timeouts = timeouts;
        this.endpoint = endpoint;
        this.auth = auth;
        this.policies = policies;
        this.maxBodyBytes = maxBodyBytes;
        this.enforcer = enforcer;
        this.clock = enforcer.clock();
        this.log = log;
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) {
        ApiShape shape = endpoint.shape();
        if (!exchange.getRequestMethod().equals(Methods.POST)) {
            exchange.setPersistent(false); // the body is not read: close instead of draining it
            exchange.getResponseHeaders().put(Headers.ALLOW, "POST");
            Responses.error(exchange, shape, ErrorCode.METHOD_NOT_ALLOWED.error(exchange.getRequestMethod(), endpoint.path()), Map.of());
            return;
        }
        KeyRecord key;
        switch (auth.authenticate(exchange)) {
            case Authentication.Refusal refusal -> {
                auth.answer(exchange, shape, refusal);
                return;
            }
            case Authentication.Key(KeyRecord k) -> key = k;
        }
        long declared = exchange.getRequestContentLength();
        if (declared > drainLimit()) {
            exchange.setPersistent(false);
            Responses.error(exchange, shape, tooLarge(), Map.of("connection", "close"));
            return;
        }
        BodyReader reader = new BodyReader(maxBodyBytes);
        BodyDeadline deadline = new BodyDeadline(exchange, timeouts);
        exchange.getRequestReceiver().receivePartialBytes(
                (ex, bytes, last) -> {
                    reader.add(bytes);
                    deadline.progress(last);
                    if (!last) return;
                    if (reader.tooLarge()) {
                        Responses.error(ex, shape, tooLarge(), Map.of());
                        return;
                    }
                    byte[] body = reader.bytes();
                    ex.dispatch(body.length > INLINE_BODY_BYTES ? ex.getConnection().getWorker() : SameThreadExecutor.INSTANCE,
                            () -> guarded(ex, key, body));
                },
                (ex, error) -> {
                    deadline.progress(true);
                    ex.setPersistent(false);
                    Responses.error(ex, shape, error instanceof RequestTooBigException ? tooLarge()
                            : ErrorCode.BODY_UNREADABLE.error(), Map.of("connection", "close"));
                });
    }

    /**
     * How much of an oversized body is read and thrown away before answering 413, so that
     * the caller, still sending, reads the answer instead of a connection reset. Beyond it
     * the connection is closed.
     */
    long drainLimit() {
        return drainLimit(maxBodyBytes);
    }

    public static long drainLimit(long maxBodyBytes) {
        return Math.max(maxBodyBytes * 4, maxBodyBytes + (16L << 20));
    }

    /**
     * Cuts the connection of a caller that sends its body too slowly (slowloris): a pause
     * longer than {@code bodyIdle} between two parts, or a body that takes longer than
     * {@code bodyTotal}. Runs on the exchange's IO thread: one timer, re-armed as parts arrive.
     */
    private static final class BodyDeadline implements Runnable {
        private final HttpServerExchange exchange;
        private final long idleNanos;
        private final long endNanos;
        private long lastNanos = System.nanoTime();
        private boolean done;
        private org.xnio.XnioExecutor.Key timer;

        BodyDeadline(HttpServerExchange exchange, CallerTimeouts t) {
            this.exchange = exchange;
            this.idleNanos = t.bodyIdle().toNanos();
            this.endNanos = lastNanos + t.bodyTotal().toNanos();
            arm(Math.min(idleNanos, endNanos - lastNanos));
        }

        private void arm(long nanos) {
            timer = exchange.getIoThread().executeAfter(this, Math.max(1, nanos / 1_000_000), java.util.concurrent.TimeUnit.MILLISECONDS);
        }

        void progress(boolean last) {
            lastNanos = System.nanoTime();
            if (last && !done) {
                done = true;
                timer.remove();
            }
        }

        @Override
        public void run() {
            if (done) return;
            long now = System.nanoTime();
            long due = Math.min(lastNanos + idleNanos, endNanos);
            if (now < due) {
                arm(due - now);
                return;
            }
            done = true;
            org.xnio.IoUtils.safeClose(exchange.getConnection());
        }
    }

    /** Collects a body up to the limit; past it, only counts (the rest is drained, not kept). */
    private static final class BodyReader {
        private final long max;
        private byte[] buf = new byte[1024];
        private int len;
        private boolean over;

        BodyReader(long max) { this.max = max; }

        void add(byte[] bytes) {
            if (over) return;
            if ((long) len + bytes.length > max) {
                over = true;
                buf = null;
                return;
            }
            if (len + bytes.length > buf.length) buf = java.util.Arrays.copyOf(buf, Math.max(buf.length * 2, len + bytes.length));
            System.arraycopy(bytes, 0, buf, len, bytes.length);
            len += bytes.length;
        }

        boolean tooLarge() { return over; }

        byte[] bytes() { return java.util.Arrays.copyOf(buf, len); }
    }

    private GatewayError tooLarge() {
        return ErrorCode.REQUEST_TOO_LARGE.error(maxBodyBytes);
    }

    /** A bug must still answer in the contract's shape (500 api_error), never with an empty page. */
    private void guarded(HttpServerExchange exchange, KeyRecord key, byte[] bytes) {
        try {
            afterBody(exchange, key, bytes);
        } catch (RuntimeException e) {
            internalError(exchange, e);
        }
    }

    private void internalError(HttpServerExchange exchange, RuntimeException e) {
        String id = decisionId();
        System.getLogger("keyguard.gateway").log(System.Logger.Level.ERROR, "internal error on " + endpoint.path() + " (" + id + ")", e);
        Responses.error(exchange, endpoint.shape(), ErrorCode.INTERNAL_ERROR.error(id).detail("decision_id", id), Map.of());
    }

    /**
     * After the body: the cheap checks first (the policy, the JSON, the request limit, the
     * model, the output cap), then the prompt is counted and scanned and the policy decides.
     * Every request refused after the request-limit gate counts against {@code limit requests}.
     */
    private void afterBody(HttpServerExchange exchange, KeyRecord key, byte[] bytes) {
        long start = System.nanoTime();
        ApiShape shape = endpoint.shape();
        LoadedPolicies lp = policies.get();
        String decisionId = decisionId();
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("x-keyguard-decision-id", decisionId);
        headers.put("x-keyguard-policy-revision", lp.set().revision());
        PolicyEvaluator evaluator = lp.evaluators().get(key.policy());
        if (evaluator == null) {
            GatewayError e = ErrorCode.POLICY_MISSING.error(key.policy())
                    .detail("policy", key.policy()).detail("revision", lp.set().revision()).detail("decision_id", decisionId);
            log.refused(decisionId, lp.set().revision(), key, endpoint, null, 403, "policy_missing", answer(exchange, shape, e, headers));
            return;
        }
        Policy policy = evaluator.policy();
        KeyCounters counters = enforcer.counters(key.id(), policy);
        long now = clock.millis();
        Refused gate = enforcer.requestGate(counters, now);
        if (gate != null) {
            Decision throttled = Decisions.throttled(policy, gate.limit());
            counters.rateLimitHeaders(now, headers);
            log.decided(decisionId, lp.set().revision(), key, endpoint, null, throttled, 429, Classification.NOTHING, java.util.List.of(),
                    answer(exchange, shape, DecisionErrors.of(throttled, lp.set().revision(), decisionId, gate, now), headers));
            return;
        }
        ParsedRequest request;
        try {
            request = RequestParser.parse(endpoint, bytes);
        } catch (BadRequest e) {
            enforcer.countRefused(counters);
            GatewayError bad = GatewayError.badRequest(e).detail("decision_id", decisionId);
            log.refused(decisionId, lp.set().revision(), key, endpoint, null, 400, "bad_request", answer(exchange, shape, bad, headers));
            return;
        }
        ModelInfo requested = lp.set().model(request.model());
        if (requested == null || !policy.allows(requested)) {
            // Refused whatever the prompt holds: decided without counting or scanning it.
            DecisionInput in = decisionInput(request, key, lp, 0, 0, DataClass.PUBLIC, false, now, counters);
            Decision decision = evaluator.decide(in);
            if (!decision.allowed()) {
                refuse(exchange, key, request, decision, counters, in, now, lp, decisionId, headers, Classification.NOTHING);
                return;
            }
        }
        long perChoice;
        if (endpoint == Endpoint.EMBEDDINGS) {
            perChoice = 0;
        } else {
            long limit = policy.maxTokensLimit();
            long fallback = policy.defaultMaxTokens() > 0 ? policy.defaultMaxTokens() : DEFAULT_MAX_TOKENS;
            perChoice = request.maxTokens() > 0 ? request.maxTokens() : limit > 0 ? Math.min(fallback, limit) : fallback;
            if (limit > 0 && perChoice > limit) {
                if (!policy.clampMaxTokens()) {
                    enforcer.countRefused(counters);
                    String field = request.billables().maxTokensField();
                    GatewayError e = ErrorCode.MAX_TOKENS_EXCEEDS_LIMIT.error(field, request.maxTokens(), policy.name(), limit)
                            .param(field).detail("limit", limit).detail("decision_id", decisionId);
                    log.refused(decisionId, lp.set().revision(), key, endpoint, request.model(), 400, "max_tokens_exceeds_limit",
                            answer(exchange, shape, e, headers));
                    return;
                }
                perChoice = limit;
                headers.put("x-keyguard-max-tokens-clamped", Long.toString(limit));
            }
        }
        long cap = perChoice;
        long output = saturatingMultiply(cap, request.billables().choices());
        TokenCounter counter = TokenCounter.forModel(requested);
        long media = request.billables().mediaTokens();
        long bound = TokenCounter.promptBound(request.texts());
        PromptTokens prompt;
        if (requested != null && counters.promptSizeDecidesNothing()) {
            prompt = PromptTokens.bounded(request.texts(), counter, bound, media); // nothing depends on the count: skip it
        } else if (exchange.isInIoThread() && bound * counter.relativeCost() > INLINE_COUNT_BYTES) {
            // Counting this prompt would hold the IO thread (and every connection on it) too long.
            exchange.dispatch(exchange.getConnection().getWorker(), () -> {
                try {
                    decideAndForward(exchange, key, request, lp, evaluator, counters, cap, output,
                            PromptTokens.counted(counter.countPrompt(request.texts()) + media), start, decisionId, headers);
                } catch (RuntimeException e) {
                    internalError(exchange, e);
                }
            });
            return;
        } else {
            prompt = PromptTokens.counted(counter.countPrompt(request.texts()) + media);
        }
        decideAndForward(exchange, key, request, lp, evaluator, counters, perChoice, output, prompt, start, decisionId, headers);
    }

    private static long saturatingMultiply(long a, long b) {
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        return hi != 0 || lo < 0 ? Long.MAX_VALUE : lo;
    }

    private DecisionInput decisionInput(ParsedRequest request, KeyRecord key, LoadedPolicies lp, long promptTokens, long output,
                                        DataClass dataClass, boolean unscannable, long now, KeyCounters counters) {
        return new DecisionInput()
                .model(request.model()).estimatedTokens(promptTokens).maxTokens(output).stream(request.stream())
                .classification(dataClass).unscannable(unscannable)
                .metadata(request.metadata()).keyId(key.id()).keyName(key.name()).keyOwner(key.owner())
                .labels(key.trustedLabels(lp.set().labels()))
                .epochMillis(now).usage(counters);
    }

    private void decideAndForward(HttpServerExchange exchange, KeyRecord key, ParsedRequest request, LoadedPolicies lp,
                                  PolicyEvaluator evaluator, KeyCounters counters, long perChoice, long output, PromptTokens prompt,
                                  long start, String decisionId, Map<String, String> headers) {
        ApiShape shape = endpoint.shape();
        long promptTokens = prompt.estimate();
        long now = clock.millis();
        String declaredHeader = exchange.getRequestHeaders().getFirst(DATA_CLASS_HEADER);
        DataClass declared = declaredHeader == null ? DataClass.PUBLIC : DataClass.parse(declaredHeader.strip().toLowerCase(java.util.Locale.ROOT));
        if (declared == null) {
            enforcer.countRefused(counters);
            GatewayError bad = ErrorCode.DATA_CLASS_HEADER_INVALID.error().detail("decision_id", decisionId);
            log.refused(decisionId, lp.set().revision(), key, endpoint, request.model(), 400, "bad_request", answer(exchange, shape, bad, headers));
            return;
        }
        Classification classification = lp.classifier().classify(request.body()).atLeast(declared);
        DecisionInput in = decisionInput(request, key, lp, promptTokens, output, classification.dataClass(), classification.hasUnscannable(),
                now, counters);
        Decision decision = evaluator.decide(in);
        if (!decision.allowed()) {
            refuse(exchange, key, request, decision, counters, in, now, lp, decisionId, headers, classification);
            return;
        }
        ParsedRequest forwarded = request;
        if (decision.dataAction() == DataAction.REDACT) {
            ModelInfo target = lp.set().model(request.model());
            Classification redacted = lp.classifier().redact(request.body(),
                    DataClass.min(evaluator.policy().data().max(), target.maxClass()));
            try {
                forwarded = RequestParser.parseRedacted(endpoint, request.body());
            } catch (BadRequest e) {
                // A value found in a field with a fixed type (a number) became a placeholder.
                enforcer.countRefused(counters);
                GatewayError bad = ErrorCode.NOT_REDACTABLE.error(e.getMessage()).detail("decision_id", decisionId);
                log.refused(decisionId, lp.set().revision(), key, endpoint, request.model(), 400, "bad_request", answer(exchange, shape, bad, headers));
                return;
            }
            headers.put("x-keyguard-redacted", redacted.summary());
        }
        ModelInfo routed = lp.set().model(decision.routedModel() != null ? decision.routedModel() : request.model());
        boolean wantsEmbedding = endpoint == Endpoint.EMBEDDINGS;
        if (routed.isEmbedding() != wantsEmbedding) {
            enforcer.countRefused(counters);
            GatewayError e = (wantsEmbedding ? ErrorCode.CHAT_MODEL_FOR_EMBEDDINGS : ErrorCode.EMBEDDING_MODEL_FOR_CHAT).error(routed.name())
                    .param("model").detail("decision_id", decisionId);
            log.refused(decisionId, lp.set().revision(), key, endpoint, request.model(), 400, "model_not_supported",
                    answer(exchange, shape, e, headers));
            return;
        }
        String unpriced = Reservation.unpricedParam(request.billables(), routed, evaluator.policy());
        if (unpriced != null) {
            enforcer.countRefused(counters);
            GatewayError e = ErrorCode.PARAMETER_NOT_ALLOWED.error(unpriced, routed.name(), evaluator.policy().name())
                    .param(unpriced).detail("decision_id", decisionId);
            log.refused(decisionId, lp.set().revision(), key, endpoint, request.model(), 400, "parameter_not_allowed",
                    answer(exchange, shape, e, headers));
            return;
        }
        if (!log.mayForward()) {
            // The audit log failed on its last event: forward nothing that could not be audited.
            GatewayError e = ErrorCode.AUDIT_UNAVAILABLE.error().header("retry-after", "1").detail("decision_id", decisionId);
            log.refused(decisionId, lp.set().revision(), key, endpoint, request.model(), 503, "audit_unavailable", answer(exchange, shape, e, headers));
            return;
        }
        ProviderInfo upstream = lp.set().providers().get(routed.provider());
        boolean translated = upstream != null && (upstream.kind().equals("anthropic") ? shape == ApiShape.OPENAI
                : upstream.kind().equals("openai") && shape == ApiShape.ANTHROPIC);
        forwarded = Reservation.outbound(forwarded, perChoice,
                upstream == null ? "max_completion_tokens" : upstream.settings().getOrDefault("output_cap", "max_completion_tokens"));
        Reservation reservation = Reservation.of(routed, promptTokens, output, request.billables(), translated);
        Admitting a = new Admitting(exchange, key, request, forwarded, lp, evaluator, counters, decision, in, routed, reservation, prompt,
                classification, decisionId, headers, start, now);
        Admission admission = enforcer.admit(counters, reservation.tokens(), reservation.costMicros());
        if (admission instanceof NeedsStore) {
            // A fleet counter's slice cannot take this request: ask Redis, on a worker thread.
            Runnable slow = () -> {
                try {
                    forward(a, enforcer.admitWaiting(counters, reservation.tokens(), reservation.costMicros()));
                } catch (RuntimeException e) {
                    internalError(exchange, e);
                }
            };
            if (exchange.isInIoThread()) exchange.dispatch(exchange.getConnection().getWorker(), slow);
            else slow.run();
            return;
        }
        forward(a, admission);
    }

    /** A request that was allowed, on its way to the counters and the provider. */
    private record Admitting(HttpServerExchange exchange, KeyRecord key, ParsedRequest request, ParsedRequest forwarded, LoadedPolicies lp,
                             PolicyEvaluator evaluator, KeyCounters counters, Decision decision, DecisionInput in, ModelInfo routed,
                             Reservation reservation, PromptTokens prompt, Classification classification, String decisionId,
                             Map<String, String> headers, long start, long now) {}

    /** Answers the counters' verdict, or hands the call to the routed model's provider. */
    private void forward(Admitting a, Admission admission) {
        HttpServerExchange exchange = a.exchange();
        ApiShape shape = endpoint.shape();
        KeyRecord key = a.key();
        LoadedPolicies lp = a.lp();
        String decisionId = a.decisionId();
        Map<String, String> headers = a.headers();
        ParsedRequest request = a.request();
        KeyCounters counters = a.counters();
        Decision decision = a.decision();
        DecisionInput in = a.in();
        ModelInfo routed = a.routed();
        long now = a.now();
        long start = a.start();
        Reservation reservation = a.reservation();
        Classification classification = a.classification();
        PolicyEvaluator evaluator = a.evaluator();
        if (admission instanceof StoreUnavailable unavailable) {
            GatewayError e = ErrorCode.COUNTER_STORE_UNAVAILABLE.error(unavailable.limit().id()).header("retry-after", "1")
                    .detail("decision_id", decisionId)
                    .detail("limit", unavailable.limit().id());
            log.refused(decisionId, lp.set().revision(), key, endpoint, request.model(), 503, "counter_store_unavailable",
                    answer(exchange, shape, e, headers));
            return;
        }
        if (admission instanceof Overloaded overloaded) {
            GatewayError e = ErrorCode.OVERLOADED.error(overloaded.inFlight()).header("retry-after", "1").detail("decision_id", decisionId);
            log.refused(decisionId, lp.set().revision(), key, endpoint, request.model(), 503, "overloaded", answer(exchange, shape, e, headers));
            return;
        }
        if (admission instanceof Refused refused) {
            enforcer.countRefused(counters);
            Decision throttled = Decisions.throttled(evaluator.policy(), refused.limit());
            counters.rateLimitHeaders(now, headers);
            log.decided(decisionId, lp.set().revision(), key, endpoint, request.model(), throttled, 429, classification, in.functionErrors(),
                    answer(exchange, shape, DecisionErrors.of(throttled, lp.set().revision(), decisionId, refused, now), headers));
            return;
        }
        Lease lease = (Lease) admission;
        counters.rateLimitHeaders(now, headers);
        if (!decision.warnings().isEmpty()) {
            headers.put("x-keyguard-budget-warning", String.join("; ", decision.warnings()));
            enforcer.warnOncePerPeriod(counters, decision, key.id(), now);
        }
        ProviderInfo providerInfo = lp.set().providers().get(routed.provider());
        Provider provider = lp.providers().get(routed.provider());
        if (decision.routedModel() != null) headers.put("x-keyguard-routed-model", routed.name());
        long overheadNanos = System.nanoTime() - start;
        AtomicBoolean settled = new AtomicBoolean();
        // The response completes only after its audit event is appended (see ClientStream#gate).
        ClientStream client = new ClientStream(exchange, timeouts.writeStuck().toMillis());
        client.gate();
        CallListener listener = (status, outcome, usage, billed) -> {
            if (!settled.compareAndSet(false, true)) return;
            // The upstream refused or failed before it had the request: nothing was used but the request.
            // A null usage: it may have billed without a report, and the reservation is charged.
            boolean consumed = usage == null || status < 400 || status == 499;
            Reservation.Charge charge = reservation.charge(routed, outcome, usage, billed);
            enforcer.settle(lease, consumed, charge.tokens(), charge.costMicros());
            log.completed(decisionId, lp.set().revision(), key, endpoint, request.model(), routed, decision, status, outcome,
                    reservation.promptTokens(), usage == null ? reservation.asUsage(a.forwarded().billables()) : usage,
                    consumed ? charge.chargedBy() : "none", consumed ? charge.costMicros() : 0,
                    overheadNanos, System.nanoTime() - start, classification, in.functionErrors(),
                    recorded -> {
                        if (recorded) client.release();
                        else client.fail(shape, auditFailed(decisionId)); // usage stays charged: the provider billed it
                    });
        };
        try {
            provider.handle(new Call(a.forwarded(), routed, providerInfo, client, a.prompt(), headers, listener));
        } catch (RuntimeException e) {
            listener.ended(500, "gateway_error", keyguard.policy.Usage.NONE, false);
            throw e;
        }
    }

    /** Answers a decision that is not an allow (counted against the request limit); a throttle says when to come back. */
    private void refuse(HttpServerExchange exchange, KeyRecord key, ParsedRequest request, Decision decision, KeyCounters counters,
                        DecisionInput in, long now, LoadedPolicies lp, String decisionId, Map<String, String> headers,
                        Classification classification) {
        enforcer.countRefused(counters);
        Refused refused = null;
        Limit limit = decision.limit();
        if (limit != null) {
            ModelInfo model = lp.set().model(request.model());
            long cost = model == null ? 0 : model.costMicros(in.estimatedTokens(), in.maxTokens());
            refused = enforcer.refusal(counters, limit, now, Enforcer.need(limit.counter().metric(), in.tokensNeeded(), cost));
            counters.rateLimitHeaders(now, headers);
        }
        GatewayError error = DecisionErrors.of(decision, lp.set().revision(), decisionId, refused, now);
        if (decision.dataAction() == DataAction.DENY && decision.kind() == keyguard.policy.DecisionKind.DATA_CLASS) {
            // Name what was found by type and count; never the values.
            String found = decision.rules().contains(Decisions.RULE_DATA_UNSCANNABLE) ? "could not scan " + classification.describeUnscannable()
                    : classification.hits().isEmpty() ? "declared by the caller in x-keyguard-data-class" : "found " + classification.describe();
            error = error.withMessage(error.message() + " (" + found + ")")
                    .detail("data_class", classification.dataClass().word()).detail("detected", classification.summary());
            if (classification.hasUnscannable()) error = error.detail("unscannable", classification.unscannableSummary());
        }
        log.decided(decisionId, lp.set().revision(), key, endpoint, request.model(), decision, DecisionErrors.status(decision), classification,
                in.functionErrors(),
                answer(exchange, endpoint.shape(), error, headers));
    }

    /**
     * The error answer, sent on the exchange's IO thread once the decision's audit event is
     * appended (a refused caller's response is complete only with its event written too);
     * 503 when the event could not be written.
     */
    private static AuditLog.Then answer(HttpServerExchange exchange, ApiShape shape, GatewayError e, Map<String, String> headers) {
        return recorded -> exchange.getIoThread().execute(() -> Responses.error(exchange, shape,
                recorded ? e : auditFailed(String.valueOf(e.details().get("decision_id"))), headers));
    }

    private static GatewayError auditFailed(String decisionId) {
        return ErrorCode.AUDIT_FAILED.error(decisionId).header("retry-after", "1").detail("decision_id", decisionId);
    }

    static String decisionId() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        String random = Long.toHexString(r.nextLong());
        return "dec_" + Long.toHexString(System.currentTimeMillis()) + "0".repeat(16 - random.length()) + random;
    }
}
