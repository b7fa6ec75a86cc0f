package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import keyguard.admin.AdminClient;
import keyguard.functions.PluginJars;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Policy functions in a running gateway: a JavaScript function and a plugin function
 * deciding forbid rules over real HTTP, a changed {@code .js} file reloaded like any policy
 * change, and a failing function answered with the policy's {@code on error} decision, an
 * audit note, a metric and a log line — never a 500.
 */
class PolicyFunctionsGatewayTest {

    static final String POLICY = """
            function js risk_score(model: string, tokens: int) -> int = file("functions/risk.js")

            policy guarded {
              models allow ["sim-small"]
              @id("too-risky") @reason("risk score too high for {model.id}")
              forbid when { risk_score(model.id, request.estimated_tokens) > 80 }
              @id("cost-center") @reason("requests need a cost centre such as CC-1234 in metadata.cost_center")
              forbid when { !cost_center_valid(request.metadata["cost_center"]) }
            }
            """;

    static final String RISK_JS = """
            function risk_score(model, tokens) {
              return tokens > 200 ? 90 : 10;
            }
            """;

    static String chat(String text, String costCenter) {
        return """
                {"model":"sim-small","messages":[{"role":"user","content":"%s"}],"max_tokens":16,"metadata":{"cost_center":"%s"}}
                """.formatted(text, costCenter);
    }

    @Test
    void jsAndPluginFunctionsDecideRequestsAndAFailingFunctionDeniesWithAnAuditNote(@TempDir Path tmp) throws Exception {
        try (GatewayHarness h = new GatewayHarness(tmp)) {
            Files.createDirectories(h.policies.resolve("functions"));
            Files.writeString(h.policies.resolve("functions/risk.js"), RISK_JS);
            Files.writeString(h.policies.resolve("guarded.kgp"), POLICY);
            h.plugins = tmp.resolve("plugins");
            PluginJars.acme(h.plugins);
            h.restart();
            String key = h.key("guarded", "fn-bot", Map.of());

            assertEquals(200, h.post("/v1/chat/completions", key, chat("hello", "CC-1234")).statusCode());

            HttpResponse<String> risky = h.post("/v1/chat/completions", key, chat("word ".repeat(400), "CC-1234"));
            assertEquals(403, risky.statusCode(), risky.body());
            assertEquals("risk score too high for sim-small", GatewayHarness.json(risky).path("error").path("message").asText());

            HttpResponse<String> noCc = h.post("/v1/chat/completions", key, chat("hello", "finance"));
            assertEquals(403, noCc.statusCode());
            assertTrue(noCc.body().contains("cost-center"), noCc.body());

            // A changed .js file is a new revision, reloaded all or nothing like a .kgp change.
            String before = h.gateway.policies().set().revision();
            Files.writeString(h.policies.resolve("functions/risk.js"), """
                    function risk_score(model, tokens) {
                      if (model === "sim-small") throw new Error("risk service model table is empty");
                      return 10;
                    }
                    """);
            AdminClient.Reply reload = h.admin().post("admin/policies/reload", FakeUpstream.JSON.createObjectNode());
            assertEquals(200, reload.status(), reload.raw());
            assertNotEquals(before, h.gateway.policies().set().revision());

            HttpResponse<String> failed = h.post("/v1/chat/completions", key, chat("hello", "CC-1234"));
            assertEquals(403, failed.statusCode(), failed.body());
            String message = GatewayHarness.json(failed).path("error").path("message").asText();
            assertTrue(message.startsWith("rule `too-risky` could not be evaluated: function `risk_score` threw Error: risk service model table is empty"),
                    message);

            JsonNode event = lastDecision(h);
            assertEquals("forbidden", event.path("outcome").asText());
            JsonNode err = event.path("function_errors").get(0);
            assertEquals("too-risky", err.path("rule").asText());
            assertEquals("risk_score", err.path("function").asText());
            assertEquals("threw", err.path("kind").asText());
            assertEquals("deny", err.path("decision").asText());

            assertTrue(metrics(h).contains("keyguard_function_failures_total{function=\"risk_score\",kind=\"threw\",policy=\"guarded\"} 1.0"),
                    metrics(h));
            assertTrue(h.logLines.stream().anyMatch(l -> l.startsWith("keyguard.functions ") && l.contains("rule=too-risky")
                    && l.contains("risk service model table is empty") && l.contains("denied (on error deny)")), String.join("\n", h.logLines));
        }
    }

    @Test
    void aBrokenJavaScriptFileIsRefusedOnReloadAndTheRunningRevisionKeepsServing(@TempDir Path tmp) throws Exception {
        try (GatewayHarness h = new GatewayHarness(tmp)) {
            Files.createDirectories(h.policies.resolve("functions"));
            Files.writeString(h.policies.resolve("functions/risk.js"), RISK_JS);
            Files.writeString(h.policies.resolve("guarded.kgp"), POLICY.replace("!cost_center_valid(request.metadata[\"cost_center\"])", "false"));
            h.restart();
            String key = h.key("guarded", "fn-bot", Map.of());
            String revision = h.gateway.policies().set().revision();

            Files.writeString(h.policies.resolve("functions/risk.js"), "function risk_score(model, tokens) { return (; }\n");
            AdminClient.Reply reload = h.admin().post("admin/policies/reload", FakeUpstream.JSON.createObjectNode());
            assertEquals(422, reload.status(), reload.raw());
            assertTrue(reload.raw().contains("KG0802"), reload.raw());
            assertTrue(reload.raw().contains("SyntaxError"), reload.raw());
            assertEquals(revision, h.gateway.policies().set().revision());
            assertEquals(200, h.post("/v1/chat/completions", key, chat("hello", "x")).statusCode());
        }
    }

    private static JsonNode lastDecision(GatewayHarness h) throws Exception {
        for (int i = 0; i < 200; i++) {
            List<String> lines = h.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort()
                            + "/admin/audit?limit=1000")).header("authorization", "Bearer " + h.gateway.adminToken()).build(),
                    HttpResponse.BodyHandlers.ofString()).body().lines().filter(l -> l.contains("\"function_errors\"")).toList();
            if (!lines.isEmpty()) return FakeUpstream.JSON.readTree(lines.getLast());
            Thread.sleep(20);
        }
        throw new AssertionError("no audit event with function_errors");
    }

    private static String metrics(GatewayHarness h) throws Exception {
        return h.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }
}
