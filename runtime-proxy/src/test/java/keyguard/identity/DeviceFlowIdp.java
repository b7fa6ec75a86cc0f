package keyguard.identity;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Date;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An identity provider with the OAuth 2.0 device authorization grant (RFC 8628), as Okta,
 * Entra ID and Keycloak answer it (mock-oauth2-server has no device grant): discovery with a
 * {@code device_authorization_endpoint}, a JWKS, device codes with a user code and an
 * interval, {@code authorization_pending} until the person confirms, then RS256 access
 * tokens for an audience and a refresh token; {@code refresh_token} grants. The person's
 * step (opening the page, signing in, entering the code) is {@link #confirm}.
 */
final class DeviceFlowIdp implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom RANDOM = new SecureRandom();

    final HttpServer server;
    final RSAKey key;
    final String clientId;
    final String audience;
    /** The lifetime of access tokens, seconds. */
    volatile long accessSeconds = 3600;
    final AtomicInteger refreshes = new AtomicInteger();
    final AtomicInteger polls = new AtomicInteger();

    private record Grant(String userCode, String scope, long expiresMillis, String[] person) {}

    private final Map<String, Grant> byDevice = new ConcurrentHashMap<>();
    /** Refresh token → the person it was issued to. */
    private final Map<String, String[]> refreshTokens = new ConcurrentHashMap<>();

    DeviceFlowIdp(String clientId, String audience) throws Exception {
        this.clientId = clientId;
        this.audience = audience;
        key = new RSAKeyGenerator(2048).keyID("device-idp-1").generate();
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/.well-known/openid-configuration", x -> send(x, 200, JSON.createObjectNode().put("issuer", issuer())
                .put("device_authorization_endpoint", issuer() + "/device/code").put("token_endpoint", issuer() + "/token")
                .put("jwks_uri", issuer() + "/jwks").put("authorization_endpoint", issuer() + "/authorize")));
        server.createContext("/jwks", x -> send(x, 200, (ObjectNode) JSON.readTree(new JWKSet(key.toPublicJWK()).toString())));
        server.createContext("/device/code", this::deviceCode);
        server.createContext("/token", this::token);
        server.start();
    }

    String issuer() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** The person confirms {@code userCode} in their browser, signed in as {@code userName} (a member of {@code groups}). */
    boolean confirm(String userCode, String userName, String groups) {
        for (Map.Entry<String, Grant> e : byDevice.entrySet()) {
            Grant g = e.getValue();
            if (g.userCode().equals(userCode) && g.person()[0] == null) {
                g.person()[0] = userName;
                g.person()[1] = groups;
                return true;
            }
        }
        return false;
    }

    private void deviceCode(HttpExchange x) throws IOException {
        Map<String, String> form = form(x);
        if (!clientId.equals(form.get("client_id"))) {
            send(x, 401, JSON.createObjectNode().put("error", "invalid_client"));
            return;
        }
        String device = HexFormat.of().formatHex(RANDOM.generateSeed(16));
        String user = "WDJB-MJHT".substring(0, 5) + HexFormat.of().formatHex(RANDOM.generateSeed(2)).toUpperCase();
        byDevice.put(device, new Grant(user, form.getOrDefault("scope", ""), System.currentTimeMillis() + 600_000, new String[2]));
        send(x, 200, JSON.createObjectNode().put("device_code", device).put("user_code", user).put("verification_uri", issuer() + "/activate")
                .put("verification_uri_complete", issuer() + "/activate?user_code=" + user).put("expires_in", 600).put("interval", 1));
    }

    private void token(HttpExchange x) throws IOException {
        Map<String, String> form = form(x);
        if (!clientId.equals(form.get("client_id"))) {
            send(x, 401, JSON.createObjectNode().put("error", "invalid_client"));
            return;
        }
        switch (form.getOrDefault("grant_type", "")) {
            case "urn:ietf:params:oauth:grant-type:device_code" -> {
                polls.incrementAndGet();
                Grant g = byDevice.get(form.getOrDefault("device_code", ""));
                if (g == null) send(x, 400, JSON.createObjectNode().put("error", "invalid_grant"));
                else if (System.currentTimeMillis() > g.expiresMillis()) send(x, 400, JSON.createObjectNode().put("error", "expired_token"));
                else if (g.person()[0] == null) send(x, 400, JSON.createObjectNode().put("error", "authorization_pending"));
                else {
                    byDevice.remove(form.get("device_code"));
                    issue(x, g.person(), g.scope().contains("offline_access"));
                }
            }
            case "refresh_token" -> {
                String[] person = refreshTokens.remove(form.getOrDefault("refresh_token", ""));
                if (person == null) {
                    send(x, 400, JSON.createObjectNode().put("error", "invalid_grant").put("error_description", "refresh token unknown or used"));
                } else {
                    refreshes.incrementAndGet();
                    issue(x, person, true);
                }
            }
            default -> send(x, 400, JSON.createObjectNode().put("error", "unsupported_grant_type"));
        }
    }

    private void issue(HttpExchange x, String[] person, boolean refresh) throws IOException {
        try {
            long now = System.currentTimeMillis();
            JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer(issuer()).audience(audience).subject("00u" + Math.abs(person[0].hashCode()))
                    .claim("preferred_username", person[0]).claim("groups", person[1] == null || person[1].isEmpty() ? List.of() : List.of(person[1].split(",")))
                    .issueTime(new Date(now)).expirationTime(new Date(now + accessSeconds * 1000)).build();
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).type(JOSEObjectType.JWT).build(), claims);
            jwt.sign(new RSASSASigner(key));
            ObjectNode out = JSON.createObjectNode().put("access_token", jwt.serialize()).put("token_type", "Bearer").put("expires_in", accessSeconds)
                    .put("scope", "openid profile email" + (refresh ? " offline_access" : ""));
            if (refresh) {
                String r = HexFormat.of().formatHex(RANDOM.generateSeed(24));
                refreshTokens.put(r, person);
                out.put("refresh_token", r);
            }
            send(x, 200, out);
        } catch (Exception e) {
            send(x, 500, JSON.createObjectNode().put("error", "server_error"));
        }
    }

    private static Map<String, String> form(HttpExchange x) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        String body = new String(x.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        for (String pair : body.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0) out.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8), URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return out;
    }

    private static void send(HttpExchange x, int status, ObjectNode body) throws IOException {
        byte[] b = body.toString().getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", "application/json");
        x.getResponseHeaders().set("Cache-Control", "no-store");
        x.sendResponseHeaders(status, b.length);
        x.getResponseBody().write(b);
        x.close();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
