package keyguard.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The OAuth 2.0 device authorization grant (RFC 8628) as {@code keyguard login} uses it: the
 * gateway says which identity provider and public client to use ({@code GET /admin/login}),
 * the provider's discovery document says where to ask, the engineer confirms a short code in
 * a browser (any device), and the CLI polls until the provider answers with tokens; later
 * commands refresh the access token with the refresh token.
 *
 * <p>Invariants: polling waits the provider's {@code interval} (5 s when it names none) and
 * five seconds more after each {@code slow_down}, and gives up when the code expires; a
 * provider's answer is read up to 64 KiB and must be JSON; errors name the provider's
 * {@code error} code, never a token. What a gateway publishes is not trusted blindly (it
 * may be someone else's gateway, or a tampered answer): every address is HTTPS unless it
 * is on this machine; the discovery document must name the issuer asked for, and its
 * endpoints (and the page the engineer is sent to) must be on the issuer's own origin, so
 * the codes and tokens go nowhere else; text shown on the terminal is stripped of control
 * characters.
 */
final class DeviceLogin {
    static final String DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_ANSWER = 64 * 1024;

    /** What the gateway publishes for the CLI. */
    record Settings(String issuer, String clientId, String scope, String audience) {}

    /** The provider's two endpoints of the grant. */
    record Endpoints(String deviceAuthorization, String token) {}

    /** An authorization in progress: what the engineer must do, and what the CLI polls with. */
    record Pending(String deviceCode, String userCode, String verificationUri, String verificationUriComplete, Instant expires, long intervalSeconds) {}

    /** Tokens from the provider. */
    record Tokens(String accessToken, String refreshToken, Instant expires) {}

    /** Waits between polls (tests may shorten nothing: the provider's interval is the contract). */
    interface Sleeper {
        void sleep(Duration d) throws InterruptedException;
    }

    static final class Failed extends Exception {
        Failed(String message) {
            super(message, null, false, false);
        }
    }

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final Clock clock;

    DeviceLogin(Clock clock) {
        this.clock = clock;
    }

    /** Whether {@code uri} may carry codes and tokens: HTTPS, or HTTP to this machine. */
    static boolean safe(URI uri) {
        if ("https".equalsIgnoreCase(uri.getScheme())) return uri.getHost() != null;
        if (!"http".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) return false;
        String host = uri.getHost();
        return host.equals("localhost") || host.equals("127.0.0.1") || host.equals("[::1]") || host.equals("::1");
    }

    private static URI checked(String url, String what) throws Failed {
        URI uri;
        try {
            uri = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new Failed(what + " is not an address: " + printable(url));
        }
        if (!safe(uri)) throw new Failed(what + " " + printable(url) + " is not HTTPS (plain HTTP only to this machine)");
        return uri;
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost()) && a.getPort() == b.getPort();
    }

    /** Text from the network as the terminal may show it: no control characters, at most 300. */
    static String printable(String s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length() && out.length() < 300; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && !(c >= 0x7f && c <= 0x9f)) out.append(c);
        }
        return out.toString();
    }

    /** {@code GET /admin/login} of the gateway at {@code admin}. */
    Settings settings(URI admin) throws IOException, InterruptedException, Failed {
        checked(admin.toString(), "the gateway's address");
        HttpResponse<String> r = send(HttpRequest.newBuilder(admin.resolve("admin/login")).GET());
        JsonNode body = json(r);
        if (r.statusCode() == 404) throw new Failed("the gateway at " + admin + " offers no `keyguard login`: " + body.path("error").path("message").asText("404"));
        if (r.statusCode() != 200) throw new Failed("the gateway at " + admin + " answered " + r.statusCode() + " to GET /admin/login");
        Settings s = new Settings(text(body, "issuer"), text(body, "client_id"), body.path("scope").asText(""), body.path("audience").asText(""));
        checked(s.issuer(), "the identity provider");
        return s;
    }

    Endpoints discover(String issuer) throws IOException, InterruptedException, Failed {
        URI issuerUri = checked(issuer, "the identity provider");
        String url = (issuer.endsWith("/") ? issuer : issuer + "/") + ".well-known/openid-configuration";
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(url)).GET());
        if (r.statusCode() != 200) throw new Failed("the identity provider's discovery at " + url + " answered " + r.statusCode());
        JsonNode doc = json(r);
        if (!doc.hasNonNull("device_authorization_endpoint")) {
            throw new Failed("the identity provider " + issuer + " offers no device authorization (no `device_authorization_endpoint`): enable the device grant for the CLI's client");
        }
        if (!stripSlash(text(doc, "issuer")).equals(stripSlash(issuer))) {
            throw new Failed("the discovery document at " + url + " is for issuer " + printable(doc.path("issuer").asText()) + ", not " + printable(issuer));
        }
        Endpoints at = new Endpoints(text(doc, "device_authorization_endpoint"), text(doc, "token_endpoint"));
        for (String e : List.of(at.deviceAuthorization(), at.token())) {
            if (!sameOrigin(checked(e, "an endpoint of the identity provider"), issuerUri)) {
                throw new Failed("the identity provider's endpoint " + printable(e) + " is not on its own origin (" + issuerUri.getScheme() + "://" + issuerUri.getAuthority() + ")");
            }
        }
        return at;
    }

    private static String stripSlash(String s) {
        return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    }

    /**
     * Whether an access token is for this gateway, read without its signature (the gateway
     * verifies it): issued by {@code issuer} for {@code audience}. An opaque token passes: the
     * gateway refuses what it cannot verify. Keeps the CLI from handing the gateway a token
     * meant for something else (one that would be worth stealing).
     */
    static void forGateway(String token, String issuer, String audience) throws Failed {
        com.nimbusds.jwt.JWTClaimsSet c;
        try {
            c = com.nimbusds.jwt.JWTParser.parse(token).getJWTClaimsSet();
        } catch (java.text.ParseException notAJwt) {
            return;
        }
        if (!stripSlash(String.valueOf(c.getIssuer())).equals(stripSlash(issuer))) {
            throw new Failed("the identity provider issued a token of another issuer (" + printable(String.valueOf(c.getIssuer())) + "); not sent to the gateway");
        }
        if (!audience.isEmpty() && (c.getAudience() == null || !c.getAudience().contains(audience))) {
            throw new Failed("the identity provider issued a token for another audience than the gateway's (" + printable(audience)
                    + "); set the CLI client's scope (--oidc-cli-scope) so that its access token is for the gateway");
        }
    }

    Pending start(Endpoints at, String clientId, String scope) throws IOException, InterruptedException, Failed {
        Map<String, String> form = new LinkedHashMap<>();
        form.put("client_id", clientId);
        if (!scope.isBlank()) form.put("scope", scope);
        HttpResponse<String> r = post(at.deviceAuthorization(), form);
        JsonNode b = json(r);
        if (r.statusCode() != 200) throw new Failed("the identity provider refused the device authorization: " + error(b, r.statusCode()));
        // Google-style providers say verification_url; RFC 8628 says verification_uri.
        String uri = b.hasNonNull("verification_uri") ? text(b, "verification_uri") : text(b, "verification_url");
        // The engineer is sent to this page to type the code: it must be the provider's own.
        if (!sameOrigin(checked(uri, "the sign-in page"), URI.create(at.deviceAuthorization()))) {
            throw new Failed("the sign-in page " + printable(uri) + " is not on the identity provider's origin");
        }
        String complete = b.path("verification_uri_complete").asText(null);
        if (complete != null && !sameOrigin(checked(complete, "the sign-in page"), URI.create(at.deviceAuthorization()))) complete = null;
        long expiresIn = b.path("expires_in").asLong(600);
        return new Pending(text(b, "device_code"), printable(text(b, "user_code")), printable(uri), complete == null ? null : printable(complete),
                clock.instant().plusSeconds(Math.max(1, expiresIn)), Math.max(1, b.path("interval").asLong(5)));
    }

    /** Polls until the engineer has approved (tokens), refused, or let the code expire (Failed). */
    Tokens poll(Endpoints at, String clientId, Pending p, Sleeper sleeper) throws IOException, InterruptedException, Failed {
        long interval = p.intervalSeconds();
        while (true) {
            sleeper.sleep(Duration.ofSeconds(interval));
            if (clock.instant().isAfter(p.expires())) throw new Failed("the code " + p.userCode() + " expired before it was confirmed; run `keyguard login` again");
            HttpResponse<String> r = post(at.token(), Map.of("grant_type", DEVICE_GRANT, "device_code", p.deviceCode(), "client_id", clientId));
            JsonNode b = json(r);
            if (r.statusCode() == 200) return tokens(b);
            switch (b.path("error").asText("")) {
                case "authorization_pending" -> { }
                case "slow_down" -> interval += 5;
                case "access_denied" -> throw new Failed("the sign-in was refused at the identity provider");
                case "expired_token" -> throw new Failed("the code " + p.userCode() + " expired before it was confirmed; run `keyguard login` again");
                default -> throw new Failed("the identity provider's token endpoint answered " + error(b, r.statusCode()));
            }
        }
    }

    /** A new access token from a refresh token. */
    Tokens refresh(String tokenEndpoint, String clientId, String refreshToken) throws IOException, InterruptedException, Failed {
        HttpResponse<String> r = post(tokenEndpoint, Map.of("grant_type", "refresh_token", "refresh_token", refreshToken, "client_id", clientId));
        JsonNode b = json(r);
        if (r.statusCode() != 200) throw new Failed("the sign-in could not be renewed (" + error(b, r.statusCode()) + "); run `keyguard login` again");
        Tokens t = tokens(b);
        return t.refreshToken() == null ? new Tokens(t.accessToken(), refreshToken, t.expires()) : t; // providers that do not rotate keep the old one valid
    }

    private Tokens tokens(JsonNode b) throws Failed {
        return new Tokens(text(b, "access_token"), b.path("refresh_token").asText(null), clock.instant().plusSeconds(b.path("expires_in").asLong(300)));
    }

    private HttpResponse<String> post(String url, Map<String, String> form) throws IOException, InterruptedException {
        String body = form.entrySet().stream().map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
        return send(HttpRequest.newBuilder(URI.create(url)).header("content-type", "application/x-www-form-urlencoded").header("accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    private HttpResponse<String> send(HttpRequest.Builder b) throws IOException, InterruptedException {
        return http.send(b.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode json(HttpResponse<String> r) throws Failed {
        if (r.body().length() > MAX_ANSWER) throw new Failed(r.uri() + " answered more than " + MAX_ANSWER / 1024 + " KiB");
        try {
            JsonNode n = r.body().isBlank() ? JSON.createObjectNode() : JSON.readTree(r.body());
            if (n.isObject()) return n;
        } catch (IOException e) {
            // below
        }
        throw new Failed(r.uri() + " answered " + r.statusCode() + " without a JSON object");
    }

    private static String text(JsonNode b, String field) throws Failed {
        JsonNode v = b.get(field);
        if (v == null || !v.isTextual() || v.asText().isBlank()) throw new Failed("the answer has no `" + field + "`");
        return v.asText();
    }

    private static String error(JsonNode b, int status) {
        String code = b.path("error").asText("");
        String description = b.path("error_description").asText("");
        String out = code.isEmpty() ? "HTTP " + status : code + (description.isEmpty() ? "" : ": " + description);
        return keyguard.audit.UntrustedText.quote(out, 200);
    }
}
