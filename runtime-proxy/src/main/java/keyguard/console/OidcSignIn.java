package keyguard.console;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.undertow.server.HttpServerExchange;
import io.undertow.server.handlers.Cookie;
import io.undertow.util.Headers;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import keyguard.admin.AdminApi;
import keyguard.admin.OidcConfig;

/**
 * The console's sign-in through the identity provider: OpenID Connect authorization code
 * with PKCE (S256). {@code /console/oidc/start} sends the browser to the provider with a
 * fresh {@code state} (also set in a cookie of this browser) and code challenge;
 * {@code /console/oidc/callback} checks the state against the cookie and the pending
 * sign-ins, redeems the code with its verifier at the token endpoint, and signs the
 * browser in with the access token, verified exactly as an admin bearer token is (issuer,
 * audience, signature, roles from groups).
 *
 * <p>Invariants: a state is used at most once, within {@link #PENDING_FOR}, by the browser
 * that started it; at most {@link #MAX_PENDING} sign-ins wait at once; the provider's
 * answers are bounded and never shown raw.
 */
public final class OidcSignIn {
    static final Duration PENDING_FOR = Duration.ofMinutes(10);
    static final int MAX_PENDING = 1000;
    private static final String STATE_COOKIE = "kg_oidc_state";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final ObjectMapper JSON = new ObjectMapper();

    private record Pending(String verifier, long startedNanos) {}

    private final OidcConfig config;
    private final AdminApi admin;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).followRedirects(HttpClient.Redirect.NEVER).build();
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    private volatile JsonNode discovery;

    public OidcSignIn(OidcConfig config, AdminApi admin) {
        if (config.clientId() == null) throw new IllegalArgumentException("the console's sign-in needs the client id");
        this.config = config;
        this.admin = admin;
    }

    void start(HttpServerExchange exchange) {
        JsonNode d;
        try {
            d = discovery();
        } catch (Exception e) {
            Console.plain(exchange, 503, "the identity provider cannot be reached to sign in: " + bounded(e.getMessage()));
            return;
        }
        long now = System.nanoTime();
        pending.entrySet().removeIf(e -> now - e.getValue().startedNanos() > PENDING_FOR.toNanos());
        if (pending.size() >= MAX_PENDING) {
            Console.plain(exchange, 503, "too many sign-ins are waiting for the identity provider; try again in a few minutes");
            return;
        }
        String state = random();
        String verifier = random();
        pending.put(state, new Pending(verifier, now));
        Map<String, String> q = new LinkedHashMap<>();
        q.put("response_type", "code");
        q.put("client_id", config.clientId());
        q.put("redirect_uri", redirectUri(exchange));
        q.put("scope", "openid profile");
        q.put("state", state);
        q.put("code_challenge", challenge(verifier));
        q.put("code_challenge_method", "S256");
        String endpoint = d.path("authorization_endpoint").asText();
        exchange.getResponseHeaders().add(Headers.SET_COOKIE, STATE_COOKIE + "=" + state + "; Path=/console/oidc/; Max-Age="
                + PENDING_FOR.toSeconds() + "; HttpOnly; SameSite=Lax" + (secure(exchange) ? "; Secure" : ""));
        exchange.setStatusCode(302);
        exchange.getResponseHeaders().put(Headers.LOCATION, endpoint + (endpoint.contains("?") ? "&" : "?") + form(q));
        exchange.endExchange();
    }

    void callback(HttpServerExchange exchange) {
        Map<String, String> q = new LinkedHashMap<>();
        exchange.getQueryParameters().forEach((k, v) -> q.put(k, v.getFirst()));
        exchange.getResponseHeaders().add(Headers.SET_COOKIE, STATE_COOKIE + "=; Path=/console/oidc/; Max-Age=0; HttpOnly; SameSite=Lax");
        if (q.containsKey("error")) {
            Console.plain(exchange, 403, "the identity provider refused the sign-in: " + bounded(q.get("error")) + ". Back to the console: /console/");
            return;
        }
        String state = q.getOrDefault("state", "");
        Cookie cookie = exchange.getRequestCookie(STATE_COOKIE);
        Pending p = state.isEmpty() || state.length() > 100 ? null : pending.remove(state);
        if (p == null || cookie == null || !MessageDigest.isEqual(cookie.getValue().getBytes(StandardCharsets.UTF_8), state.getBytes(StandardCharsets.UTF_8))
                || System.nanoTime() - p.startedNanos() > PENDING_FOR.toNanos()) {
            Console.plain(exchange, 400, "this sign-in was not started by this browser, was used already, or took longer than "
                    + PENDING_FOR.toMinutes() + " minutes; start again at /console/");
            return;
        }
        String code = q.getOrDefault("code", "");
        if (code.isEmpty() || code.length() > 4096) {
            Console.plain(exchange, 400, "the identity provider sent no authorization code");
            return;
        }
        String accessToken;
        try {
            accessToken = redeem(code, p.verifier(), redirectUri(exchange));
        } catch (Exception e) {
            Console.plain(exchange, 502, "the identity provider did not redeem the sign-in: " + bounded(e.getMessage()));
            return;
        }
        String refused = admin.signInWith(exchange, accessToken, "oidc");
        if (refused != null) {
            Console.plain(exchange, 403, "signed in at the identity provider, but not let into Keyguard: " + refused);
            return;
        }
        exchange.setStatusCode(302);
        exchange.getResponseHeaders().put(Headers.LOCATION, "/console/");
        exchange.endExchange();
    }

    /** The code and its verifier for the access token, at the token endpoint. */
    private String redeem(String code, String verifier, String redirectUri) throws Exception {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("grant_type", "authorization_code");
        f.put("code", code);
        f.put("redirect_uri", redirectUri);
        f.put("code_verifier", verifier);
        f.put("client_id", config.clientId());
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(discovery().path("token_endpoint").asText())).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/x-www-form-urlencoded").header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(form(f)));
        if (config.clientSecret() != null) {
            String basic = URLEncoder.encode(config.clientId(), StandardCharsets.UTF_8) + ":" + URLEncoder.encode(config.clientSecret(), StandardCharsets.UTF_8);
            r.header("Authorization", "Basic " + Base64.getEncoder().encodeToString(basic.getBytes(StandardCharsets.UTF_8)));
        }
        HttpResponse<String> resp = http.send(r.build(), HttpResponse.BodyHandlers.ofString());
        if (resp.body().length() > 1 << 20) throw new IllegalStateException("the token endpoint's answer is larger than 1 MiB");
        JsonNode body = resp.body().isBlank() ? JSON.createObjectNode() : JSON.readTree(resp.body());
        if (resp.statusCode() != 200 || !body.path("access_token").isTextual()) {
            throw new IllegalStateException("the token endpoint answered " + resp.statusCode() + (body.path("error").isTextual() ? " (" + body.path("error").asText() + ")" : ""));
        }
        return body.path("access_token").asText();
    }

    private JsonNode discovery() throws Exception {
        JsonNode d = discovery;
        if (d != null) return d;
        String url = config.issuer().endsWith("/") ? config.issuer() + ".well-known/openid-configuration" : config.issuer() + "/.well-known/openid-configuration";
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IllegalStateException("discovery at " + url + " answered " + r.statusCode());
        d = JSON.readTree(r.body());
        for (String field : new String[] {"authorization_endpoint", "token_endpoint"}) {
            if (!d.path(field).isTextual() || !d.path(field).asText().matches("https?://.*")) throw new IllegalStateException("discovery at " + url + " has no " + field);
        }
        discovery = d;
        return d;
    }

    /** Where the provider sends the browser back: this listener as the browser reached it. */
    private static String redirectUri(HttpServerExchange exchange) {
        return (secure(exchange) ? "https" : "http") + "://" + exchange.getHostAndPort() + "/console/oidc/callback";
    }

    private static boolean secure(HttpServerExchange exchange) {
        return "https".equalsIgnoreCase(exchange.getRequestScheme())
                || "https".equalsIgnoreCase(exchange.getRequestHeaders().getFirst(Headers.X_FORWARDED_PROTO));
    }

    private static String form(Map<String, String> fields) {
        StringBuilder sb = new StringBuilder();
        fields.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : "&").append(k).append('=').append(URLEncoder.encode(v, StandardCharsets.UTF_8)));
        return sb.toString();
    }

    static String challenge(String verifier) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(h);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String random() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    private static String bounded(String s) {
        return keyguard.audit.UntrustedText.quote(String.valueOf(s), 200);
    }
}
