package keyguard.identity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.SignedJWT;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import keyguard.audit.UntrustedText;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeyState;

/**
 * Workload identity on the data plane: a caller presents a JWT from an issuer the operator
 * trusts (a Kubernetes service-account token, an OAuth client-credentials token) instead of
 * a {@code kg-} key. The operator's configuration ({@code serve --workload-identity FILE},
 * never a team's policy file) names each issuer, where its signing keys are, the audiences
 * it must be for, and how a token's subject and claims map to a policy, an owner and
 * labels. The mapped workload is then treated exactly as a key: its decisions, limits,
 * budgets and audit events are a key's, kept per subject.
 *
 * <p>Invariants: nothing on the request path waits for the network. Signing keys are read
 * at start and refreshed in the background; a token signed with a key id the cached set
 * does not hold is refused, and asks for one refresh of that issuer's keys (at most one per
 * {@link #REFRESH_AT_MOST_EVERY}), so a rotated key works once the refresh lands and a
 * made-up one never makes the gateway fetch more; every {@link #REFRESH_EVERY} the keys are
 * read again anyway, so that a key the issuer withdrew stops working. Only RS256/384/512, PS256 and
 * ES256/384 are accepted ({@code none} and HMAC never: an HMAC keyed with a public key is
 * the classic forgery); {@code exp} is required; tokens are at most {@link #MAX_TOKEN}
 * characters. A verified token is remembered until it expires (at most
 * {@link #MAX_REMEMBERED}), so a workload reusing its token pays for the signature once.
 * The claims are checked before the signature, so refusing an expired or foreign token
 * costs no signature check; at most {@link #MAX_VERIFYING} signatures are checked at once,
 * and more are answered {@link Busy} (503, retry) rather than queued behind a flood.
 * Every refusal is a reason safe to show, with caller strings quoted and bounded.
 */
public final class WorkloadIdentity {
    public static final int MAX_TOKEN = 8192;
    public static final Duration REFRESH_AT_MOST_EVERY = Duration.ofSeconds(30);
    public static final int MAX_REMEMBERED = 10_000;
    /** Clock skew allowed on {@code exp} and {@code nbf}. */
    static final long SKEW_SECONDS = 30;
    private static final Set<JWSAlgorithm> ALGORITHMS = Set.of(JWSAlgorithm.RS256, JWSAlgorithm.RS384, JWSAlgorithm.RS512,
            JWSAlgorithm.PS256, JWSAlgorithm.ES256, JWSAlgorithm.ES384);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final System.Logger LOG = System.getLogger("keyguard.identity");

    /** How a subject maps to a policy: a glob on {@code sub} and/or exact claim values; the first rule that matches wins. */
    record Rule(Pattern subject, Map<String, String> claims, String policy, String owner, Map<String, String> labels) {
        boolean matches(JWTClaimsSet c) {
            if (subject != null && !subject.matcher(c.getSubject()).matches()) return false;
            for (Map.Entry<String, String> e : claims.entrySet()) {
                Object v = c.getClaim(e.getKey());
                if (v == null || !e.getValue().equals(String.valueOf(v))) return false;
            }
            return true;
        }
    }

    /** One trusted issuer and its signing keys as last read. */
    static final class Issuer {
        final String name;
        final String issuer;
        final URI jwksUri;
        final Path jwksFile;
        final Set<String> audiences;
        final List<Rule> rules;
        final AtomicReference<JWKSet> keys = new AtomicReference<>(new JWKSet());
        final Map<String, JWSVerifier> verifiers = new ConcurrentHashMap<>();
        volatile long lastRefreshNanos = Long.MIN_VALUE / 2;
        volatile boolean refreshing;

        Issuer(String name, String issuer, URI jwksUri, Path jwksFile, Set<String> audiences, List<Rule> rules) {
            this.name = name;
            this.issuer = issuer;
            this.jwksUri = jwksUri;
            this.jwksFile = jwksFile;
            this.audiences = audiences;
            this.rules = rules;
        }
    }

    /** What a token is: a workload, as a key record, or the reason it is refused. */
    public sealed interface Result permits Workload, Refused, Busy {}

    public record Workload(KeyRecord record, Instant expires) implements Result {}

    public record Refused(String reason) implements Result {}

    /** Too many signatures are being checked at once: retry shortly (a flood of fresh tokens must not take every worker). */
    public record Busy() implements Result {}

    /** Signature checks at once, at most; more are answered {@link Busy} at once rather than queued. */
    public static final int MAX_VERIFYING = Math.max(2, Runtime.getRuntime().availableProcessors());
    final java.util.concurrent.Semaphore verifying = new java.util.concurrent.Semaphore(MAX_VERIFYING);

    private final Map<String, Issuer> byIssuer;
    private final Clock clock;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Map<String, Workload> remembered = new ConcurrentHashMap<>();
    /** How often every issuer's keys are read again anyway, so that a key the issuer withdrew stops working. */
    public static final Duration REFRESH_EVERY = Duration.ofMinutes(10);
    private final java.util.concurrent.ScheduledExecutorService refresher = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "keyguard-jwks-refresh");
        t.setDaemon(true);
        return t;
    });

    private WorkloadIdentity(Map<String, Issuer> byIssuer, Clock clock) {
        this.byIssuer = byIssuer;
        this.clock = clock;
    }

    /**
     * Reads the operator's configuration and each issuer's signing keys (an issuer whose
     * keys cannot be read at start is retried in the background; its tokens are refused
     * until then). IllegalArgumentException says what is wrong with the file.
     */
    public static WorkloadIdentity load(Path file, Clock clock) throws IOException {
        JsonNode root = JSON.readTree(Files.readString(file));
        Map<String, Issuer> byIssuer = new LinkedHashMap<>();
        for (JsonNode i : root.path("issuers")) {
            String name = required(i, "name");
            String iss = required(i, "issuer");
            URI uri = i.hasNonNull("jwks_uri") ? URI.create(i.get("jwks_uri").asText()) : null;
            Path jwksFile = i.hasNonNull("jwks_file") ? file.resolveSibling(i.get("jwks_file").asText()) : null;
            if ((uri == null) == (jwksFile == null)) throw new IllegalArgumentException("issuer `" + name + "`: give one of `jwks_uri` and `jwks_file`");
            Set<String> audiences = new java.util.HashSet<>();
            i.path("audiences").forEach(a -> audiences.add(a.asText()));
            if (audiences.isEmpty()) throw new IllegalArgumentException("issuer `" + name + "`: `audiences` is required (tokens minted for another service must not work here)");
            List<Rule> rules = new ArrayList<>();
            for (JsonNode m : i.path("map")) {
                Pattern subject = m.hasNonNull("subject") ? glob(m.get("subject").asText()) : null;
                Map<String, String> claims = new LinkedHashMap<>();
                m.path("claims").properties().forEach(e -> claims.put(e.getKey(), e.getValue().asText()));
                if (subject == null && claims.isEmpty()) throw new IllegalArgumentException("issuer `" + name + "`: a mapping needs `subject` or `claims`");
                Map<String, String> labels = new LinkedHashMap<>();
                m.path("labels").properties().forEach(e -> labels.put(e.getKey(), e.getValue().asText()));
                rules.add(new Rule(subject, Map.copyOf(claims), required(m, "policy"), m.path("owner").asText(""), Map.copyOf(labels)));
            }
            if (rules.isEmpty()) throw new IllegalArgumentException("issuer `" + name + "`: `map` is empty: no token of it could be used");
            if (byIssuer.put(iss, new Issuer(name, iss, uri, jwksFile, Set.copyOf(audiences), List.copyOf(rules))) != null) {
                throw new IllegalArgumentException("issuer " + iss + " is listed twice");
            }
        }
        if (byIssuer.isEmpty()) throw new IllegalArgumentException(file + " lists no `issuers`");
        WorkloadIdentity w = new WorkloadIdentity(Map.copyOf(byIssuer), clock);
        for (Issuer i : byIssuer.values()) {
            try {
                w.refresh(i);
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "workload issuer " + i.name + ": its signing keys could not be read (" + e.getMessage()
                        + "); its tokens are refused until a refresh succeeds");
            }
            w.refresher.scheduleWithFixedDelay(() -> {
                try {
                    w.refresh(i);
                } catch (Exception e) {
                    LOG.log(System.Logger.Level.WARNING, "workload issuer " + i.name + ": its signing keys could not be read again: " + e.getMessage());
                }
            }, REFRESH_EVERY.toMillis(), REFRESH_EVERY.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        }
        return w;
    }

    /** The policies the mappings name (checked against the serving revision by the caller). */
    public Set<String> policies() {
        Set<String> out = new java.util.TreeSet<>();
        byIssuer.values().forEach(i -> i.rules.forEach(r -> out.add(r.policy())));
        return out;
    }

    /** Whether a presented credential looks like a JWT (three parts) rather than a key. */
    public static boolean looksLikeJwt(String presented) {
        int dots = 0;
        for (int i = 0; i < presented.length() && dots < 3; i++) if (presented.charAt(i) == '.') dots++;
        return dots == 2 && !presented.startsWith("kg-");
    }

    /**
     * Whether {@link #verify} would answer {@code token} from memory (a token verified before
     * and not expired): then it costs a map lookup; else a signature check (tens to hundreds
     * of microseconds), which the request path runs off its IO thread.
     */
    public boolean remembers(String token) {
        Workload known = token.length() > MAX_TOKEN ? null : remembered.get(token);
        return known != null && clock.instant().isBefore(known.expires().plusSeconds(SKEW_SECONDS));
    }

    /** The workload a token stands for, or why not. Never blocks on the network. */
    public Result verify(String token) {
        if (token.length() > MAX_TOKEN) return new Refused("the token is longer than " + MAX_TOKEN + " characters");
        Instant now = clock.instant();
        Workload known = remembered.get(token);
        if (known != null) {
            if (now.isBefore(known.expires().plusSeconds(SKEW_SECONDS))) return known;
            remembered.remove(token, known);
        }
        JWT jwt;
        try {
            jwt = JWTParser.parse(token);
        } catch (java.text.ParseException e) {
            return new Refused("the token is not a JWT");
        }
        if (!(jwt instanceof SignedJWT signed)) return new Refused("the token is not signed (alg `none` is never accepted)");
        JWSHeader header = signed.getHeader();
        if (!ALGORITHMS.contains(header.getAlgorithm())) {
            return new Refused("algorithm " + UntrustedText.quote(header.getAlgorithm().getName(), 16) + " is not accepted (RS256/384/512, PS256, ES256/384 only)");
        }
        JWTClaimsSet claims;
        try {
            claims = signed.getJWTClaimsSet();
        } catch (java.text.ParseException e) {
            return new Refused("the token's claims are not valid JSON");
        }
        String iss = claims.getIssuer();
        Issuer issuer = iss == null ? null : byIssuer.get(iss);
        if (issuer == null) return new Refused("issuer " + UntrustedText.quote(String.valueOf(iss), 128) + " is not trusted here");
        JWSVerifier verifier = verifier(issuer, header);
        if (verifier == null) {
            askForRefresh(issuer);
            return new Refused("the token's signing key " + UntrustedText.quote(String.valueOf(header.getKeyID()), 64) + " is not among issuer "
                    + issuer.name + "'s keys (they are being read again; a rotated key works once they are)");
        }
        if (claims.getExpirationTime() == null) return new Refused("the token has no `exp`: workload tokens must expire");
        Instant exp = claims.getExpirationTime().toInstant();
        if (!now.isBefore(exp.plusSeconds(SKEW_SECONDS))) return new Refused("the token expired at " + exp);
        if (claims.getNotBeforeTime() != null && now.plusSeconds(SKEW_SECONDS).isBefore(claims.getNotBeforeTime().toInstant())) {
            return new Refused("the token is not valid before " + claims.getNotBeforeTime().toInstant());
        }
        List<String> aud = claims.getAudience();
        if (aud == null || aud.stream().noneMatch(issuer.audiences::contains)) {
            return new Refused("the token is not for this gateway (audience " + UntrustedText.quote(String.valueOf(aud), 128) + ", expected one of "
                    + issuer.audiences + ")");
        }
        // Last, the expensive part (the claims above cost nothing to refuse): a bounded number at once.
        if (!verifying.tryAcquire()) return new Busy();
        try {
            if (!signed.verify(verifier)) return new Refused("the token's signature does not verify against issuer " + issuer.name + "'s keys");
        } catch (JOSEException e) {
            return new Refused("the token's signature cannot be checked with issuer " + issuer.name + "'s keys");
        } finally {
            verifying.release();
        }
        String sub = claims.getSubject();
        if (sub == null || sub.isEmpty() || sub.length() > 256 || UntrustedText.hasControl(sub)) {
            return new Refused("the token's `sub` must be 1 to 256 characters without control characters");
        }
        Rule rule = null;
        for (Rule r : issuer.rules) {
            if (r.matches(claims)) {
                rule = r;
                break;
            }
        }
        if (rule == null) return new Refused("subject " + UntrustedText.quote(sub, 128) + " of issuer " + issuer.name + " is mapped to no policy here");
        KeyRecord record = new KeyRecord(workloadId(iss, sub), sub, rule.owner(), rule.policy(), rule.labels(), Instant.EPOCH, exp, KeyState.ACTIVE, "", null, true);
        Workload w = new Workload(record, exp);
        if (remembered.size() >= MAX_REMEMBERED) remembered.clear(); // rare: more live tokens than that; start over
        remembered.put(token, w);
        return w;
    }

    /**
     * The id limits, budgets and audit events use for a workload: {@code wl:} and 12
     * characters of the SHA-256 of issuer and subject, so that a subject keeps its counters
     * across tokens, and never meets a key's id (those have no {@code :}).
     */
    static String workloadId(String iss, String sub) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest((iss + "\n" + sub).getBytes(StandardCharsets.UTF_8));
            return "wl:" + java.util.HexFormat.of().formatHex(h, 0, 6);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static JWSVerifier verifier(Issuer issuer, JWSHeader header) {
        String kid = header.getKeyID();
        JWKSet set = issuer.keys.get();
        JWK key = null;
        if (kid != null) {
            key = set.getKeyByKeyId(kid);
        } else if (set.getKeys().size() == 1) {
            key = set.getKeys().get(0); // an issuer with one key may leave kid out
        }
        if (key == null) return null;
        String cacheKey = key.getKeyID() + "/" + header.getAlgorithm().getName();
        JWSVerifier v = issuer.verifiers.get(cacheKey);
        if (v != null) return v;
        try {
            if (key instanceof RSAKey rsa && JWSAlgorithm.Family.RSA.contains(header.getAlgorithm())) v = new RSASSAVerifier(rsa);
            else if (key instanceof ECKey ec && JWSAlgorithm.Family.EC.contains(header.getAlgorithm())) v = new ECDSAVerifier(ec);
            else return null; // a key of another type than the algorithm: as if unknown
        } catch (JOSEException e) {
            return null;
        }
        issuer.verifiers.put(cacheKey, v);
        return v;
    }

    /** Asks for one background refresh of the issuer's keys, unless one ran within {@link #REFRESH_AT_MOST_EVERY}. */
    private void askForRefresh(Issuer issuer) {
        long now = System.nanoTime();
        if (issuer.refreshing || now - issuer.lastRefreshNanos < REFRESH_AT_MOST_EVERY.toNanos()) return;
        synchronized (issuer) {
            if (issuer.refreshing || now - issuer.lastRefreshNanos < REFRESH_AT_MOST_EVERY.toNanos()) return;
            issuer.refreshing = true;
            issuer.lastRefreshNanos = now; // asked for by a token: the next such ask waits its turn, whatever the outcome
        }
        refresher.execute(() -> {
            try {
                refresh(issuer);
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "workload issuer " + issuer.name + ": its signing keys could not be read again: " + e.getMessage());
            } finally {
                issuer.refreshing = false;
            }
        });
    }

    /** Reads the issuer's keys (at most 1 MiB) and replaces the cached set. */
    void refresh(Issuer issuer) throws Exception {
        String text;
        if (issuer.jwksFile != null) {
            text = Files.readString(issuer.jwksFile);
        } else {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(issuer.jwksUri).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) throw new IOException(issuer.jwksUri + " answered " + r.statusCode());
            text = r.body();
        }
        if (text.length() > 1 << 20) throw new IOException("the key set is larger than 1 MiB");
        JWKSet set = JWKSet.parse(text);
        List<JWK> publicOnly = new ArrayList<>();
        for (JWK k : set.getKeys()) if (!k.isPrivate()) publicOnly.add(k); // a key set with private keys in it is a mistake, not a trust root
        issuer.keys.set(new JWKSet(publicOnly));
        issuer.verifiers.clear();
        remembered.clear(); // a key taken out of the set stops the tokens it signed
    }

    private static Pattern glob(String g) {
        StringBuilder re = new StringBuilder();
        for (char c : g.toCharArray()) re.append(c == '*' ? ".*" : Pattern.quote(String.valueOf(c)));
        return Pattern.compile(re.toString());
    }

    private static String required(JsonNode o, String field) {
        String v = o.path(field).asText("");
        if (v.isBlank()) throw new IllegalArgumentException("`" + field + "` is required in " + o);
        return v;
    }

    public void close() {
        refresher.shutdownNow();
    }
}
