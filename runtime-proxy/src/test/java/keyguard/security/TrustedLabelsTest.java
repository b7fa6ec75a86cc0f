package keyguard.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import keyguard.admin.AdminClient;
import keyguard.admin.OidcConfig;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 8: a team admin could create a key labelled `env: prod`, the label a rule trusts to
 * exempt it. A label a rule reads must be declared with who may set it; the admin API lets
 * only admins set an operator's label, and only to a declared value.
 */
class TrustedLabelsTest {
    GatewayHarness h;
    MockOAuth2Server idp;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        idp = new MockOAuth2Server();
        idp.start();
        h = new GatewayHarness(tmp, false);
        Files.writeString(h.platform.resolve("labels.kgp"), """
                label env { set_by operator  values ["prod", "staging"] }
                label oncall { set_by team }
                """);
        Files.writeString(h.policies.resolve("office.kgp"), """
                policy office {
                  models allow ["sim-small"]
                  @id("office-hours")
                  forbid when { key.env != "prod" } unless { time.hour in 8..18 }
                }
                """);
        h.oidc = new OidcConfig(idp.issuerUrl("default").toString(), "keyguard", null, "groups", Set.of("kg-admins"), Set.of(),
                Map.of("team-office", Set.of("office")));
        h.start();
    }

    @AfterEach
    void stop() {
        h.close();
        idp.shutdown();
    }

    AdminClient as(List<String> groups) {
        String token = idp.issueToken("default", "bob", "keyguard", Map.of("groups", groups), 3600).serialize();
        return new AdminClient(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/"), token);
    }

    static ObjectNode key(Map<String, String> labels) {
        ObjectNode body = FakeUpstream.JSON.createObjectNode().put("policy", "office").put("name", "k");
        ObjectNode l = body.putObject("labels");
        labels.forEach(l::put);
        return body;
    }

    @Test
    void aTeamAdminCannotGiveAKeyTheLabelARuleTrusts() throws Exception {
        AdminClient team = as(List.of("team-office"));
        AdminClient.Reply prod = team.post("admin/keys", key(Map.of("env", "prod")));
        assertEquals(403, prod.status(), prod.body().toString());
        assertTrue(prod.raw().contains("set_by operator"), prod.raw());
        assertEquals(201, team.post("admin/keys", key(Map.of("oncall", "yes"))).status(), "a team's own label");
        assertEquals(201, team.post("admin/keys", key(Map.of("notes", "free text"))).status(), "a label no rule reads");
    }

    @Test
    void aLabelATeamAdminSetBeforeItWasDeclaredIsNotTrusted() throws Exception {
        // Before `env` is declared, a team admin labels a key prod (no rule reads env then).
        Files.writeString(h.platform.resolve("labels.kgp"), "label oncall { set_by team }\n");
        Files.writeString(h.policies.resolve("office.kgp"), "policy office { models allow [\"sim-small\"] }\n");
        h.restart();
        String secret = as(List.of("team-office")).post("admin/keys", key(Map.of("env", "prod"))).body().path("secret").asText();
        // Then the operator declares it and a rule trusts it.
        Files.writeString(h.platform.resolve("labels.kgp"), "label env { set_by operator }\nlabel oncall { set_by team }\n");
        Files.writeString(h.policies.resolve("office.kgp"), """
                policy office {
                  models allow ["sim-small"]
                  @id("prod-only")
                  forbid when { key.env != "prod" }
                }
                """);
        assertEquals(200, h.admin().post("admin/policies/reload", FakeUpstream.JSON.createObjectNode()).status());
        var r = h.post("/v1/chat/completions", secret, "{\"model\":\"sim-small\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(403, r.statusCode(), "the team admin's env=prod is not trusted: " + r.body());
        assertTrue(r.body().contains("prod-only"), r.body());
    }

    @Test
    void anAdminSetsOperatorLabelsToDeclaredValuesOnly() throws Exception {
        AdminClient admin = as(List.of("kg-admins"));
        assertEquals(201, admin.post("admin/keys", key(Map.of("env", "prod"))).status());
        AdminClient.Reply wrong = admin.post("admin/keys", key(Map.of("env", "production")));
        assertEquals(400, wrong.status(), wrong.body().toString());
        assertTrue(wrong.raw().contains("[prod, staging]"), wrong.raw());
        assertEquals(201, h.admin().post("admin/keys", key(Map.of("env", "staging"))).status(), "the bootstrap token is an admin");
    }
}
