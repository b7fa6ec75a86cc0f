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
import keyguard.admin.AdminAuth;
import keyguard.admin.OidcConfig;

/**
 * The console's sign-in through the identity provider: OpenID Connect authorization code
 * with PKCE (S256). {@code /console/oidc/start} sends the browser to the provider with a
 * fresh {@code state} (also set in a cookie of this browser) and code challenge;
 * {@code /console/oidc/callback} checks the state against the sealed cookie, redeems the code with its verifier at the token endpoint, and signs the
 * browser in with the access token, verified exactly as an admin bearer token is (issuer,
 * audience, signature, roles from groups).
 *
 * <p>Invariants: a sign-in in progress is held by the browser that started it, not by the
 * gateway: its state, code verifier and deadline travel in one cookie sealed with this
 * process's key (HMAC-SHA256), so starting sign-ins costs the gateway nothing and cannot
 * crowd out anyone else's; the callback accepts it only with the same state in the URL,
 * within {@link #PENDING_FOR}. A failed discovery is not retried before a backoff (1 s,
 * doubling to a minute), so a down provider does not hold the admin workers. The
 * provider's answers are bounded and never shown raw.
 */
public final class OidcSignIn {
    static final Duration PENDING_FOR = Duration.ofMinutes(10);
    private static final String STATE_COOKIE = "kg_oidc_state";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final ObjectMapper JSON = new ObjectMapper();

    private final OidcConfig config;
    private final AdminAuth admin;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).followRedirects(HttpClient.Redirect.NEVER).build();
    /** Seals the sign-in cookies of this process (a restart abandons sign-ins in progress). */
    private final byte[] sealKey = new byte[32];
    private final java.time.Clock clock;
    private volatile JsonNode discovery;
    private volatile long retryAt;
    private volatile boolean backingOff;
    private long backoffNanos = 1_000_000_000L;

    public OidcSignIn(OidcConfig config, AdminAuth admin, java.time.Clock clock) {
        if (config.clientId() == null) throw new IllegalArgumentException("the console's sign-in needs the client id");
        this.config = config;
        this.admin = admin;
        this.clock = clock;
        RANDOM.nextBytes(sealKey);
    }

    void start(HttpServerExchange exchange) {
        JsonNode d;
        try {
            d = discovery();
        } catch (Exception e) {
            Console.plain(exchange, 503, "the identity provider cannot be reached to sign in: " + bounded(e.getMessage()));
            return;
        }
        String state = random();
        String verifier = random();
        long deadline = clock.millis() + PENDING_FOR.toMillis();
        Map<String, String> q = new LinkedHashMap<>();
        q.put("response_type", "code");
        q.put("client_id", config.clientId());
        q.put("redirect_uri", redirectUri(exchange));
        q.put("scope", "openid profile");
        q.put("state", state);
        q.put("code_challenge", challenge(verifier));
        q.put("code_challenge_method", "S256");
        String endpoint = d.path("authorization_endpoint").asText();
        exchange.getResponseHeaders().add(Headers.SET_COOKIE, STATE_COOKIE + "=" + seal(state + "." + verifier + "." + deadline) + "; Path=/console/oidc/; Max-Age="
                + PENDING_FOR.toSeconds() + "; HttpOnly; SameSite=Lax" + (AdminAuth.secure(exchange) ? "; Secure" : ""));
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
        String[] held = cookie == null ? null : unseal(cookie.getValue()); // state, verifier, deadline
        if (held == null || held.length != 3 || state.isEmpty()
                || !MessageDigest.isEqual(held[0].getBytes(StandardCharsets.UTF_8), state.getBytes(StandardCharsets.UTF_8))
                || clock.millis() > parseLong(held[2])) {
            Console.plain(exchange, 400, "this sign-in was not started by this browser, or took longer than "
                    + PENDING_FOR.toMinutes() + " minutes; start again at /console/");
            return;
        }
        String verifier = held[1];
        String code = q.getOrDefault("code", "");
        if (code.isEmpty() || code.length() > 4096) {
            Console.plain(exchange, 400, "the identity provider sent no authorization code");
            return;
        }
        String accessToken;
        try {
            accessToken = redeem(code, verifier, redirectUri(exchange));
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
        synchronized (this) {
            if (discovery != null) return discovery;
            long wait = retryAt - System.nanoTime();
            if (backingOff && wait > 0) throw new IllegalStateException("discovery failed; retrying in " + (wait / 1_000_000_000L + 1) + " s");
            String url = config.issuer().endsWith("/") ? config.issuer() + ".well-known/openid-configuration" : config.issuer() + "/.well-known/openid-configuration";
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() != 200) throw new IllegalStateException("discovery at " + url + " answered " + r.statusCode());
                d = JSON.readTree(r.body());
                for (String field : new String[] {"authorization_endpoint", "token_endpoint"}) {
                    if (!d.path(field).isTextual() || !d.path(field).asText().matches("https?://.*")) throw new IllegalStateException("discovery at " + url + " has no " + field);
                }
            } catch (Exception e) {
                retryAt = System.nanoTime() + backoffNanos; // one caller waits on a down provider, the others are told at once
                backingOff = true;
                backoffNanos = Math.min(60_000_000_000L, backoffNanos * 2);
                throw e;
            }
            discovery = d;
            backingOff = false;
            return d;
        }
    }

    /** {@code value} with its HMAC under this process's key, for a cookie. */
    String seal(String value) {
        String v = Base64.getUrlEncoder().withoutPadding().encodeToString(value.getBytes(StandardCharsets.UTF_8));
        return v + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(mac(v));
    }

    /** The parts ({@code .}-separated) of a value this process sealed, or null for anything else. */
    String[] unseal(String sealed) {
        if (sealed == null || sealed.length() > 1024) return null;
        int dot = sealed.indexOf('.');
        if (dot < 0) return null;
        String v = sealed.substring(0, dot);
        byte[] presented;
        try {
            presented = Base64.getUrlDecoder().decode(sealed.substring(dot + 1));
            if (!MessageDigest.isEqual(presented, mac(v))) return null;
            return new String(Base64.getUrlDecoder().decode(v), StandardCharsets.UTF_8).split("\\.", -1);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private byte[] mac(String v) {
        try {
            javax.crypto.Mac m = javax.crypto.Mac.getInstance("HmacSHA256");
            m.init(new javax.crypto.spec.SecretKeySpec(sealKey, "HmacSHA256"));
            return m.doFinal(v.getBytes(StandardCharsets.US_ASCII));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            return Long.MIN_VALUE;
        }
    }

    /** Where the provider sends the browser back: this listener as the browser reached it. */
    private static String redirectUri(HttpServerExchange exchange) {
        return (AdminAuth.secure(exchange) ? "https" : "http") + "://" + exchange.getHostAndPort() + "/console/oidc/callback";
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
