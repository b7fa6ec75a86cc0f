package keyguard.proxy;

import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.server.RequestTooBigException;
import io.undertow.util.AttachmentKey;
import io.undertow.util.Headers;
import io.undertow.util.Methods;
import io.undertow.util.SameThreadExecutor;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import keyguard.audit.AuditLog;
import keyguard.audit.DecisionRecord;
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
import keyguard.policy.UsageReadings;
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
 * The request path of one inference endpoint, as a chain of small handlers in the order of
 * DESIGN.md, each doing one stage and passing a per-request {@link Request} (an exchange
 * attachment) to the next:
 *
 * <pre>
 * method POST → authenticate → read body → parse → classify → decide → admit → forward
 * </pre>
 *
 * {@code forward} hands the call to the routed model's provider, whose end settles the
 * counters and appends the audit event ({@link Forward}). Every refusal is answered in the
 * endpoint's shape with {@code error.keyguard} details and a decision id, and every one
 * after the request-limit gate counts against {@code limit requests}.
 *
 * <p>Threads: authentication, small bodies, parsing and deciding run on the IO thread
 * (microseconds); bodies over 2 KiB are parsed and token-counted on a worker thread, and so
 * is an admission that must ask a fleet's Redis. Nothing blocks on the network: providers
 * answer asynchronously.
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
    static final io.undertow.util.HttpString TAGS_HEADER = new io.undertow.util.HttpString("x-keyguard-tags");

    /** What the stages share: the endpoint and the gateway's parts the path uses. */
    public record Path(Endpoint endpoint, KeyAuth auth, Supplier<LoadedPolicies> policies, long maxBodyBytes, Enforcer enforcer, AccessLog log,
                       CallerTimeouts timeouts) {
        ApiShape shape() { return endpoint.shape(); }

        Clock clock() { return enforcer.clock(); }

        /** Runs the next stage; a bug must still answer in the contract's shape (500 api_error), never with an empty page. */
        void proceed(HttpHandler next, HttpServerExchange exchange) {
            try {
                next.handleRequest(exchange);
            } catch (Exception e) {
                internalError(exchange, e);
            }
        }

        /** Runs the next stage on a worker thread, or here when already off the IO thread. */
        void proceedOffIoThread(HttpHandler next, HttpServerExchange exchange) {
            if (exchange.isInIoThread()) exchange.dispatch(exchange.getConnection().getWorker(), () -> proceed(next, exchange));
            else proceed(next, exchange);
        }

        void internalError(HttpServerExchange exchange, Exception e) {
            String id = decisionId();
            System.getLogger("keyguard.gateway").log(System.Logger.Level.ERROR, "internal error on " + endpoint.path() + " (" + id + ")", e);
            Responses.error(exchange, shape(), ErrorCode.INTERNAL_ERROR.error(id).detail("decision_id", id), Map.of());
        }

        GatewayError tooLarge() {
            return ErrorCode.REQUEST_TOO_LARGE.error(maxBodyBytes);
        }

        /** A refusal the decision did not make (malformed, a parameter, a model of the wrong kind...): counted, audited, answered. */
        void refused(HttpServerExchange exchange, Request r, int status, String outcome, GatewayError e) {
            if (r.counters != null && status < 500) enforcer.countRefused(r.counters);
            log.refused(r.decisionId, r.lp.set().revision(), r.key, endpoint, r.request == null ? null : r.request.model(), status, outcome,
                    r.decided(), answer(exchange, shape(), e.detail("decision_id", r.decisionId), r.headers));
        }
    }

    /**
     * One request on its way down the chain: what each stage found, for the stages after it.
     * Fields are set in chain order and read only by later stages.
     */
    public static final class Request {
        static final AttachmentKey<Request> KEY = AttachmentKey.create(Request.class);

        KeyRecord key;
        byte[] body;
        long start;
        LoadedPolicies lp;
        String decisionId;
        final Map<String, String> headers = new LinkedHashMap<>();
        PolicyEvaluator evaluator;
        KeyCounters counters;
        ParsedRequest request;
        ModelInfo requested;
        /** The output cap per choice sent upstream, and the output reserved ({@code perChoice × n}). */
        long perChoice;
        long output;
        PromptTokens prompt;
        Classification classification;
        /** The caller's tags ({@code x-keyguard-tags}, declared {@code metadata} entries), bounded; the policy decides on them. */
        Map<String, String> tags = Map.of();
        /** The end user the request is made for, when its policy counts by end user and the request names one. */
        String endUser;
        DecisionInput in;
        /** The counter values {@link #in} was decided on, kept for the audit event. */
        UsageReadings readings;
        Decision decision;
        long now;
        ParsedRequest forwarded;
        ModelInfo routed;
        Reservation reservation;
        Admission admission;

        static Request of(HttpServerExchange exchange) {
            return exchange.getAttachment(KEY);
        }

        /** What the policy decided and on what, for the audit event; null before the decision. */
        DecisionRecord decided() {
            return decision == null ? null : new DecisionRecord(in, readings, decision, evaluator.policy());
        }
    }

    private final HttpHandler chain;

    public InferenceHandler(Endpoint endpoint, KeyAuth auth, Supplier<LoadedPolicies> policies, long maxBodyBytes, Enforcer enforcer, AccessLog log,
                            CallerTimeouts timeouts) {
        Path path = new Path(endpoint, auth, policies, maxBodyBytes, enforcer, log, timeouts);
        HttpHandler forward = new Forward(path);
        HttpHandler admit = new Admit(path, forward);
        HttpHandler decide = new Decide(path, admit);
        HttpHandler classify = new Classify(path, decide);
        HttpHandler parse = new Parse(path, classify);
        HttpHandler read = new ReadBody(path, parse);
        this.chain = new RequirePost(path, new Authenticate(path, read));
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) throws Exception {
        chain.handleRequest(exchange);
    }

    /** The chain, stage by stage, the way Undertow prints its handlers. */
    @Override
    public String toString() {
        return chain.toString();
    }

    /**
     * How much of an oversized body is read and thrown away before answering 413, so that
     * the caller, still sending, reads the answer instead of a connection reset. Beyond it
     * the connection is closed.
     */
    public static long drainLimit(long maxBodyBytes) {
        return Math.max(maxBodyBytes * 4, maxBodyBytes + (16L << 20));
    }

    /** A stage of the chain: the path's parts, the next stage, and its name in the printed chain. */
    abstract static class Stage implements HttpHandler {
        final Path path;
        final HttpHandler next;
        private final String name;

        Stage(Path path, HttpHandler next, String name) {
            this.path = path;
            this.next = next;
            this.name = name;
        }

        @Override
        public String toString() { return next == null ? name : name + " -> " + next; }
    }

    /** Inference takes POST only: anything else is 405, and its body is not read. */
    public static final class RequirePost extends Stage {
        public RequirePost(Path path, HttpHandler next) {
            super(path, next, "method POST");
        }

        @Override
        public void handleRequest(HttpServerExchange exchange) throws Exception {
            if (!exchange.getRequestMethod().equals(Methods.POST)) {
                exchange.setPersistent(false); // the body is not read: close instead of draining it
                exchange.getResponseHeaders().put(Headers.ALLOW, "POST");
                Responses.error(exchange, path.shape(), ErrorCode.METHOD_NOT_ALLOWED.error(exchange.getRequestMethod(), path.endpoint().path()), Map.of());
                return;
            }
            next.handleRequest(exchange);
        }
    }

    /** The virtual key; a refusal is answered by {@link KeyAuth#answer} (slowed for an address that keeps failing). */
    public static final class Authenticate extends Stage {
        public Authenticate(Path path, HttpHandler next) {
            super(path, next, "authenticate");
        }

        @Override
        public void handleRequest(HttpServerExchange exchange) throws Exception {
            if (exchange.isInIoThread() && path.auth().verifiesSignature(exchange)) {
                // A workload token seen for the first time: its signature is checked on a worker,
                // not on the IO thread that serves every other connection it holds.
                exchange.dispatch(this);
                return;
            }
            switch (path.auth().authenticate(exchange)) {
                case Authentication.Refusal refusal -> path.auth().answer(exchange, path.shape(), refusal);
                case Authentication.Key(KeyRecord key) -> {
                    Request r = new Request();
                    r.key = key;
                    exchange.putAttachment(Request.KEY, r);
                    next.handleRequest(exchange);
                }
            }
        }
    }

    /**
     * The body, capped (an oversized one is drained up to a limit and answered 413) and cut
     * off when it comes too slowly; the next stage runs on a worker thread for a body over
     * 2 KiB.
     */
    public static final class ReadBody extends Stage {
        public ReadBody(Path path, HttpHandler next) {
            super(path, next, "read body");
        }

        @Override
        public void handleRequest(HttpServerExchange exchange) {
            ApiShape shape = path.shape();
            long declared = exchange.getRequestContentLength();
            if (declared > drainLimit(path.maxBodyBytes())) {
                exchange.setPersistent(false);
                Responses.error(exchange, shape, path.tooLarge(), Map.of("connection", "close"));
                return;
            }
            BodyReader reader = new BodyReader(path.maxBodyBytes(), declared);
            BodyDeadline deadline = new BodyDeadline(exchange, path.timeouts());
            exchange.getRequestReceiver().receivePartialBytes(
                    (ex, bytes, last) -> {
                        reader.add(bytes);
                        deadline.progress(last);
                        if (!last) return;
                        if (reader.tooLarge()) {
                            Responses.error(ex, shape, path.tooLarge(), Map.of());
                            return;
                        }
                        Request r = Request.of(ex);
                        r.body = reader.bytes();
                        ex.dispatch(r.body.length > INLINE_BODY_BYTES ? ex.getConnection().getWorker() : SameThreadExecutor.INSTANCE,
                                () -> path.proceed(next, ex));
                    },
                    (ex, error) -> {
                        deadline.progress(true);
                        ex.setPersistent(false);
                        Responses.error(ex, shape, error instanceof RequestTooBigException ? path.tooLarge()
                                : ErrorCode.BODY_UNREADABLE.error(), Map.of("connection", "close"));
                    });
        }
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
        private byte[] buf;
        private int len;
        private boolean over;

        /** The Content-Length when it is within {@code max}, else -1 (chunked, or too large). */
        private final long declared;

        /**
         * The buffer is never larger than twice the bytes received (or 1 KB): a caller that
         * declares a large body and sends nothing holds no more memory than one that declares
         * nothing. It grows towards the declared length and stops there, so a body that
         * arrives whole ends in a buffer of its exact size and is handed on without a copy.
         */
        BodyReader(long max, long declared) {
            this.max = max;
            this.declared = declared >= 0 && declared <= max ? declared : -1;
            this.buf = new byte[(int) (this.declared >= 0 && this.declared <= 1024 ? this.declared : Math.min(1024, max))];
        }

        void add(byte[] bytes) {
            if (over) return;
            if ((long) len + bytes.length > max) {
                over = true;
                buf = null;
                return;
            }
            if (len + bytes.length > buf.length) {
                long doubled = Math.min(buf.length * 2L, declared >= len + bytes.length ? declared : max);
                buf = java.util.Arrays.copyOf(buf, (int) Math.max(doubled, len + bytes.length));
            }
            System.arraycopy(bytes, 0, buf, len, bytes.length);
            len += bytes.length;
        }

        boolean tooLarge() { return over; }

        byte[] bytes() { return len == buf.length ? buf : java.util.Arrays.copyOf(buf, len); }
    }

    /**
     * The cheap checks, before the prompt is counted or scanned: the key's policy, the request
     * limit, the JSON, a model the policy does not allow (decided at once), the output cap
     * ({@code limit max_tokens}). Then the prompt's count is started: skipped when nothing
     * depends on it, on a worker thread when it would hold the IO thread too long.
     */
    public static final class Parse extends Stage {
        public Parse(Path path, HttpHandler next) {
            super(path, next, "parse");
        }

        @Override
        public void handleRequest(HttpServerExchange exchange) {
            Request r = Request.of(exchange);
            Endpoint endpoint = path.endpoint();
            r.start = System.nanoTime();
            r.lp = path.policies().get();
            r.decisionId = decisionId();
            r.headers.put("x-keyguard-decision-id", r.decisionId);
            r.headers.put("x-keyguard-policy-revision", r.lp.set().revision());
            r.evaluator = r.lp.evaluators().get(r.key.policy());
            if (r.evaluator == null) {
                path.refused(exchange, r, 403, "policy_missing", ErrorCode.POLICY_MISSING.error(r.key.policy())
                        .detail("policy", r.key.policy()).detail("revision", r.lp.set().revision()));
                return;
            }
            Policy policy = r.evaluator.policy();
            try {
                // A sub-key counts on its root's counters (a family of keys never exceeds what the root may), its budgets on its carve-out's.
                r.counters = keyguard.delegation.CarveOuts.counters(path.enforcer(), r.key, r.lp.set().org(), policy);
            } catch (keyguard.counters.OutsideOrganisation e) {
                path.refused(exchange, r, 403, "policy_denied", ErrorCode.KEY_OUTSIDE_ORGANISATION.error(e.reason())
                        .detail("policy", policy.name()));
                return;
            }
            long now = path.clock().millis();
            // A policy that counts by end user gates on the end user's counters, which the body names: parsed first.
            boolean perUser = r.counters.countsEndUsers();
            if (!perUser && throttledAtTheGate(exchange, r, policy, now)) return;
            try {
                r.request = RequestParser.parse(endpoint, r.body);
            } catch (BadRequest e) {
                path.refused(exchange, r, 400, "bad_request", GatewayError.badRequest(e));
                return;
            }
            r.body = null; // parsed: the tree is what the later stages read
            if (perUser) {
                try {
                    r.endUser = keyguard.wire.EndUser.of(r.request.body(), exchange.getRequestHeaders().getFirst(keyguard.wire.EndUser.HEADER),
                            policy.endUsers().sources());
                } catch (keyguard.wire.EndUser.Invalid e) {
                    path.refused(exchange, r, 400, "bad_request", ErrorCode.END_USER_INVALID.error(e.source, keyguard.wire.EndUser.MAX));
                    return;
                }
                KeyCounters own = path.enforcer().forUser(r.counters, r.endUser, now);
                if (own == null) {
                    path.refused(exchange, r, 429, "throttled", ErrorCode.END_USERS_FULL.error(policy.endUsers().max(), policy.name())
                            .detail("policy", policy.name()));
                    return;
                }
                r.counters = own;
                if (throttledAtTheGate(exchange, r, policy, now)) return;
            }
            try {
                io.undertow.util.HeaderValues sent = exchange.getRequestHeaders().get(TAGS_HEADER); // several headers read as one list
                r.tags = keyguard.wire.RequestTags.of(sent == null ? null : String.join(",", sent), r.request.metadata(), policy.requestTags().keySet());
            } catch (IllegalArgumentException e) {
                path.refused(exchange, r, 400, "bad_request", ErrorCode.REQUEST_TAGS_INVALID.error(keyguard.wire.RequestTags.MAX_TAGS, e.getMessage()));
                return;
            }
            r.requested = r.lp.set().model(r.request.model());
            if (r.requested == null || !policy.allows(r.requested)) {
                // Refused whatever the prompt holds: decided without counting or scanning it.
                r.now = now;
                decide(r, 0, DataClass.PUBLIC, false);
                if (!r.decision.allowed()) {
                    refuse(path, exchange, r, Classification.NOTHING);
                    return;
                }
            }
            if (r.key.delegated() != null && !r.key.delegated().models().contains(r.request.model())) {
                path.refused(exchange, r, 403, "policy_denied", ErrorCode.SUB_KEY_MODEL.error(r.key.delegated().models(), r.request.model())
                        .detail("parent", r.key.delegated().parent()));
                return;
            }
            if (!outputCap(exchange, r, policy)) return;
            TokenCounter counter = TokenCounter.forModel(r.requested);
            long media = r.request.billables().mediaTokens();
            long bound = TokenCounter.promptBound(r.request.texts());
            if (r.requested != null && r.counters.promptSizeDecidesNothing()) {
                r.prompt = PromptTokens.bounded(r.request.texts(), counter, bound, media); // nothing depends on the count: skip it
                path.proceed(next, exchange);
            } else if (exchange.isInIoThread() && bound * counter.relativeCost() > INLINE_COUNT_BYTES) {
                // Counting this prompt would hold the IO thread (and every connection on it) too long.
                exchange.dispatch(exchange.getConnection().getWorker(), () -> {
                    r.prompt = PromptTokens.counted(counter.countPrompt(r.request.texts()) + media);
                    path.proceed(next, exchange);
                });
            } else {
                r.prompt = PromptTokens.counted(counter.countPrompt(r.request.texts()) + media);
                path.proceed(next, exchange);
            }
        }

        /** Whether a {@code limit requests} without room refused the request (answered): counted, decided and audited as a throttle. */
        private boolean throttledAtTheGate(HttpServerExchange exchange, Request r, Policy policy, long now) {
            Refused gate = path.enforcer().requestGate(r.counters, now);
            if (gate == null) return false;
            Decision throttled = Decisions.throttled(policy, gate.limit());
            r.counters.rateLimitHeaders(now, r.headers);
            path.log().decided(r.decisionId, r.lp.set().revision(), r.key, path.endpoint(), r.request == null ? null : r.request.model(), throttled, 429,
                    Classification.NOTHING, List.of(), null,
                    answer(exchange, path.shape(), DecisionErrors.of(throttled, r.lp.set().revision(), r.decisionId, gate, now), r.headers));
            return true;
        }

        /** The output cap per choice and the output reserved; false when {@code limit max_tokens} refused the request. */
        private boolean outputCap(HttpServerExchange exchange, Request r, Policy policy) {
            if (path.endpoint() == Endpoint.EMBEDDINGS) {
                r.perChoice = 0;
                r.output = 0;
                return true;
            }
            long limit = policy.maxTokensLimit();
            long fallback = policy.defaultMaxTokens() > 0 ? policy.defaultMaxTokens() : DEFAULT_MAX_TOKENS;
            long perChoice = r.request.maxTokens() > 0 ? r.request.maxTokens() : limit > 0 ? Math.min(fallback, limit) : fallback;
            if (limit > 0 && perChoice > limit) {
                if (!policy.clampMaxTokens()) {
                    String field = r.request.billables().maxTokensField();
                    path.refused(exchange, r, 400, "max_tokens_exceeds_limit",
                            ErrorCode.MAX_TOKENS_EXCEEDS_LIMIT.error(field, r.request.maxTokens(), policy.name(), limit).param(field)
                                    .detail("limit", limit));
                    return false;
                }
                perChoice = limit;
                r.headers.put("x-keyguard-max-tokens-clamped", Long.toString(limit));
            }
            r.perChoice = perChoice;
            r.output = saturatingMultiply(perChoice, r.request.billables().choices());
            return true;
        }
    }

    /** The data class of everything sent upstream, at least what the caller declares ({@code x-keyguard-data-class}). */
    public static final class Classify extends Stage {
        public Classify(Path path, HttpHandler next) {
            super(path, next, "classify");
        }

        @Override
        public void handleRequest(HttpServerExchange exchange) throws Exception {
            Request r = Request.of(exchange);
            String declaredHeader = exchange.getRequestHeaders().getFirst(DATA_CLASS_HEADER);
            DataClass declared = declaredHeader == null ? DataClass.PUBLIC : DataClass.parse(declaredHeader.strip().toLowerCase(java.util.Locale.ROOT));
            if (declared == null) {
                path.refused(exchange, r, 400, "bad_request", ErrorCode.DATA_CLASS_HEADER_INVALID.error());
                return;
            }
            r.classification = r.lp.classifier().classify(r.request.body()).atLeast(declared);
            next.handleRequest(exchange);
        }
    }

    /**
     * The compiled policy decides; then what the decision leaves to the gateway: redaction,
     * the routed model's kind, price-changing parameters, whether the audit log can take the
     * event, and the reservation to admit.
     */
    public static final class Decide extends Stage {
        public Decide(Path path, HttpHandler next) {
            super(path, next, "decide");
        }

        @Override
        public void handleRequest(HttpServerExchange exchange) throws Exception {
            Request r = Request.of(exchange);
            Endpoint endpoint = path.endpoint();
            r.now = path.clock().millis();
            decide(r, r.prompt.estimate(), r.classification.dataClass(), r.classification.hasUnscannable());
            if (!r.decision.allowed()) {
                refuse(path, exchange, r, r.classification);
                return;
            }
            r.forwarded = r.request;
            if (r.decision.dataAction() == DataAction.REDACT) {
                ModelInfo target = r.lp.set().model(r.request.model());
                Classification redacted = r.lp.classifier().redact(r.request.body(),
                        DataClass.min(r.evaluator.policy().data().max(), target.maxClass()));
                try {
                    r.forwarded = RequestParser.parseRedacted(endpoint, r.request.body());
                } catch (BadRequest e) {
                    // A value found in a field with a fixed type (a number) became a placeholder.
                    path.refused(exchange, r, 400, "bad_request", ErrorCode.NOT_REDACTABLE.error(e.getMessage()));
                    return;
                }
                r.headers.put("x-keyguard-redacted", redacted.summary());
            }
            r.routed = r.lp.set().model(r.decision.routedModel() != null ? r.decision.routedModel() : r.request.model());
            boolean wantsEmbedding = endpoint == Endpoint.EMBEDDINGS;
            if (r.routed.isEmbedding() != wantsEmbedding) {
                path.refused(exchange, r, 400, "model_not_supported",
                        (wantsEmbedding ? ErrorCode.CHAT_MODEL_FOR_EMBEDDINGS : ErrorCode.EMBEDDING_MODEL_FOR_CHAT).error(r.routed.name()).param("model"));
                return;
            }
            String unpriced = Reservation.unpricedParam(r.request.billables(), r.routed, r.evaluator.policy());
            if (unpriced != null) {
                path.refused(exchange, r, 400, "parameter_not_allowed",
                        ErrorCode.PARAMETER_NOT_ALLOWED.error(unpriced, r.routed.name(), r.evaluator.policy().name()).param(unpriced));
                return;
            }
            if (!path.log().mayForward()) {
                // The audit log failed on its last event: forward nothing that could not be audited.
                path.refused(exchange, r, 503, "audit_unavailable", ErrorCode.AUDIT_UNAVAILABLE.error().header("retry-after", "1"));
                return;
            }
            ProviderInfo upstream = r.lp.set().providers().get(r.routed.provider());
            ApiShape shape = path.shape();
            boolean translated = upstream != null && (upstream.kind().equals("anthropic") ? shape == ApiShape.OPENAI
                    : upstream.kind().equals("openai") && shape == ApiShape.ANTHROPIC);
            r.forwarded = Reservation.outbound(r.forwarded, r.perChoice,
                    upstream == null ? "max_completion_tokens" : upstream.settings().getOrDefault("output_cap", "max_completion_tokens"));
            r.reservation = Reservation.of(r.routed, r.prompt.estimate(), r.output, r.request.billables(), translated);
            next.handleRequest(exchange);
        }
    }

    /**
     * Reserves the request on the counters; a fleet counter whose slice cannot take it asks
     * Redis on a worker thread. Answers the counters' refusals (throttled, overloaded, the
     * store unreachable).
     */
    public static final class Admit extends Stage {
        public Admit(Path path, HttpHandler next) {
            super(path, next, "admit");
        }

        @Override
        public void handleRequest(HttpServerExchange exchange) throws Exception {
            Request r = Request.of(exchange);
            Admission admission = path.enforcer().admit(r.counters, r.reservation.tokens(), r.reservation.costMicros());
            if (admission instanceof NeedsStore) {
                path.proceedOffIoThread(ex -> admitted(ex, path.enforcer().admitWaiting(r.counters, r.reservation.tokens(), r.reservation.costMicros())),
                        exchange);
                return;
            }
            admitted(exchange, admission);
        }

        private void admitted(HttpServerExchange exchange, Admission admission) throws Exception {
            Request r = Request.of(exchange);
            ApiShape shape = path.shape();
            if (admission instanceof StoreUnavailable unavailable) {
                path.refused(exchange, r, 503, "counter_store_unavailable",
                        ErrorCode.COUNTER_STORE_UNAVAILABLE.error(unavailable.limit().id()).header("retry-after", "1")
                                .detail("decision_id", r.decisionId).detail("limit", unavailable.limit().id()));
                return;
            }
            if (admission instanceof Overloaded overloaded) {
                path.refused(exchange, r, 503, "overloaded", ErrorCode.OVERLOADED.error(overloaded.inFlight()).header("retry-after", "1"));
                return;
            }
            if (admission instanceof Refused refused) {
                path.enforcer().countRefused(r.counters);
                Decision throttled = Decisions.throttled(r.evaluator.policy(), refused.limit());
                r.counters.rateLimitHeaders(r.now, r.headers);
                path.log().decided(r.decisionId, r.lp.set().revision(), r.key, path.endpoint(), r.request.model(), throttled, 429, r.classification,
                        r.in.functionErrors(), r.decided(),
                        answer(exchange, shape, DecisionErrors.of(throttled, r.lp.set().revision(), r.decisionId, refused, r.now), r.headers));
                return;
            }
            r.admission = admission;
            next.handleRequest(exchange);
        }
    }

    /**
     * Hands the call to the routed model's provider. Its end settles the reservation with
     * the charge ({@link Reservation#charge}) and appends the audit event; the response
     * completes only after that event is appended (see {@link ClientStream#gate}).
     */
    public static final class Forward extends Stage {
        public Forward(Path path) {
            super(path, null, "forward");
        }

        @Override
        public void handleRequest(HttpServerExchange exchange) {
            Request r = Request.of(exchange);
            ApiShape shape = path.shape();
            Lease lease = (Lease) r.admission;
            r.counters.rateLimitHeaders(r.now, r.headers);
            if (!r.decision.warnings().isEmpty()) {
                r.headers.put("x-keyguard-budget-warning", String.join("; ", r.decision.warnings()));
                path.enforcer().warnOncePerPeriod(r.counters, r.decision, r.key.id(), r.now);
            }
            ProviderInfo providerInfo = r.lp.set().providers().get(r.routed.provider());
            Provider provider = r.lp.providers().get(r.routed.provider());
            if (r.decision.routedModel() != null) r.headers.put("x-keyguard-routed-model", r.routed.name());
            long overheadNanos = System.nanoTime() - r.start;
            AtomicBoolean settled = new AtomicBoolean();
            ClientStream client = new ClientStream(exchange, path.timeouts().writeStuck().toMillis());
            client.gate();
            client.keepReadsRegistered();
            Reservation reservation = r.reservation;
            CallListener listener = (status, outcome, usage, billed) -> {
                if (!settled.compareAndSet(false, true)) return;
                // The upstream refused or failed before it had the request: nothing was used but the request.
                // A null usage: it may have billed without a report, and the reservation is charged.
                boolean consumed = usage == null || status < 400 || status == 499;
                Reservation.Charge charge = reservation.charge(r.routed, outcome, usage, billed);
                path.enforcer().settle(lease, consumed, charge.tokens(), charge.costMicros());
                path.log().completed(r.decisionId, r.lp.set().revision(), r.key, path.endpoint(), r.request.model(), r.routed, r.decision, status,
                        outcome, reservation.promptTokens(), usage == null ? reservation.asUsage(r.forwarded.billables()) : usage,
                        consumed ? charge.chargedBy() : "none", consumed ? charge.costMicros() : 0,
                        overheadNanos, System.nanoTime() - r.start, r.classification, r.in.functionErrors(), r.decided(),
                        recorded -> {
                            if (recorded) client.release();
                            else client.fail(shape, auditFailed(r.decisionId)); // usage stays charged: the provider billed it
                        });
            };
            try {
                provider.handle(new Call(r.forwarded, r.routed, providerInfo, client, r.prompt, r.headers, listener));
            } catch (RuntimeException e) {
                listener.ended(500, "gateway_error", keyguard.policy.Usage.NONE, false);
                throw e;
            }
        }
    }

    private static long saturatingMultiply(long a, long b) {
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        return hi != 0 || lo < 0 ? Long.MAX_VALUE : lo;
    }

    /**
     * The policy decides at {@code r.now}, on counters read once each and kept
     * ({@link UsageReadings}); then every counter of the key it did not read is read too, so
     * the audit event says where all of them stood.
     */
    private static void decide(Request r, long promptTokens, DataClass dataClass, boolean unscannable) {
        r.readings = r.counters.readings();
        r.in = new DecisionInput()
                .model(r.request.model()).estimatedTokens(promptTokens).maxTokens(r.output).stream(r.request.stream())
                .classification(dataClass).unscannable(unscannable)
                .metadata(r.request.metadata()).requestTags(r.tags).keyId(r.key.id()).keyName(r.key.name()).keyOwner(r.key.owner())
                .endUser(r.endUser).labels(r.key.trustedLabels(r.lp.set().labels()))
                .epochMillis(r.now).usage(r.readings);
        r.decision = r.evaluator.decide(r.in);
        // An unknown model is refused before any counter matters: its event need not read them all.
        if (r.decision.kind() != keyguard.policy.DecisionKind.UNKNOWN_MODEL) r.counters.readAll(r.readings, r.now);
    }

    /** Answers a decision that is not an allow (counted against the request limit); a throttle says when to come back. */
    private static void refuse(Path path, HttpServerExchange exchange, Request r, Classification classification) {
        path.enforcer().countRefused(r.counters);
        Decision decision = r.decision;
        DecisionInput in = r.in;
        Refused refused = null;
        Limit limit = decision.limit();
        if (limit != null) {
            ModelInfo model = r.lp.set().model(r.request.model());
            long cost = model == null ? 0 : model.costMicros(in.estimatedTokens(), in.maxTokens());
            refused = path.enforcer().refusal(r.counters, limit, r.now, Enforcer.need(limit.counter().metric(), in.tokensNeeded(), cost));
            r.counters.rateLimitHeaders(r.now, r.headers);
        }
        GatewayError error = DecisionErrors.of(decision, r.lp.set().revision(), r.decisionId, refused, r.now);
        if (decision.dataAction() == DataAction.DENY && decision.kind() == keyguard.policy.DecisionKind.DATA_CLASS) {
            // Name what was found by type and count; never the values.
            String found = decision.rules().contains(Decisions.RULE_DATA_UNSCANNABLE) ? "could not scan " + classification.describeUnscannable()
                    : classification.hits().isEmpty() ? "declared by the caller in x-keyguard-data-class" : "found " + classification.describe();
            error = error.withMessage(error.message() + " (" + found + ")")
                    .detail("data_class", classification.dataClass().word()).detail("detected", classification.summary());
            if (classification.hasUnscannable()) error = error.detail("unscannable", classification.unscannableSummary());
        }
        path.log().decided(r.decisionId, r.lp.set().revision(), r.key, path.endpoint(), r.request.model(), decision, DecisionErrors.status(decision),
                classification, in.functionErrors(), r.decided(), answer(exchange, path.shape(), error, r.headers));
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
