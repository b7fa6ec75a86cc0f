package keyguard.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.undertow.server.HttpServerExchange;
import io.undertow.server.handlers.Cookie;
import io.undertow.util.Headers;
import io.undertow.util.Methods;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.Map;
import keyguard.audit.AuditLog;
import keyguard.wire.ApiShape;
import keyguard.wire.ErrorCode;
import keyguard.wire.GatewayError;
import keyguard.wire.Responses;

/**
 * Who is calling the admin listener: the bootstrap admin token, an identity provider's JWT
 * (both as {@code Authorization: Bearer}), or a console session's cookie; and the console's
 * sign-in and sign-out ({@code /admin/session}).
 *
 * <p>Invariants: an absent credential is never compared with anything, and credentials are
 * compared in constant time; a cookie stands for its principal only while its session
 * lives ({@link Sessions}), only on a request from this listener's own origin, and, for
 * anything but {@code GET} and {@code HEAD}, only with the session's CSRF token; a session
 * is made only from a credential that is valid as a bearer token, only while the audit log
 * can record it, and every sign-in and sign-out is an admin audit event.
 */
public final class AdminAuth {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final byte[] token;
    private final OidcVerifier oidc;
    /** The token {@code GET /metrics} needs besides the admin token; null when /metrics is open. */
    private final byte[] metricsToken;
    private final Sessions sessions;
    private final AuditLog audit;
    private final Clock clock;

    /** What a principal may do, read from the directory (a principal without a role enters only as a self-service member). */
    private final java.util.function.Function<AdminPrincipal, Caller> callers;

    AdminAuth(byte[] token, OidcConfig oidc, byte[] metricsToken, Sessions sessions, AuditLog audit, Clock clock,
              java.util.function.Function<AdminPrincipal, Caller> callers) {
        this.callers = callers;
        this.token = token;
        this.oidc = oidc == null ? null : new OidcVerifier(oidc);
        this.metricsToken = metricsToken;
        this.sessions = sessions;
        this.audit = audit;
        this.clock = clock;
    }

    /** The bearer credential of a request, stripped; empty when there is none. */
    static String presented(HttpServerExchange exchange) {
        String auth = exchange.getRequestHeaders().getFirst(Headers.AUTHORIZATION);
        return auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) ? auth.substring(7).strip() : "";
    }

    /** The console session of a request's cookie, or null. */
    Sessions.Session session(HttpServerExchange exchange) {
        Cookie cookie = exchange.getRequestCookie(Sessions.cookieName(secure(exchange)));
        return cookie == null ? null : sessions.find(cookie.getValue());
    }

    /**
     * Whether a request may read {@code /metrics}: always while it is open (no metrics token:
     * a loopback listener), else with the metrics or admin token, or from the console with
     * the session of an admin or auditor.
     */
    boolean mayReadMetrics(HttpServerExchange exchange) {
        if (metricsToken == null) return true;
        String presented = presented(exchange);
        if (presented.isEmpty()) {
            Sessions.Session s = session(exchange);
            return s != null && s.who().readsEverything() && crossSite(exchange) == null && !callers.apply(s.who()).deactivated();
        }
        byte[] p = presented.getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(p, metricsToken) || MessageDigest.isEqual(p, token);
    }

    /** The principal a request stands for, or null once it has been answered with why not. */
    AdminPrincipal authenticate(HttpServerExchange exchange) {
        String presented = presented(exchange);
        if (!presented.isEmpty()) {
            try {
                return bearer(presented);
            } catch (Refusal r) {
                Responses.error(exchange, ApiShape.OPENAI, r.error, Map.of());
                return null;
            }
        }
        Cookie cookie = exchange.getRequestCookie(Sessions.cookieName(secure(exchange)));
        Sessions.Session session = cookie == null ? null : sessions.find(cookie.getValue());
        if (session == null) {
            Responses.error(exchange, ApiShape.OPENAI, ErrorCode.ADMIN_UNAUTHORIZED.error((cookie == null ? "missing admin credential"
                    : "the console session has ended; sign in again") + ": send `Authorization: Bearer <admin token>`"
                    + (oidc == null ? "" : " or an identity-provider token") + ", or sign in to the console"), Map.of());
            return null;
        }
        // A browser's call: the cookie alone proves nothing about who made the page that sent it.
        String refused = crossSite(exchange);
        if (refused == null && !safe(exchange) && !session.csrfMatches(exchange.getRequestHeaders().getFirst(Sessions.CSRF_HEADER))) {
            refused = "a console call that changes something needs the session's CSRF token in `" + Sessions.CSRF_HEADER + "`";
        }
        if (refused != null) {
            Responses.error(exchange, ApiShape.OPENAI, ErrorCode.ADMIN_FORBIDDEN.error(refused), Map.of());
            return null;
        }
        return session.who();
    }

    /** {@code GET /admin/session}: who is signed in, with the session's CSRF token when it is a console session. */
    void describe(HttpServerExchange exchange, Caller caller) {
        Responses.json(exchange, 200, sessionView(caller, presented(exchange).isEmpty() ? session(exchange) : null).toString());
    }

    /** {@code DELETE /admin/session}: ends the cookie's session; false when there was none. */
    boolean signOut(HttpServerExchange exchange, AdminPrincipal who) {
        Cookie cookie = exchange.getRequestCookie(Sessions.cookieName(secure(exchange)));
        if (cookie == null || !sessions.end(cookie.getValue())) return false;
        audit.recordAdmin(who.subject(), "session.end", "console", "signed out");
        exchange.getResponseHeaders().add(Headers.SET_COOKIE, Sessions.expiredCookie(secure(exchange)));
        Responses.json(exchange, 200, "{\"signed_out\":true}");
        return true;
    }

    /** The {@code token} of a sign-in body (at most 64 KiB of JSON); IllegalArgumentException says what is wrong. */
    private static String presentedToken(HttpServerExchange exchange) {
        exchange.startBlocking();
        JsonNode body;
        try {
            byte[] bytes = exchange.getInputStream().readNBytes(1 << 16);
            body = bytes.length == 0 ? null : JSON.readTree(bytes);
        } catch (IOException e) {
            throw new IllegalArgumentException("the sign-in body is not valid JSON");
        }
        JsonNode t = body == null ? null : body.get("token");
        if (t == null || !t.isTextual() || t.asText().isBlank() || t.asText().length() > 16_384) {
            throw new IllegalArgumentException("sign in with {\"token\": \"<admin token or identity-provider token>\"}");
        }
        return t.asText().strip();
    }

    /** What a bearer credential stands for: the bootstrap token, or an identity provider's JWT. */
    private AdminPrincipal bearer(String presented) throws Refusal {
        if (MessageDigest.isEqual(presented.getBytes(StandardCharsets.UTF_8), token)) return AdminPrincipal.bootstrap();
        if (oidc != null && presented.chars().filter(c -> c == '.').count() == 2) {
            try {
                // A deactivated person passes the role check only to be told why they are refused.
                AdminPrincipal p = oidc.verify(presented, q -> callers.apply(q).member() || callers.apply(q).deactivated());
                if (callers.apply(p).deactivated()) throw new Refusal(deactivated(p));
                return p;
            } catch (OidcVerifier.Rejected r) {
                GatewayError e = (r.status == 401 ? ErrorCode.ADMIN_UNAUTHORIZED : r.status == 403 ? ErrorCode.ADMIN_FORBIDDEN
                        : ErrorCode.ADMIN_UNAVAILABLE).error(r.getMessage());
                throw new Refusal(e.status() != r.status ? e.withStatus(r.status) : e);
            }
        }
        throw new Refusal(ErrorCode.ADMIN_UNAUTHORIZED.error(oidc == null ? "missing or wrong admin token"
                : "missing or wrong admin token or identity-provider bearer token"));
    }

    /**
     * {@code POST /admin/session} with {@code {"token": "..."}} (the bootstrap admin token or
     * an identity-provider JWT): signs a browser in to the console. Answers who signed in,
     * the session's CSRF token and when it ends, and sets the session cookie. Only JSON is
     * accepted, and only from this listener's own pages, so that another site cannot sign a
     * visitor in under its own credential.
     */
    void signIn(HttpServerExchange exchange) {
        String type = exchange.getRequestHeaders().getFirst(Headers.CONTENT_TYPE);
        String refused = crossSite(exchange);
        if (refused == null && (type == null || !type.toLowerCase(java.util.Locale.ROOT).startsWith("application/json"))) {
            refused = "sign in with `Content-Type: application/json`";
        }
        if (refused != null) {
            Responses.error(exchange, ApiShape.OPENAI, ErrorCode.ADMIN_FORBIDDEN.error(refused), Map.of());
            return;
        }
        if (!audit.writable()) {
            Responses.error(exchange, ApiShape.OPENAI, ErrorCode.ADMIN_STORE_UNAVAILABLE.error("the audit log cannot be written; sign-ins are refused until it can")
                    .withStatus(503), Map.of());
            return;
        }
        AdminPrincipal who;
        try {
            who = bearer(presentedToken(exchange));
        } catch (IllegalArgumentException e) {
            Responses.error(exchange, ApiShape.OPENAI, ErrorCode.ADMIN_INVALID_REQUEST.error(e.getMessage()), Map.of());
            return;
        } catch (Refusal r) {
            Responses.error(exchange, ApiShape.OPENAI, r.error, Map.of());
            return;
        }
        Sessions.Session session = startSession(exchange, who, "token");
        Responses.json(exchange, 201, sessionView(callers.apply(who), session).toString());
    }

    /**
     * Signs {@code who} in: a new session, its cookie on the response, and an admin audit
     * event naming how ({@code token} or {@code oidc}). Used by the token form and by the
     * console's identity-provider sign-in.
     */
    public Sessions.Session startSession(HttpServerExchange exchange, AdminPrincipal who, String how) {
        Sessions.Created created = sessions.create(who);
        long maxAge = Math.max(1, java.time.Duration.between(clock.instant(), created.session().ends()).toSeconds());
        exchange.getResponseHeaders().add(Headers.SET_COOKIE, Sessions.cookie(created.id(), maxAge, secure(exchange)));
        audit.recordAdmin(who.subject(), "session.create", how, "signed in to the console as " + who.role());
        return created.session();
    }

    /**
     * Who is signed in: subject, role, the policies they administer, their user and groups
     * (as the directory knows them) and what they may issue to themselves.
     */
    static ObjectNode sessionView(Caller caller, Sessions.Session session) {
        AdminPrincipal who = caller.who();
        ObjectNode out = JSON.createObjectNode().put("subject", who.subject()).put("role", who.role())
                .put("admin", who.admin()).put("auditor", who.auditor());
        ArrayNode team = out.putArray("team_policies");
        who.teamPolicies().stream().sorted().forEach(team::add);
        if (caller.user() == null) out.putNull("user");
        else out.put("user", caller.user());
        ArrayNode groups = out.putArray("groups");
        caller.groups().stream().sorted().forEach(groups::add);
        ArrayNode self = out.putArray("self_service");
        for (var a : caller.allowances().values()) {
            ObjectNode o = self.addObject().put("policy", a.policy()).put("max_lifetime", keyguard.policy.Durations.format(a.maxLifetimeSeconds()))
                    .put("max_lifetime_seconds", a.maxLifetimeSeconds()).put("max_keys", a.maxKeys());
            ArrayNode owners = o.putArray("owner_groups"); // the caller's groups that may own a self-issued key of it
            caller.groups().stream().sorted().filter(g -> caller.allowance(a.policy(), "group:" + g) != null).forEach(owners::add);
        }
        ArrayNode accounts = out.putArray("service_accounts"); // the accounts of the caller's groups: they issue them keys
        for (ObjectNode acc : caller.accounts()) {
            var limits = ServiceAccountsApi.allowance(acc, acc.path("policy").asText());
            accounts.addObject().put("name", acc.path("name").asText()).put("policy", limits.policy())
                    .put("max_lifetime", keyguard.policy.Durations.format(limits.maxLifetimeSeconds()))
                    .put("max_lifetime_seconds", limits.maxLifetimeSeconds()).put("max_keys", limits.maxKeys());
        }
        if (session != null) out.put("csrf_token", session.csrf()).put("ends_at", session.ends().toString());
        return out;
    }

    /** Whether the console is served over TLS here (directly, or behind a proxy that says so). */
    public static boolean secure(HttpServerExchange exchange) {
        return "https".equalsIgnoreCase(exchange.getRequestScheme())
                || "https".equalsIgnoreCase(exchange.getRequestHeaders().getFirst(io.undertow.util.Headers.X_FORWARDED_PROTO));
    }

    static boolean safe(HttpServerExchange exchange) {
        return exchange.getRequestMethod().equals(Methods.GET) || exchange.getRequestMethod().equals(Methods.HEAD);
    }

    /**
     * Why a browser's request is refused as coming from another site, or null: an
     * {@code Origin} (or, failing that, {@code Sec-Fetch-Site}) that is not this listener's.
     */
    static String crossSite(HttpServerExchange exchange) {
        String origin = exchange.getRequestHeaders().getFirst(Headers.ORIGIN);
        String host = exchange.getRequestHeaders().getFirst(Headers.HOST);
        if (origin != null && !origin.equals("null")) {
            String own = origin.replaceFirst("^https?://", "");
            if (host == null || !own.equalsIgnoreCase(host)) return "a request from another site (`Origin` is not this listener)";
        } else if (origin != null) {
            return "a request from an opaque origin";
        }
        String site = exchange.getRequestHeaders().getFirst("Sec-Fetch-Site");
        if (site != null && !site.equals("same-origin") && !site.equals("none")) return "a request from another site (`Sec-Fetch-Site: " + (site.length() > 20 ? "…" : site) + "`)";
        return null;
    }

    /**
     * Signs a browser in with a credential the console obtained itself (the identity
     * provider's sign-in): verified exactly as a bearer token is. Null when signed in, else
     * why not (safe to show).
     */
    public String signInWith(HttpServerExchange exchange, String credential, String how) {
        if (!audit.writable()) return "the audit log cannot be written; sign-ins are refused until it can";
        try {
            startSession(exchange, bearer(credential), how);
            return null;
        } catch (Refusal r) {
            return r.error.message();
        }
    }

    /** The refusal of a person the directory knows as deactivated: no token or session of theirs works. */
    static GatewayError deactivated(AdminPrincipal who) {
        return ErrorCode.ADMIN_UNAUTHORIZED.error("`" + keyguard.audit.UntrustedText.quote(who.userName(), 128) + "` is deactivated in the directory");
    }

    static final class Refusal extends Exception {
        final GatewayError error;

        Refusal(GatewayError error) {
            super(error.message(), null, false, false);
            this.error = error;
        }
    }
}
