package keyguard.identity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Workload tokens on the data plane, against a real gateway and a real JWKS served over
 * HTTP on loopback: a valid token is a key of its mapped policy, limited per subject and
 * audited; every way a token can be wrong is a 401 that says which; a rotated signing key
 * works once the keys are read again, and a made-up key id never makes the gateway fetch more.
 */
class WorkloadIdentityTest {
    static final String ISSUER = "https://kubernetes.default.svc.cluster.local";
    GatewayHarness h;
    HttpServer jwksServer;
    final AtomicReference<String> jwks = new AtomicReference<>();
    final AtomicInteger fetches = new AtomicInteger();
    RSAKey rsa;
    ECKey ec;

    Path config;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        rsa = new RSAKeyGenerator(2048).keyID("rsa-1").generate();
        ec = new ECKeyGenerator(Curve.P_256).keyID("ec-1").generate();
        jwks.set(new JWKSet(List.of(rsa.toPublicJWK(), ec.toPublicJWK())).toString());
        jwksServer = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        jwksServer.createContext("/openid/v1/jwks", ex -> {
            fetches.incrementAndGet();
            byte[] b = jwks.get().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        jwksServer.start();
        config = tmp.resolve("workloads.json");
        Files.writeString(config, """
                {"issuers": [{
                  "name": "k8s-prod",
                  "issuer": "%s",
                  "jwks_uri": "http://127.0.0.1:%d/openid/v1/jwks",
                  "audiences": ["keyguard"],
                  "map": [
                    {"subject": "system:serviceaccount:search:*", "policy": "workloads", "owner": "group:search-team", "labels": {"env": "prod"}},
                    {"claims": {"azp": "billing-batch"}, "policy": "demo"}
                  ]
                }]}
                """.formatted(ISSUER, jwksServer.getAddress().getPort()));
        h = new GatewayHarness(tmp, false);
        Files.writeString(h.policies.resolve("workloads.kgp"), """
                policy workloads {
                  models allow ["sim-small"]
                  limit requests 2 per 1m by key
                }
                """);
        h.configure = c -> c.withWorkloadIdentity(config);
        h.start();
    }

    @AfterEach
    void stop() {
        if (h != null) h.close();
        jwksServer.stop(0);
    }

    JWTClaimsSet.Builder claims(String subject) {
        return new JWTClaimsSet.Builder().issuer(ISSUER).subject(subject).audience("keyguard")
                .issueTime(new Date()).expirationTime(Date.from(Instant.now().plusSeconds(600)));
    }

    String rs256(JWTClaimsSet c, String kid) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(kid).build(), c);
        jwt.sign(new RSASSASigner(rsa));
        return jwt.serialize();
    }

    String es256(JWTClaimsSet c) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(ec.getKeyID()).build(), c);
        jwt.sign(new ECDSASigner(ec));
        return jwt.serialize();
    }

    HttpResponse<String> chat(String token) throws Exception {
        return h.post("/v1/chat/completions", token, "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    }

    /** A signature check takes tens to hundreds of microseconds: a worker's job, not the IO thread's; a remembered token is a lookup. */
    @Test
    void aTokenSeenForTheFirstTimeIsVerifiedOnAWorkerAndARememberedOneOnTheIoThread() throws Exception {
        WorkloadIdentity workloads = WorkloadIdentity.load(config, java.time.Clock.systemUTC());
        keyguard.proxy.KeyAuth auth = new keyguard.proxy.KeyAuth(null, null, java.time.Clock.systemUTC(), workloads);
        String token = es256(claims("system:serviceaccount:search:indexer").build());
        io.undertow.server.HttpServerExchange exchange = new io.undertow.server.HttpServerExchange(null);
        exchange.getRequestHeaders().put(io.undertow.util.Headers.AUTHORIZATION, "Bearer " + token);
        assertTrue(auth.verifiesSignature(exchange), "never seen: its signature is checked off the IO thread");
        assertTrue(workloads.verify(token) instanceof WorkloadIdentity.Workload);
        assertFalse(auth.verifiesSignature(exchange), "verified before: answered from memory");
        exchange.getRequestHeaders().put(io.undertow.util.Headers.AUTHORIZATION, "Bearer kg-abcdefghijkl-secret");
        assertFalse(auth.verifiesSignature(exchange), "a key is an HMAC: no signature");
        // A flood of fresh tokens takes at most MAX_VERIFYING signature checks at once; the rest are told to retry.
        String fresh = es256(claims("system:serviceaccount:search:fresh").build());
        int permits = workloads.verifying.drainPermits();
        assertTrue(workloads.verify(fresh) instanceof WorkloadIdentity.Busy);
        assertTrue(workloads.verify(rs256(claims("x").expirationTime(Date.from(Instant.now().minusSeconds(600))).build(), "rsa-1"))
                instanceof WorkloadIdentity.Refused, "an expired token is refused without a signature check");
        workloads.verifying.release(permits);
        assertTrue(workloads.verify(fresh) instanceof WorkloadIdentity.Workload);
        workloads.close();
        assertEquals(200, chat(es256(claims("system:serviceaccount:search:ranker").build())).statusCode(), "and through the gateway, on a worker");
    }

    @Test
    void aWorkloadTokenIsAKeyOfItsMappedPolicyLimitedPerSubjectAndAudited() throws Exception {
        String indexer = rs256(claims("system:serviceaccount:search:indexer").build(), "rsa-1");
        String ranker = es256(claims("system:serviceaccount:search:ranker").build());
        assertEquals(200, chat(indexer).statusCode(), chat(indexer).body());
        assertEquals(429, chat(indexer).statusCode(), "`limit requests 2 per 1m by key` holds per subject");
        String again = rs256(claims("system:serviceaccount:search:indexer").jwtID("another").build(), "rsa-1");
        assertEquals(429, chat(again).statusCode(), "a new token of the same subject shares its counters");
        assertEquals(200, chat(ranker).statusCode(), "another subject has its own");
        String billing = rs256(claims("billing").claim("azp", "billing-batch").build(), "rsa-1");
        assertEquals(200, chat(billing).statusCode(), "mapped by a claim, to another policy");

        String audit = h.admin().get("admin/audit?type=decision&policy=workloads").raw();
        JsonNode first = keyguard.gateway.FakeUpstream.JSON.readTree(audit.lines().findFirst().orElseThrow());
        assertTrue(first.path("key_id").asText().startsWith("wl:"), audit);
        assertEquals("system:serviceaccount:search:indexer", first.path("key_name").asText());
        assertEquals("group:search-team", first.path("owner").asText());
        assertTrue(!audit.contains("eyJ"), "no token in the audit log");
    }

    @Test
    void everyWayATokenCanBeWrongIsA401ThatSaysWhich() throws Exception {
        String sub = "system:serviceaccount:search:indexer";
        assertRefused(rs256(claims(sub).expirationTime(Date.from(Instant.now().minusSeconds(120))).build(), "rsa-1"), "expired at");
        assertRefused(rs256(claims(sub).audience("another-service").build(), "rsa-1"), "is not for this gateway");
        assertRefused(rs256(claims(sub).issuer("https://evil.example").build(), "rsa-1"), "is not trusted here");
        assertRefused(new PlainJWT(claims(sub).build()).serialize(), "not signed (alg `none`");
        SignedJWT hmac = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("rsa-1").build(), claims(sub).build());
        hmac.sign(new MACSigner(rsa.toPublicJWK().toRSAPublicKey().getEncoded()));
        assertRefused(hmac.serialize(), "algorithm HS256 is not accepted");
        assertRefused(rs256(claims(sub).build(), "nobody-knows-me"), "is not among issuer k8s-prod's keys");
        assertRefused(rs256(claims(sub).claim("padding", "x".repeat(9000)).build(), "rsa-1"), "longer than 8192");
        assertRefused(rs256(new JWTClaimsSet.Builder().issuer(ISSUER).subject(sub).audience("keyguard").build(), "rsa-1"), "has no `exp`");
        assertRefused(rs256(claims("system:serviceaccount:payments:api").build(), "rsa-1"), "is mapped to no policy here");
        RSAKey other = new RSAKeyGenerator(2048).keyID("rsa-1").generate();
        SignedJWT forged = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("rsa-1").build(), claims(sub).build());
        forged.sign(new RSASSASigner(other));
        assertRefused(forged.serialize(), "signature does not verify");
        assertEquals(200, chat(rs256(claims(sub).build(), "rsa-1")).statusCode(), "and a right one still works");
    }

    void assertRefused(String token, String why) throws Exception {
        HttpResponse<String> r = chat(token);
        assertEquals(401, r.statusCode(), r.body());
        assertTrue(r.body().contains(why), "expected `" + why + "` in " + r.body());
    }

    @Test
    void aRotatedSigningKeyWorksOnceTheKeysAreReadAgainAndAMadeUpOneNeverFetchesMore() throws Exception {
        int atStart = fetches.get();
        RSAKey next = new RSAKeyGenerator(2048).keyID("rsa-2").generate();
        jwks.set(new JWKSet(List.of(rsa.toPublicJWK(), next.toPublicJWK())).toString()); // the issuer rotates
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("rsa-2").build(), claims("system:serviceaccount:search:new").build());
        jwt.sign(new RSASSASigner(next));
        String token = jwt.serialize();
        assertEquals(401, chat(token).statusCode(), "unknown until the keys are read again (never read on the request path)");
        long deadline = System.nanoTime() + 10_000_000_000L;
        int status = 401;
        while (status != 200 && System.nanoTime() < deadline) {
            Thread.sleep(50);
            status = chat(token).statusCode();
        }
        assertEquals(200, status, "the rotated key works once the keys were read again");
        assertEquals(atStart + 1, fetches.get(), "one refresh");
        for (int i = 0; i < 5; i++) assertEquals(401, chat(rs256(claims("system:serviceaccount:search:x").build(), "made-up-" + i)).statusCode());
        Thread.sleep(200);
        assertEquals(atStart + 1, fetches.get(), "made-up key ids fetch nothing more within 30 s");
    }
}
