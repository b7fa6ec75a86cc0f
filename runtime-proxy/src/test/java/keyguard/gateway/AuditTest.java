package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every decision is one audit event; spend by group equals the sum of the events. */
class AuditTest {
    static final int REQUESTS = 10_000;

    GatewayHarness h;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp);
    }

    @AfterEach
    void stop() {
        h.close();
    }

    String body(int i) {
        return switch (i % 10) {
            case 7 -> "{\"model\":\"sim-embed\",\"input\":\"x\"}"; // a chat endpoint with an embedding model: 400
            case 8 -> "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"; // unknown model: 404
            case 9 -> "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"mail jane@example.com\"}]}"; // data class: 403
            default -> "{\"model\":\"sim-small\",\"max_tokens\":" + (1 + i % 5) + ",\"stream\":" + (i % 2 == 0)
                    + ",\"messages\":[{\"role\":\"user\",\"content\":\"request " + i + "\"}]}";
        };
    }

    @Test
    void tenThousandRequestsAreTenThousandEventsAndSpendIsTheirSum() throws Exception {
        String team = h.key("all", "team-a", Map.of());
        String other = h.key("demo", "team-b", Map.of());
        int[] statuses = new int[600];
        for (int start = 0; start < REQUESTS; start += 200) {
            List<CompletableFuture<HttpResponse<String>>> batch = new ArrayList<>();
            for (int i = start; i < start + 200; i++) {
                String key = i % 3 == 0 ? other : team;
                batch.add(h.http.sendAsync(HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions"))
                        .header("authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(body(i))).build(),
                        HttpResponse.BodyHandlers.ofString()));
            }
            for (CompletableFuture<HttpResponse<String>> f : batch) statuses[f.join().statusCode()]++;
        }
        assertTrue(statuses[200] > 0 && statuses[403] > 0 && statuses[404] > 0 && statuses[400] > 0, java.util.Arrays.toString(statuses));
        for (int i = 0; i < 400 && h.gateway.audit().written() < REQUESTS; i++) Thread.sleep(25);
        assertEquals(REQUESTS, h.gateway.audit().written());

        // Paged, as a client reads a long log: 10,000 events at most per page, then the cursor.
        List<String> lines = new java.util.ArrayList<>();
        String query = "since=2000-01-01&limit=3000";
        for (int page = 0; page < 20; page++) {
            HttpResponse<String> log = h.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort()
                            + "/admin/audit?" + query)).header("authorization", "Bearer " + h.gateway.adminToken()).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, log.statusCode(), log.body());
            List<String> events = log.body().lines().toList();
            if (events.isEmpty()) break;
            events.stream().filter(l -> l.contains("\"type\":\"decision\"")).forEach(lines::add);
            query = "limit=3000&cursor=" + log.headers().firstValue("x-keyguard-next-cursor").orElseThrow();
        }
        assertEquals(REQUESTS, lines.size(), "exactly one event per request");
        long sum = 0;
        java.util.Set<String> ids = new java.util.HashSet<>();
        for (String line : lines) {
            JsonNode e = FakeUpstream.JSON.readTree(line);
            sum += e.path("cost_micros").asLong();
            ids.add(e.path("decision_id").asText());
            assertFalse(line.contains("jane@example.com") || line.contains("request 1") || line.contains(team.substring(16)),
                    "never a prompt, a value found in it, or a secret: " + line);
        }
        assertEquals(REQUESTS, ids.size(), "one event per decision id");
        JsonNode spend = h.admin().get("admin/spend?group_by=policy,model").body();
        assertEquals(sum, spend.path("total_cost_micros").asLong());
        assertEquals(REQUESTS, spend.path("total_requests").asLong());
        assertTrue(sum > 0);

        h.restart(); // the index is rebuilt from the log
        assertEquals(spend, h.admin().get("admin/spend?group_by=policy,model").body());
    }

    @Test
    void anEventNamesTheKeyThePolicyRevisionTheRulesAndTheUsage() throws Exception {
        String key = h.key("all", "svc", Map.of());
        String limited = h.key("demo", "svc2", Map.of());
        h.post("/v1/chat/completions", key, "{\"model\":\"sim-small\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        h.post("/v1/chat/completions", limited, "{\"model\":\"up-ok\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        for (int i = 0; i < 200 && h.gateway.audit().written() < 2; i++) Thread.sleep(10);
        List<JsonNode> events = new ArrayList<>();
        h.gateway.audit().read(null, null, l -> {
            if (!l.contains("\"type\":\"decision\"")) return;
            try {
                events.add(FakeUpstream.JSON.readTree(l));
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            }
        });
        JsonNode ok = events.get(0);
        assertEquals(key.split("-")[1], ok.path("key_id").asText());
        assertEquals("svc", ok.path("key_name").asText());
        assertEquals("all", ok.path("policy").asText());
        assertEquals(h.gateway.policies().set().revision(), ok.path("revision").asText());
        assertEquals("ok", ok.path("outcome").asText());
        assertEquals(3, ok.path("completion_tokens").asLong());
        assertTrue(ok.path("cost_micros").asLong() > 0);
        assertEquals("test", ok.path("tags").path("team").asText());
        java.io.StringWriter exported = new java.io.StringWriter();
        int code = new picocli.CommandLine(new keyguard.cli.Main()).setOut(new java.io.PrintWriter(exported))
                .execute("audit", "export", "--data", h.data.toString(), "--since", "2000-01-01");
        assertEquals(0, code);
        assertEquals(2, exported.toString().lines().filter(l -> l.contains("\"type\":\"decision\"")).count(),
                "the CLI reads the same log: " + exported);
        assertEquals(2, exported.toString().lines().filter(l -> l.contains("\"action\":\"keys.create\"")).count(),
                "admin actions are audited too: " + exported);
        JsonNode denied = events.get(1);
        assertEquals("model_not_allowed", denied.path("outcome").asText());
        assertEquals("models.allow", denied.path("rules").get(0).asText());
        assertEquals(403, denied.path("status").asInt());
        assertEquals(0, denied.path("cost_micros").asLong());
    }
}
