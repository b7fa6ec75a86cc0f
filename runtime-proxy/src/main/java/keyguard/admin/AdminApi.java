package keyguard.admin;

import static keyguard.admin.AdminRequests.MAX_NAME;
import static keyguard.admin.AdminRequests.body;
import static keyguard.admin.AdminRequests.parseInt;
import static keyguard.admin.AdminRequests.query;
import static keyguard.admin.AdminRequests.require;
import static keyguard.admin.AdminRequests.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.Headers;
import io.undertow.util.Methods;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import keyguard.audit.AuditLog;
import keyguard.audit.SpendIndex;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeySecrets;
import keyguard.keys.KeyStore;
import keyguard.metrics.Metrics;
import keyguard.revision.LoadedPolicies;
import keyguard.revision.PolicyLoader;
import keyguard.wire.ApiShape;
import keyguard.wire.ErrorCode;
import keyguard.wire.GatewayError;
import keyguard.wire.Responses;

/**
 * The admin API (its own listener, loopback by default), JSON: its routes, and policy
 * status, policy detail and reload; the audit log, its explanations and spend; the fleet and
 * the shadow revision. Keys are {@link KeysApi}'s, service accounts
 * {@link ServiceAccountsApi}'s. Who is calling is {@link AdminAuth}'s answer (the admin
 * token, an identity provider's JWT, or a console session); what they may do is
 * {@link Caller}'s, built once per request.
 */
public final class AdminApi implements HttpHandler {
    /** The most events one page of {@code GET /admin/audit} holds. */
    public static final int MAX_AUDIT_PAGE = 10_000;
    /**
     * The most events one filtered {@code GET /admin/audit} reads: a filter that matches
     * little answers in bounded time, with a cursor where it stopped.
     */
    public static final long MAX_AUDIT_SCAN = 200_000;
    /** Filtered audit reads (and explanations) at once: the rest wait up to 5 s, then 503, so readers cannot take every core. */
    private final java.util.concurrent.Semaphore scans = new java.util.concurrent.Semaphore(2);
    private static final io.undertow.util.HttpString NEXT_CURSOR = new io.undertow.util.HttpString("x-keyguard-next-cursor");
    /** The shortest bootstrap admin token the gateway accepts. */
    public static final int MIN_TOKEN_CHARS = 32;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final KeyStore keys;
    private final Supplier<LoadedPolicies> policies;
    private final PolicyLoader loader;
    private final Clock clock;

    private final AuditLog audit;

    private final Metrics metrics;

    /** The fleet this gateway is in, or null for a single node. */
    private final keyguard.fleet.Fleet fleet;

    /** The shadow revision's holder (loaded and stopped through {@code /admin/shadow}). */
    private final keyguard.replay.Shadow shadow;

    /** Who is calling, and the console's sessions ({@code /admin/session}). */
    private final AdminAuth auth;

    /** The users and groups provisioned over SCIM: a key's {@code user:} or {@code group:} owner must be one of them. */
    private final keyguard.identity.Directory directory;
    /** Where alerts are raised and sent; null for none. */
    private final keyguard.alerts.AlertCenter alerts;

    /** Which groups may issue keys to themselves ({@code serve --self-service}). */
    private final keyguard.identity.SelfService selfService;

    private final Sessions sessions;

    /** The identity provider, for {@code GET /admin/login} ({@code keyguard login}); null without one. */
    private final OidcConfig oidc;

    public AdminApi(KeyStore keys, KeySecrets secrets, PolicyLoader loader, AuditLog audit, Metrics metrics, OidcConfig oidc,
                    String token, String metricsToken, Clock clock, keyguard.fleet.Fleet fleet, keyguard.replay.Shadow shadow,
                    Sessions sessions, keyguard.counters.Enforcer enforcer, keyguard.identity.Directory directory,
                    keyguard.alerts.AlertCenter alerts) {
        this.directory = directory;
        this.alerts = alerts;
        this.oidc = oidc;
        this.selfService = oidc == null ? keyguard.identity.SelfService.NONE : oidc.selfService();
        this.sessions = sessions;
        this.fleet = fleet;
        this.shadow = shadow;
        this.audit = audit;
        this.metrics = metrics;
        this.keys = keys;
        this.loader = loader;
        this.policies = loader::current;
        if (token == null || token.strip().length() < MIN_TOKEN_CHARS) {
            throw new IllegalArgumentException("the admin token must have at least " + MIN_TOKEN_CHARS + " characters");
        }
        this.clock = clock;
        this.auth = new AdminAuth(token.getBytes(StandardCharsets.UTF_8), oidc, metricsToken == null ? null : metricsToken.getBytes(StandardCharsets.UTF_8),
                sessions, audit, clock, this::caller);
        this.keysApi = new KeysApi(keys, secrets, policies, clock, audit, fleet, directory, enforcer);
        this.accounts = new ServiceAccountsApi(directory, keys, audit, clock, policies, new ServiceAccountsApi.KeyWrites() {
            @Override public List<String> confirm(KeyRecord k) throws BadAdminRequest { return keysApi.confirm(k); }
            @Override public String owner(String owner) throws BadAdminRequest { return keysApi.owner(owner); }
        });
    }

    /** {@code /admin/keys}. */
    private final KeysApi keysApi;

    /** {@code /admin/service-accounts}. */
    private final ServiceAccountsApi accounts;

    private Caller caller(AdminPrincipal who) {
        return Caller.of(who, directory, selfService);
    }

    /** Who is calling, and the console's sign-in: the console's identity-provider sign-in ends there. */
    public AdminAuth auth() { return auth; }

    @Override
    public void handleRequest(HttpServerExchange exchange) {
        if (exchange.isInIoThread()) {
            exchange.dispatch(this);
            return;
        }
        String path = exchange.getRelativePath();
        if (path.equals("/admin/health")) {
            Responses.json(exchange, 200, "{\"status\":\"ok\"}");
            return;
        }
        if (path.equals("/metrics") && exchange.getRequestMethod().equals(Methods.GET)) {
            // Open on a loopback admin listener (scrapers carry no token there); elsewhere the
            // metrics token or the admin token (GatewayConfig.MetricsAuth), or a console session.
            if (!auth.mayReadMetrics(exchange)) {
                Responses.error(exchange, ApiShape.OPENAI, ErrorCode.ADMIN_UNAUTHORIZED.error("/metrics needs `Authorization: Bearer <metrics token>`"), Map.of());
                return;
            }
            exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, metrics.contentType());
            exchange.getResponseSender().send(metrics.scrape());
            return;
        }
        if (path.equals("/admin/session") && exchange.getRequestMethod().equals(Methods.POST)) {
            auth.signIn(exchange);
            return;
        }
        if (path.equals("/admin/login") && exchange.getRequestMethod().equals(Methods.GET)) {
            login(exchange);
            return;
        }
        AdminPrincipal who = auth.authenticate(exchange);
        if (who == null) return; // answered
        Caller caller = caller(who);
        if (caller.deactivated() || !caller.member()) {
            // The identity provider deactivated (or deleted) this person: no session and no token of theirs works any more.
            sessions.endAllOf(who.userName());
            Responses.error(exchange, ApiShape.OPENAI, caller.deactivated() ? AdminAuth.deactivated(who)
                    : ErrorCode.ADMIN_UNAUTHORIZED.error("`" + keyguard.audit.UntrustedText.quote(who.userName(), 128) + "` is not in the directory"), Map.of());
            return;
        }
        try {
            route(exchange, path, caller);
        } catch (BadAdminRequest e) {
            GatewayError error = (e.status == 403 ? ErrorCode.ADMIN_FORBIDDEN : e.status >= 500 ? ErrorCode.ADMIN_STORE_UNAVAILABLE
                    : ErrorCode.ADMIN_INVALID_REQUEST).error(e.getMessage());
            Responses.error(exchange, ApiShape.OPENAI, error.status() == e.status ? error : error.withStatus(e.status), Map.of());
        }
    }

    /**
     * {@code GET /admin/login} (no credential needed): how {@code keyguard login} signs in to
     * this gateway: the identity provider, the CLI's public client and its scopes. 404 when
     * the CLI has no client here.
     */
    private void login(HttpServerExchange exchange) {
        if (oidc == null || oidc.cliClientId() == null) {
            Responses.error(exchange, ApiShape.OPENAI, ErrorCode.ADMIN_INVALID_REQUEST.error("`keyguard login` is not configured on this gateway (serve --oidc-cli-client-id)")
                    .withStatus(404), Map.of());
            return;
        }
        Responses.json(exchange, 200, JSON.createObjectNode().put("issuer", oidc.issuer()).put("client_id", oidc.cliClientId())
                .put("scope", oidc.cliScope()).put("audience", oidc.audience()).toString());
    }

    private void route(HttpServerExchange exchange, String path, Caller caller) throws BadAdminRequest {
        AdminPrincipal who = caller.who();
        boolean get = exchange.getRequestMethod().equals(Methods.GET);
        boolean post = exchange.getRequestMethod().equals(Methods.POST);
        boolean delete = exchange.getRequestMethod().equals(Methods.DELETE);
        if ((post || (delete && !path.equals("/admin/session"))) && !audit.writable()) {
            // Fail closed: no change that could not be audited.
            throw new BadAdminRequest(503, "the audit log cannot be written; admin changes are refused until it can");
        }
        if (path.equals("/admin/session") && get) {
            auth.describe(exchange, caller);
            return;
        } else if (path.equals("/admin/session") && exchange.getRequestMethod().equals(Methods.DELETE)) {
            if (!auth.signOut(exchange, who)) throw new BadAdminRequest(404, "no console session to end");
            return;
        }
        if (path.equals("/admin/keys") && post) {
            keysApi.create(exchange, body(exchange), caller);
        } else if (path.equals("/admin/keys") && get) {
            keysApi.list(exchange, caller);
        } else if (path.startsWith("/admin/keys/") && path.endsWith("/revoke") && post) {
            keysApi.revoke(exchange, path.substring("/admin/keys/".length(), path.length() - "/revoke".length()), caller);
        } else if (path.startsWith("/admin/keys/") && path.endsWith("/rotate") && post) {
            keysApi.rotate(exchange, path.substring("/admin/keys/".length(), path.length() - "/rotate".length()), body(exchange), caller);
        } else if (path.startsWith("/admin/keys/") && path.endsWith("/usage") && get) {
            keysApi.usage(exchange, path.substring("/admin/keys/".length(), path.length() - "/usage".length()), caller);
        } else if (path.startsWith("/admin/keys/") && get) {
            keysApi.show(exchange, path.substring("/admin/keys/".length()), caller);
        } else if (path.startsWith("/admin/service-accounts")) {
            accounts.handle(exchange, path.substring("/admin/service-accounts".length()), caller);
        } else if (path.equals("/admin/audit/explain") && get) {
            explain(exchange, query(exchange).getOrDefault("decision", ""), who);
        } else if (path.equals("/admin/audit") && get) {
            require(who.readsEverything() || !who.teamPolicies().isEmpty(), who, "read the audit log");
            Map<String, String> q = query(exchange);
            Instant since = instant(q.get("since"), "since");
            Instant until = instant(q.get("until"), "until");
            int limit = q.containsKey("limit") ? parseInt(q.get("limit"), "limit") : 1000;
            if (limit > MAX_AUDIT_PAGE) throw new BadAdminRequest(400, "`limit` is at most " + MAX_AUDIT_PAGE + "; page with `cursor`");
            long cursor = -1;
            if (q.containsKey("cursor")) {
                try {
                    cursor = Long.parseUnsignedLong(q.get("cursor"), 16);
                } catch (NumberFormatException e) {
                    throw new BadAdminRequest(400, "`cursor` is the `x-keyguard-next-cursor` of an earlier page");
                }
            }
            AuditFilter filter;
            try {
                filter = AuditFilter.of(q, who);
            } catch (IllegalArgumentException e) {
                throw new BadAdminRequest(400, e.getMessage());
            }
            long scan = filter.everything() ? Long.MAX_VALUE : MAX_AUDIT_SCAN;
            List<String> events;
            long next;
            boolean bounded = !filter.everything();
            if (bounded) scanSlot();
            try {
                if (cursor < 0 && since == null) { // the tail: the last `limit` events, then follow with the cursor
                    next = audit.endIndex(); // first: an event appended while reading is then on the next page, not skipped
                    events = AuditLog.last(audit.queue(), null, until, limit, filter, scan);
                } else {
                    AuditLog.Page page = AuditLog.page(audit.queue(), since, until, cursor, limit, filter, scan);
                    events = page.events();
                    next = page.next() >= 0 ? page.next() : audit.endIndex();
                }
            } finally {
                if (bounded) scans.release();
            }
            exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/x-ndjson");
            if (next >= 0) exchange.getResponseHeaders().put(NEXT_CURSOR, Long.toHexString(next));
            StringBuilder sb = new StringBuilder();
            for (String l : events) sb.append(l).append('\n');
            exchange.getResponseSender().send(sb.toString());
        } else if (path.equals("/admin/spend") && get) {
            require(who.readsEverything() || !who.teamPolicies().isEmpty(), who, "read spend");
            Map<String, String> q = query(exchange);
            List<String> groupBy = q.containsKey("group_by") ? List.of(q.get("group_by").split(",")) : List.of("policy");
            for (String g : groupBy) {
                if (!SpendIndex.dimension(g)) {
                    throw new BadAdminRequest(400, "`group_by` takes " + SpendIndex.DIMENSIONS + " or tag:NAME, not `" + keyguard.audit.UntrustedText.quote(g, 32) + "`");
                }
            }
            // Filters and a team admin's scope: read grouped by what they test too, keep, sum again.
            Map<String, String> filters = new LinkedHashMap<>();
            for (String f : List.of("policy", "key", "model", "owner", "team", "org")) {
                String v = q.get(f);
                if (v != null && !v.isEmpty()) {
                    if (v.length() > MAX_NAME) throw new BadAdminRequest(400, "`" + f + "` is at most " + MAX_NAME + " characters");
                    filters.put(f, v);
                }
            }
            List<String> read = new java.util.ArrayList<>(groupBy);
            filters.keySet().forEach(f -> { if (!read.contains(f)) read.add(f); });
            boolean scoped = !who.readsEverything();
            if (scoped && !read.contains("policy")) read.add("policy");
            java.time.LocalDate today = java.time.LocalDate.ofInstant(clock.instant(), java.time.ZoneOffset.UTC);
            java.time.LocalDate from = date(q.get("from"), today.minusDays(30), "from");
            java.time.LocalDate to = date(q.get("to"), today, "to");
            if (from.isAfter(to) || java.time.temporal.ChronoUnit.DAYS.between(from, to) >= SpendIndex.MAX_DAYS) {
                throw new BadAdminRequest(400, "`from`..`to` must be a range of at most " + SpendIndex.MAX_DAYS + " days, `from` first");
            }
            ObjectNode root = JSON.createObjectNode().put("from", from.toString()).put("to", to.toString());
            if (scoped) {
                ArrayNode scope = root.putArray("policies");
                who.teamPolicies().stream().sorted().forEach(scope::add);
            }
            ArrayNode rows = root.putArray("rows");
            long total = 0;
            long requests = 0;
            List<SpendIndex.Row> spendRows;
            if (fleet == null) {
                spendRows = audit.spend().query(read, from, to);
            } else {
                try {
                    spendRows = fleet.spend(read, from, to);
                } catch (keyguard.fleet.Fleet.Unreachable e) {
                    throw new BadAdminRequest(503, "the fleet's spend is in Redis, which cannot be reached: " + e.getMessage());
                }
                root.put("scope", "fleet");
            }
            if (scoped || !filters.isEmpty()) {
                spendRows = SpendIndex.regroup(spendRows, groupBy, g -> (!scoped || who.teamPolicies().contains(g.get("policy")))
                        && filters.entrySet().stream().allMatch(f -> f.getValue().equals(g.get(f.getKey()))));
            }
            for (SpendIndex.Row r : spendRows) {
                ObjectNode row = rows.addObject();
                r.group().forEach(row::put);
                row.put("cost_micros", r.costMicros()).put("cost_usd", keyguard.policy.Money.format(r.costMicros())).put("requests", r.requests());
                total += r.costMicros();
                requests += r.requests();
            }
            root.put("total_cost_micros", total).put("total_requests", requests);
            Responses.json(exchange, 200, root.toString());
        } else if (path.equals("/admin/fleet") && get) {
            require(who.readsEverything(), who, "read the fleet");
            Responses.json(exchange, 200, fleetView().toString());
        } else if (path.equals("/admin/policies") && get) {
            Responses.json(exchange, 200, policyStatus(policies.get(), caller).toString());
        } else if (path.startsWith("/admin/policies/") && get && !path.equals("/admin/policies/reload")) {
            policyDetail(exchange, path.substring("/admin/policies/".length()), caller);
        } else if (path.equals("/admin/alerts/test") && post) {
            require(who.admin(), who, "send a test alert");
            String channel = AdminRequests.text(body(exchange), "channel", true, 64);
            String error = alerts == null ? "alerts are not set up" : alerts.test(channel);
            audit.recordAdmin(who.subject(), "alerts.test", channel, error == null ? "sent" : "failed");
            ObjectNode out = JSON.createObjectNode().put("channel", channel).put("sent", error == null);
            if (error != null) out.putObject("error").put("message", "channel `" + channel + "`: " + error);
            Responses.json(exchange, error == null ? 200 : 502, out.toString());
        } else if (path.equals("/admin/policies/reload") && post) {
            LoadedPolicies before = policies.get();
            require(who.admin(), who, "reload policies");
            LoadedPolicies after = loader.reload();
            audit.recordAdmin(who.subject(), "policies.reload", after.set().revision(), after != before ? "reloaded" : "unchanged_or_failed");
            PolicyLoader.Failure failure = loader.lastFailure();
            boolean failed = failure != null && after == before;
            ObjectNode out = policyStatus(after, caller);
            out.put("reloaded", after != before);
            Responses.json(exchange, failed ? 422 : 200, out.toString());
        } else if (path.equals("/admin/shadow") && post) {
            require(who.admin(), who, "load a shadow revision");
            startShadow(exchange, body(exchange), who);
        } else if (path.equals("/admin/shadow") && get) {
            require(who.readsEverything(), who, "read the shadow");
            Responses.json(exchange, 200, shadow.status().toString());
        } else if (path.equals("/admin/shadow") && exchange.getRequestMethod().equals(Methods.DELETE)) {
            require(who.admin(), who, "stop the shadow");
            String revision = shadow.revision();
            if (!shadow.stop()) throw new BadAdminRequest(404, "no shadow revision is loaded");
            audit.recordAdmin(who.subject(), "shadow.stop", revision, "stopped");
            Responses.json(exchange, 200, shadow.status().toString());
        } else {
            throw new BadAdminRequest(404, "no admin route " + exchange.getRequestMethod() + " " + path);
        }
    }

    private void scanSlot() throws BadAdminRequest {
        try {
            if (!scans.tryAcquire(5, java.util.concurrent.TimeUnit.SECONDS)) {
                throw new BadAdminRequest(503, "two audit searches are running; try again in a moment");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BadAdminRequest(503, "interrupted while waiting for an audit search to end");
        }
    }

    /**
     * {@code GET /admin/audit/explain?decision=ID}: the recorded decision explained under
     * the serving revision, as {@code keyguard explain --decision} prints it (text). A team
     * admin may explain the decisions of its policies only.
     */
    private void explain(HttpServerExchange exchange, String decisionId, AdminPrincipal who) throws BadAdminRequest {
        if (decisionId.isEmpty() || decisionId.length() > 128) throw new BadAdminRequest(400, "give `decision`: the decision id (dec_…)");
        require(who.readsEverything() || !who.teamPolicies().isEmpty(), who, "read the audit log");
        AuditFilter filter = AuditFilter.of(Map.of("decision", decisionId, "type", "decision"), who);
        List<String> hits;
        scanSlot();
        try {
            hits = AuditLog.last(audit.queue(), null, null, 1, filter, MAX_AUDIT_SCAN);
        } finally {
            scans.release();
        }
        if (hits.isEmpty()) {
            throw new BadAdminRequest(404, "no decision `" + keyguard.audit.UntrustedText.quote(decisionId, 64) + "` among the last " + MAX_AUDIT_SCAN
                    + " events you may read (`keyguard explain --decision ID --audit DIR` reads the whole log)");
        }
        keyguard.replay.RecordedDecision r;
        try {
            r = keyguard.replay.RecordedDecision.parse(JSON.readTree(hits.get(0)));
        } catch (IOException e) {
            throw new BadAdminRequest(500, "the event of " + decisionId + " is not valid JSON");
        }
        if (r == null) throw new BadAdminRequest(422, "decision " + decisionId + " was refused before its policy decided, or recorded before schema 2: it has no input to explain");
        LoadedPolicies lp = policies.get();
        keyguard.policy.PolicyEvaluator evaluator = lp.evaluators().get(r.policy());
        if (evaluator == null) throw new BadAdminRequest(422, "the serving revision " + lp.set().revision() + " has no policy `" + r.policy() + "` (the key's policy)");
        exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "text/plain; charset=utf-8");
        exchange.getResponseSender().send(r.explain(lp.set(), evaluator));
    }

    /**
     * {@code GET /admin/policies/NAME}: one policy of the serving revision as its team wrote
     * it (the source file, when the caller may read every policy in it), with its models, limits, budgets, data ceiling and inline tests
     * (all passed: a revision whose tests fail never serves). Only team-owned files are
     * quoted; the operator's part shows as the models it declares.
     */
    private void policyDetail(HttpServerExchange exchange, String name, Caller caller) throws BadAdminRequest {
        AdminPrincipal who = caller.who();
        LoadedPolicies lp = policies.get();
        keyguard.policy.Policy p = lp.set().policy(name);
        if (p == null) throw new BadAdminRequest(404, "no policy `" + keyguard.audit.UntrustedText.quote(name, 128) + "` in revision " + lp.set().revision());
        require(who.readsKeysOf(name) || caller.allowances().containsKey(name), who, "read policy `" + name + "`");
        ObjectNode out = JSON.createObjectNode().put("name", p.name()).put("revision", lp.set().revision()).put("zone", p.zone().getId());
        if (p.template() != null) out.put("template", p.template());
        ArrayNode models = out.putArray("models");
        p.allowedModels().forEach(models::add);
        ArrayNode limits = out.putArray("limits");
        for (keyguard.policy.LimitSpec l : p.rateLimits()) limits.addObject().put("id", l.id()).put("counter", l.counter().toString()).put("amount", l.amount());
        for (keyguard.policy.LimitSpec l : p.concurrency()) limits.addObject().put("id", l.id()).put("counter", l.counter().toString()).put("amount", l.amount());
        ArrayNode budgets = out.putArray("budgets");
        for (keyguard.policy.BudgetSpec b : p.budgets()) {
            budgets.addObject().put("id", b.id()).put("counter", b.counter().toString()).put("cap_usd", keyguard.policy.Money.format(b.amount()))
                    .put("cap_micros", b.amount()).put("hard", b.hard()).put("warn_percent", b.warnPercent());
        }
        out.put("data_ceiling", p.data().max().name().toLowerCase(java.util.Locale.ROOT)).put("data_action", p.data().action().name().toLowerCase(java.util.Locale.ROOT));
        ArrayNode rules = out.putArray("forbid_rules");
        p.forbids().forEach(f -> rules.add(f.id()));
        ObjectNode tags = out.putObject("audit_tags");
        p.tags().forEach(tags::put);
        ArrayNode tests = out.putArray("tests");
        lp.set().tests().stream().filter(t -> t.policy().equals(name)).forEach(t -> tests.addObject().put("name", t.name()).put("result", "passed"));
        keyguard.lang.source.SourceFile file = p.span() == null ? null : p.span().file();
        // A file is quoted whole, so only to someone who may read every policy it declares.
        boolean mayQuote = file != null && !loader.operatorOwned(file.path()) && lp.set().policies().values().stream()
                .filter(o -> o.span() != null && o.span().file() == file).allMatch(o -> who.readsKeysOf(o.name()));
        if (mayQuote) out.put("file", file.path()).put("source", file.text());
        Responses.json(exchange, 200, out.toString());
    }

    /**
     * {@code POST /admin/shadow} with {@code {"revision": "REF"}} (a git revision of the policy
     * repository) or {@code {"directory": "PATH"}}: compiled and tested as a reload would,
     * then deciding live traffic beside the serving revision (docs/policy-changes.md).
     */
    private void startShadow(HttpServerExchange exchange, JsonNode body, AdminPrincipal who) throws BadAdminRequest {
        JsonNode revision = body.get("revision");
        JsonNode directory = body.get("directory");
        if ((revision == null) == (directory == null) || !(revision == null ? directory : revision).isTextual()) {
            throw new BadAdminRequest(400, "give the candidate as {\"revision\": \"<git revision of the policy repository>\"} or {\"directory\": \"<path>\"}");
        }
        String source = revision != null ? revision.asText() : directory.asText();
        if (source.length() > 1024) throw new BadAdminRequest(400, "the revision or directory is at most 1024 characters");
        PolicyLoader.Compiled candidate;
        try {
            candidate = loader.candidate(revision != null ? source : null, directory != null ? java.nio.file.Path.of(source) : null);
        } catch (IllegalArgumentException | java.io.UncheckedIOException e) { // InvalidPathException too
            throw new BadAdminRequest(400, e.getMessage());
        } catch (keyguard.revision.PolicyLoadException e) {
            throw new BadAdminRequest(422, "the candidate does not load (" + e.getMessage() + "):\n" + e.report());
        }
        if (candidate.set().revision().equals(policies.get().set().revision())) {
            candidate.set().close();
            throw new BadAdminRequest(409, "revision " + candidate.set().revision() + " is the one serving: a shadow of it would disagree with nothing");
        }
        String described = (revision != null ? "revision " : "directory ") + source;
        shadow.start(candidate.set(), candidate.evaluators(), described, who.subject());
        audit.recordAdmin(who.subject(), "shadow.start", candidate.set().revision() + " (" + described + ")", "started");
        Responses.json(exchange, 201, shadow.status().toString());
    }

    private static Instant instant(String v, String name) throws BadAdminRequest {
        try {
            return AuditLog.parseBound(v);
        } catch (DateTimeParseException e) {
            throw new BadAdminRequest(400, "`" + name + "` must be a date (2026-11-27) or an ISO-8601 instant");
        }
    }

    private static java.time.LocalDate date(String v, java.time.LocalDate dflt, String name) throws BadAdminRequest {
        if (v == null || v.isBlank()) return dflt;
        try {
            return java.time.LocalDate.parse(v);
        } catch (DateTimeParseException e) {
            throw new BadAdminRequest(400, "`" + name + "` must be a date such as 2026-11-27");
        }
    }

    /**
     * Revision, load time, policies, models, missing credentials, reload counts and the last
     * failure (for a team admin, without quoting the operator's files).
     */
    private ObjectNode policyStatus(LoadedPolicies lp, Caller caller) {
        AdminPrincipal who = caller.who();
        ObjectNode root = JSON.createObjectNode();
        root.put("revision", lp.set().revision());
        root.put("loaded_at", lp.loadedAt().toString());
        ArrayNode names = root.putArray("policies");
        // A member (self-service) sees the policies they may issue keys for, not the whole organisation's.
        lp.set().policies().keySet().stream().filter(n -> caller.who().hasRole() || caller.allowances().containsKey(n)).forEach(names::add);
        ArrayNode models = root.putArray("models");
        lp.set().models().values().forEach(m -> models.addObject().put("id", m.name()).put("provider", m.provider()).put("type", m.type()));
        ObjectNode missing = root.putObject("missing_credentials");
        if (caller.who().hasRole()) lp.providers().missingCredentials().forEach(missing::put);
        root.put("reloads", loader.reloads());
        root.put("reload_failures", loader.failures());
        PolicyLoader.Failure f = loader.lastFailure();
        if (f == null) {
            root.putNull("last_error");
        } else {
            // A member (self-service) sees that the last reload failed, not the report: it quotes the teams' files.
            root.putObject("last_error").put("at", f.at().toString()).put("revision", f.revision())
                    .put("report", who.readsEverything() ? f.report() : who.hasRole() ? f.teamReport() : "");
        }
        return root;
    }

    /** Every node of the fleet: name, version, revision, heartbeat, requests in flight, Redis latency; mismatched revisions flagged. */
    private ObjectNode fleetView() throws BadAdminRequest {
        ObjectNode root = JSON.createObjectNode();
        if (fleet == null) {
            root.put("mode", "single");
            root.put("node", "this gateway is not part of a fleet (start it with --redis)");
            return root;
        }
        List<keyguard.fleet.FleetNodes.Node> nodes;
        try {
            nodes = fleet.nodes();
        } catch (keyguard.fleet.Fleet.Unreachable e) {
            throw new BadAdminRequest(503, "Redis cannot be reached: " + e.getMessage());
        }
        root.put("mode", "fleet").put("node", fleet.node()).put("redis", fleet.describe());
        String mine = policies.get().set().revision();
        java.util.Map<String, Long> revisions = new java.util.TreeMap<>();
        for (var n : nodes) if (n.live()) revisions.merge(n.revision(), 1L, Long::sum);
        ArrayNode list = root.putArray("nodes");
        for (var n : nodes) {
            list.addObject().put("name", n.name()).put("version", n.version()).put("revision", n.revision())
                    .put("last_heartbeat", Instant.ofEpochMilli(n.heartbeatMillis()).toString()).put("heartbeat_age_ms", n.ageMillis())
                    .put("live", n.live()).put("in_flight", n.inFlight()).put("redis_latency_us", n.redisLatencyMicros())
                    .put("revision_differs", n.live() && !n.revision().equals(mine));
        }
        root.put("revisions_in_service", revisions.size());
        root.put("consistent", revisions.size() <= 1);
        return root;
    }

}
