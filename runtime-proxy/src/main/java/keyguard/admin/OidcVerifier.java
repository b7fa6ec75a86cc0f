package keyguard.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Validates admin bearer JWTs with nimbus-jose-jwt: signature against the identity
 * provider's JWKS (fetched on first use, cached and refreshed when an unknown key id
 * appears), issuer, audience, expiry and not-before; then maps the roles claim to a
 * {@link AdminPrincipal}. Failures are exceptions whose message is safe to show.
 */
public final class OidcVerifier {
    private static final Set<JWSAlgorithm> ALGORITHMS = Set.of(JWSAlgorithm.RS256, JWSAlgorithm.RS384, JWSAlgorithm.RS512,
            JWSAlgorithm.ES256, JWSAlgorithm.ES384, JWSAlgorithm.PS256);

    private final OidcConfig config;
    private volatile DefaultJWTProcessor<SecurityContext> processor;

    public OidcVerifier(OidcConfig config) {
        this.config = config;
    }

    public static final class Rejected extends Exception {
        public final int status;

        Rejected(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    /** The claims that name a person, in the order tried: Keycloak's and Okta's, Entra ID's, then the e-mail (when verified), then the subject. */
    static final List<String> USERNAME_CLAIMS = List.of("preferred_username", "upn", "email", "sub");
    /** The most groups read from a token. */
    static final int MAX_GROUPS = 1000;

    /**
     * The principal a token stands for. A token whose groups give no role is refused (403)
     * unless {@code member} admits its principal (self-service members).
     */
    public AdminPrincipal verify(String token, java.util.function.Predicate<AdminPrincipal> member) throws Rejected {
        JWTClaimsSet claims;
        try {
            claims = processor().process(token, null);
        } catch (Rejected r) {
            throw r;
        } catch (Exception e) {
            String m = String.valueOf(e.getMessage());
            String why = m.contains("aud") ? "it is not for audience `" + config.audience() + "`"
                    : m.contains("iss") ? "it was not issued by " + config.issuer()
                    : m.startsWith("Expired") ? "it has expired"
                    : m.contains("Signed JWT rejected") || m.contains("key") ? "its signature does not verify against the identity provider's keys"
                    : m;
            throw new Rejected(401, "the bearer token is not valid: " + why + " (" + m + ")");
        }
        Set<String> groups = new HashSet<>();
        Object raw = claims.getClaim(config.rolesClaim());
        if (raw instanceof List<?> list) list.stream().limit(MAX_GROUPS).map(String::valueOf).filter(g -> g.length() <= 256).forEach(groups::add);
        else if (raw instanceof String s && s.length() <= 256) groups.add(s);
        boolean admin = groups.stream().anyMatch(config.adminGroups()::contains);
        boolean auditor = groups.stream().anyMatch(config.auditorGroups()::contains);
        Set<String> policies = new HashSet<>();
        for (Map.Entry<String, Set<String>> e : config.teamAdminGroups().entrySet()) {
            if (groups.contains(e.getKey())) policies.addAll(e.getValue());
        }
        String userName = null;
        for (String c : config.usernameClaim() == null ? USERNAME_CLAIMS : List.of(config.usernameClaim())) {
            // By default an e-mail names a person only when the provider says it verified it.
            if (c.equals("email") && config.usernameClaim() == null && !Boolean.TRUE.equals(claims.getClaim("email_verified"))) continue;
            if (claims.getClaim(c) instanceof String v && !v.isBlank() && v.length() <= 256 && !keyguard.audit.UntrustedText.hasControl(v)) {
                userName = v;
                break;
            }
        }
        AdminPrincipal p = new AdminPrincipal(claims.getSubject(), admin, auditor, Set.copyOf(policies),
                claims.getExpirationTime() == null ? null : claims.getExpirationTime().toInstant(), userName, Set.copyOf(groups));
        if (!p.hasRole() && !member.test(p)) {
            throw new Rejected(403, "`" + claims.getSubject() + "` has no Keyguard role (claim `" + config.rolesClaim() + "` names none of its groups)");
        }
        return p;
    }

    /** After a failed discovery, no new attempt before this (System.nanoTime); the wait doubles up to a minute. */
    private volatile long retryAt;
    /** Whether a discovery failed and {@link #retryAt} means something (nanoTime may be negative). */
    private volatile boolean backingOff;
    private long backoffNanos = MIN_BACKOFF;
    private static final long MIN_BACKOFF = 1_000_000_000L;
    private static final long MAX_BACKOFF = 60_000_000_000L;

    private DefaultJWTProcessor<SecurityContext> processor() throws Rejected {
        DefaultJWTProcessor<SecurityContext> p = processor;
        if (p != null) return p;
        long wait = retryAt - System.nanoTime();
        if (backingOff && wait > 0) throw new Rejected(503, "the identity provider's keys could not be loaded; retrying in " + (wait / 1_000_000_000L + 1) + " s");
        synchronized (this) {
            if (processor != null) return processor;
            wait = retryAt - System.nanoTime();
            if (backingOff && wait > 0) throw new Rejected(503, "the identity provider's keys could not be loaded; retrying in " + (wait / 1_000_000_000L + 1) + " s");
            try {
                String jwks = config.jwksUri() != null ? config.jwksUri() : discoverJwks();
                JWKSource<SecurityContext> keys = JWKSourceBuilder.create(URI.create(jwks).toURL()).retrying(true).build();
                p = new DefaultJWTProcessor<>();
                p.setJWSKeySelector(new JWSVerificationKeySelector<>(ALGORITHMS, keys));
                p.setJWTClaimsSetVerifier(new DefaultJWTClaimsVerifier<>(Set.of(config.audience()),
                        new JWTClaimsSet.Builder().issuer(config.issuer()).build(), Set.of("sub", "exp", "iat"), null));
                processor = p;
                backoffNanos = MIN_BACKOFF;
                backingOff = false;
                return p;
            } catch (Exception e) {
                // Back off: a down identity provider must not be asked again by every admin request.
                retryAt = System.nanoTime() + backoffNanos;
                backingOff = true;
                backoffNanos = Math.min(MAX_BACKOFF, backoffNanos * 2);
                throw new Rejected(503, "the identity provider's keys could not be loaded: " + e.getMessage());
            }
        }
    }

    private String discoverJwks() throws Exception {
        String url = config.issuer().endsWith("/") ? config.issuer() + ".well-known/openid-configuration"
                : config.issuer() + "/.well-known/openid-configuration";
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IllegalStateException("discovery at " + url + " answered " + r.statusCode());
        JsonNode doc = new ObjectMapper().readTree(r.body());
        if (!doc.hasNonNull("jwks_uri")) throw new IllegalStateException("discovery at " + url + " has no jwks_uri");
        return doc.get("jwks_uri").asText();
    }
}
