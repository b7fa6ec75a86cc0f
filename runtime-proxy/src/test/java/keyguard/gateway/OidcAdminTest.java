package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.SignedJWT;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import keyguard.admin.AdminClient;
import keyguard.admin.OidcConfig;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The admin API behind a real OIDC server on loopback: roles from groups, and every way a token can be wrong. */
class OidcAdminTest {
    GatewayHarness h;
    MockOAuth2Server idp;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        idp = new MockOAuth2Server();
        idp.start();
        h = new GatewayHarness(tmp);
        h.oidc = new OidcConfig(idp.issuerUrl("default").toString(), "keyguard", null, "groups", Set.of("kg-admins"),
                Set.of("kg-auditors"), Map.of("team-demo", Set.of("demo")));
        h.restart();
    }

    @AfterEach
    void stop() {
        h.close();
        idp.shutdown();
    }

    String token(String subject, String audience, List<String> groups, long expirySeconds) {
        Map<String, Object> claims = groups == null ? Map.of() : Map.of("groups", groups);
        return idp.issueToken("default", subject, audience, claims, expirySeconds).serialize();
    }

    AdminClient as(String token) {
        return new AdminClient(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/"), token);
    }

    static ObjectNode keyFor(String policy) {
        return FakeUpstream.JSON.createObjectNode().put("policy", policy).put("name", "k-" + policy);
    }

    @Test
    void aTeamAdminManagesTheKeysOfItsPoliciesOnly() throws Exception {
        AdminClient admin = as(token("alice", "keyguard", List.of("kg-admins"), 3600));
        AdminClient team = as(token("bob", "keyguard", List.of("team-demo", "staff"), 3600));
        AdminClient.Reply other = admin.post("admin/keys", keyFor("all"));
        assertEquals(201, other.status(), other.body().toString());
        String otherId = other.body().path("id").asText();

        AdminClient.Reply own = team.post("admin/keys", keyFor("demo"));
        assertEquals(201, own.status(), own.body().toString());
        assertEquals(403, team.post("admin/keys", keyFor("all")).status(), "not its policy");
        assertEquals(403, team.post("admin/keys/" + otherId + "/revoke", FakeUpstream.JSON.createObjectNode()).status());
        assertEquals(403, team.post("admin/keys/" + otherId + "/rotate", FakeUpstream.JSON.createObjectNode()).status());
        assertEquals(403, team.get("admin/keys/" + otherId).status());
        JsonNode listed = team.get("admin/keys").body().path("keys");
        assertEquals(1, listed.size(), "only its own policy's keys: " + listed);
        assertEquals(201, team.post("admin/keys/" + own.body().path("id").asText() + "/rotate", FakeUpstream.JSON.createObjectNode()).status());
        assertEquals(403, team.post("admin/policies/reload", FakeUpstream.JSON.createObjectNode()).status());
        // Reading: its own policies' spend, decisions, usage and sources; nothing of another team's.
        AdminClient.Reply spend = team.get("admin/spend?group_by=policy");
        assertEquals(200, spend.status(), spend.raw());
        assertEquals("[\"demo\"]", spend.body().path("policies").toString());
        for (JsonNode r : spend.body().path("rows")) assertEquals("demo", r.path("policy").asText(), spend.raw());
        AdminClient.Reply teamAudit = team.get("admin/audit");
        assertEquals(200, teamAudit.status());
        assertTrue(!teamAudit.raw().contains("\"type\":\"admin\""), "no admin events, which name other teams' keys: " + teamAudit.raw());
        assertEquals(403, team.get("admin/keys/" + otherId + "/usage").status());
        assertEquals(200, team.get("admin/keys/" + own.body().path("id").asText() + "/usage").status());
        assertEquals(0, team.get("admin/spend?policy=all").body().path("rows").size(), "a filter naming another team's policy finds nothing");
        String otherSecret = h.key("all", "other-team", Map.of());
        assertEquals(200, h.post("/v1/chat/completions", otherSecret, "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode());
        String otherDecision = FakeUpstream.JSON.readTree(admin.get("admin/audit?type=decision&policy=all").raw().strip().lines().reduce((a, b) -> b).orElseThrow())
                .path("decision_id").asText();
        assertEquals(200, admin.get("admin/audit/explain?decision=" + otherDecision).status());
        assertEquals(404, team.get("admin/audit/explain?decision=" + otherDecision).status(), "another team's decision is not there for a team admin");
        assertEquals("", team.get("admin/audit?decision=" + otherDecision).raw().strip());
        assertEquals(403, team.get("admin/policies/all").status());
        assertEquals(200, team.get("admin/policies/demo").status());
        assertEquals(200, admin.get("admin/keys/" + otherId).status());

        String audit = admin.get("admin/audit").raw();
        assertTrue(audit.contains("\"actor\":\"bob\",\"action\":\"keys.create\""), audit);
        assertTrue(audit.contains("\"actor\":\"bob\",\"action\":\"keys.rotate\""), audit);
        assertTrue(!audit.contains("\"secret\""), "never a secret in the audit log");
    }

    @Test
    void anAuditorReadsButChangesNothing() throws Exception {
        as(token("alice", "keyguard", List.of("kg-admins"), 3600)).post("admin/keys", keyFor("demo"));
        AdminClient auditor = as(token("carol", "keyguard", List.of("kg-auditors"), 3600));
        assertEquals(1, auditor.get("admin/keys").body().path("keys").size());
        assertEquals(200, auditor.get("admin/spend").status());
        assertEquals(200, auditor.get("admin/audit").status());
        assertEquals(403, auditor.post("admin/keys", keyFor("demo")).status());
        assertEquals(403, auditor.post("admin/policies/reload", FakeUpstream.JSON.createObjectNode()).status());
    }

    @Test
    void expiredWrongAudienceWrongSignatureAndRolelessTokensAreRefused() throws Exception {
        AdminClient.Reply expired = as(token("alice", "keyguard", List.of("kg-admins"), -3600)).get("admin/keys");
        assertEquals(401, expired.status());
        assertTrue(expired.raw().contains("Expired"), expired.raw());

        AdminClient.Reply audience = as(token("alice", "someone-else", List.of("kg-admins"), 3600)).get("admin/keys");
        assertEquals(401, audience.status());
        assertTrue(audience.raw().contains("audience"), audience.raw());

        SignedJWT real = SignedJWT.parse(token("alice", "keyguard", List.of("kg-admins"), 3600));
        RSAKey forger = new RSAKeyGenerator(2048).keyID(real.getHeader().getKeyID()).generate();
        SignedJWT forged = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(forger.getKeyID()).build(), real.getJWTClaimsSet());
        forged.sign(new RSASSASigner(forger));
        AdminClient.Reply signature = as(forged.serialize()).get("admin/keys");
        assertEquals(401, signature.status(), signature.raw());

        AdminClient.Reply roleless = as(token("mallory", "keyguard", List.of("staff"), 3600)).get("admin/keys");
        assertEquals(403, roleless.status());
        assertTrue(roleless.raw().contains("has no Keyguard role"), roleless.raw());
        assertEquals(403, as(token("nobody", "keyguard", null, 3600)).get("admin/keys").status());

        assertEquals(200, as(token("alice", "keyguard", List.of("kg-admins"), 3600)).get("admin/keys").status());
        assertEquals(200, h.admin().get("admin/keys").status(), "the bootstrap token still works");
    }
}
