package keyguard.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import keyguard.admin.AdminClient;
import keyguard.admin.OidcConfig;
import keyguard.compiler.Trust;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 4: any policy file could declare a provider with any base URL and any credential
 * variable (the admin token included), and hot reload applied it. Providers, models,
 * detectors and labels belong to the operator's folder; credentials name allowed variables
 * only; base URLs can be restricted; links are refused; a team admin never reads the
 * operator's files through a reload error.
 */
class OperatorBoundaryTest {
    @TempDir Path tmp;
    GatewayHarness h;

    @BeforeEach
    void start() throws Exception {
        h = new GatewayHarness(tmp, false);
        h.env.put("KEYGUARD_ADMIN_TOKEN", "kga-from-the-environment-0123456789abcdef");
        h.start();
    }

    @AfterEach
    void stop() {
        h.close();
    }

    /** Reloads and returns the policy status; asserts the reload was refused and the revision kept. */
    JsonNode refusedReload() throws Exception {
        String before = h.gateway.policies().set().revision();
        AdminClient.Reply r = h.admin().post("admin/policies/reload", FakeUpstream.JSON.createObjectNode());
        assertEquals(422, r.status(), r.body().toString());
        assertEquals(before, h.gateway.policies().set().revision(), "the running revision keeps serving");
        return r.body();
    }

    @Test
    void aTeamFileThatDeclaresAProviderIsRefused() throws Exception {
        Path team = Files.createDirectories(h.policies.resolve("teams"));
        Files.writeString(team.resolve("exfil.kgp"), """
                provider exfil { base_url "http://127.0.0.1:%d/openai" credential env("UP_API_KEY") }
                model "exfil-model" { provider exfil price input 0 usd per 1m tokens, output 0 usd per 1m tokens max_class restricted }
                policy exfil { models allow ["exfil-model"] }
                """.formatted(h.upstream.port()));
        String report = refusedReload().path("last_error").path("report").asText();
        assertTrue(report.contains("KG0605") && report.contains("provider `exfil` is declared in a team's file"), report);
        assertTrue(report.contains("model `exfil-model` is declared in a team's file"), report);
    }

    @Test
    void noCredentialMayNameOneOfTheGatewaysOwnVariables() throws Exception {
        Files.writeString(h.platform.resolve("leak.kgp"), """
                provider leak { base_url "http://127.0.0.1:%d/openai" credential env("KEYGUARD_ADMIN_TOKEN") }
                """.formatted(h.upstream.port()));
        String report = refusedReload().path("last_error").path("report").asText();
        assertTrue(report.contains("KG0606") && report.contains("one of the gateway's own variables"), report);
        assertFalse(report.contains("kga-from-the-environment"), "the value never appears");
        assertTrue(h.upstream.received.stream().noneMatch(x -> x.toString().contains("kga-from-the-environment")));
        // Nor the fleet's secrets: Redis's password and the server secret.
        for (String variable : List.of("KEYGUARD_REDIS_PASSWORD", "KEYGUARD_SERVER_SECRET")) {
            Files.writeString(h.platform.resolve("leak.kgp"), """
                    provider leak { base_url "http://127.0.0.1:%d/openai" credential env("%s") }
                    """.formatted(h.upstream.port(), variable));
            String again = refusedReload().path("last_error").path("report").asText();
            assertTrue(again.contains("KG0606") && again.contains(variable), again);
        }
    }

    @Test
    void aBaseUrlOutsideTheOperatorsAllowListIsRefused() throws Exception {
        h.configure = c -> c.withTrust(Trust.DEFAULT.withBaseUrls(List.of("http://127.0.0.1:" + h.upstream.port() + "/openai",
                "http://127.0.0.1:" + h.upstream.port() + "/anthropic", "http://127.0.0.1:1/v1")));
        h.restart();
        Files.writeString(h.platform.resolve("elsewhere.kgp"), """
                provider elsewhere { base_url "http://127.0.0.1:%d/openai.collector/v1" credential env("UP_API_KEY") }
                """.formatted(h.upstream.port()));
        String report = refusedReload().path("last_error").path("report").asText();
        assertTrue(report.contains("KG0607"), report);
    }

    @Test
    void aSymbolicLinkInThePolicyDirectoryIsRefusedUnread() throws Exception {
        Path team = Files.createDirectories(h.policies.resolve("teams"));
        Files.createSymbolicLink(team.resolve("notes.kgp"), h.data.resolve("server.secret").toAbsolutePath());
        String secret = Files.readString(h.data.resolve("server.secret")).strip();
        String report = refusedReload().path("last_error").path("report").asText();
        assertTrue(report.contains("KG0011") && report.contains("notes.kgp"), report);
        assertFalse(report.contains(secret.substring(0, 16)), "the target is never read");
    }

    @Test
    void aNameThatPassesForTheOperatorsFolderIsRefused() throws Exception {
        // On Linux `platform\\x.kgp` is one top-level file name, a team's, not platform/x.kgp;
        // and `PLATFORM/` would be the operator's folder on a case-insensitive disk.
        Files.writeString(h.policies.resolve("platform\\x.kgp"), """
                provider sneaky { base_url "http://127.0.0.1:1/v1" credential env("UP_API_KEY") }
                """);
        String report = refusedReload().path("last_error").path("report").asText();
        assertTrue(report.contains("KG0011") && report.contains("platform\\x.kgp"), report);
        Files.delete(h.policies.resolve("platform\\x.kgp"));
        Files.createDirectories(h.policies.resolve("PLATFORM"));
        Files.writeString(h.policies.resolve("PLATFORM/models.kgp"), "provider sneaky { builtin simulator }\n");
        report = refusedReload().path("last_error").path("report").asText();
        assertTrue(report.contains("KG0011") && report.contains("PLATFORM"), report);
    }

    @Test
    void anOperatorFunctionMayNotRunATeamsJavaScript() throws Exception {
        Path team = Files.createDirectories(h.policies.resolve("teams"));
        Files.writeString(team.resolve("score.js"), "function score() { return 1; }\n");
        Files.writeString(h.platform.resolve("functions.kgp"), "function js score() -> int = file(\"../teams/score.js\")\n");
        String report = refusedReload().path("last_error").path("report").asText();
        assertTrue(report.contains("KG0605") && report.contains("runs a team's file"), report);
    }

    @Test
    void aTeamAdminSeesWhereAnOperatorFileFailsButNotWhatItSays() throws Exception {
        MockOAuth2Server idp = new MockOAuth2Server();
        idp.start();
        try {
            h.oidc = new OidcConfig(idp.issuerUrl("default").toString(), "keyguard", null, "groups", Set.of("kg-admins"), Set.of(),
                    Map.of("team-demo", Set.of("demo")));
            h.restart();
            Files.writeString(h.platform.resolve("models.kgp"), Files.readString(h.platform.resolve("models.kgp"))
                    + "\nmodel \"internal-only\" { provider up upstream \"codename-bluebird-7\" price input 1 usd per 1m tokens }\n");
            refusedReload();
            String token = idp.issueToken("default", "bob", "keyguard", Map.of("groups", List.of("team-demo")), 3600).serialize();
            AdminClient team = new AdminClient(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/"), token);
            String teamReport = team.get("admin/policies").body().path("last_error").path("report").asText();
            assertTrue(teamReport.contains("KG0110") && teamReport.contains("in an operator file"), teamReport);
            assertFalse(teamReport.contains("codename-bluebird-7") || teamReport.contains("internal-only"), teamReport);
            String adminReport = h.admin().get("admin/policies").body().path("last_error").path("report").asText();
            assertTrue(adminReport.contains("internal-only"), "the operator reads everything: " + adminReport);
        } finally {
            idp.shutdown();
        }
    }
}
