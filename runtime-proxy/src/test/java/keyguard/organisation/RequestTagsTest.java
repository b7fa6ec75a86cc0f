package keyguard.organisation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Request tags through a real gateway: {@code x-keyguard-tags} and OpenAI {@code metadata}
 * checked against the policy's {@code allow tags}, refused with a clear 400 or 403, recorded
 * in the audit event beside the policy's tags, and summed by {@code group_by=tag:NAME}.
 */
class RequestTagsTest {
    GatewayHarness h;
    String key;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp, false);
        Files.writeString(h.policies.resolve("tagged.kgp"), """
                policy tagged {
                  models allow ["sim-small"]
                  tags { team: "search" }
                  allow tags { project required in ["alpha", "beta"], "cost-centre" }
                }
                """);
        h.start();
        key = h.key("tagged", "tagged-key", Map.of());
    }

    @AfterEach
    void stop() {
        h.close();
    }

    HttpResponse<String> chat(String secret, String tags, String metadata) throws Exception {
        String body = "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" + (metadata == null ? "" : ",\"metadata\":" + metadata) + "}";
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(20))
                .header("authorization", "Bearer " + secret).header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (tags != null) b.header("x-keyguard-tags", tags);
        return h.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode error(HttpResponse<String> r) throws Exception {
        return FakeUpstream.JSON.readTree(r.body()).path("error");
    }

    @Test
    void aRequestsTagsAreCheckedAgainstThePolicyWithAClearAnswer() throws Exception {
        assertEquals(200, chat(key, "project=alpha, cost-centre=4711", null).statusCode());
        HttpResponse<String> missing = chat(key, null, null);
        assertEquals(400, missing.statusCode(), missing.body());
        assertEquals("request_tag_required", error(missing).path("code").asText());
        assertTrue(error(missing).path("message").asText().contains("request tag `project` is required by policy `tagged` (one of [alpha, beta])"), missing.body());
        assertEquals("tags.required", error(missing).path("keyguard").path("rule").asText());

        HttpResponse<String> gamma = chat(key, "project=gamma", null);
        assertEquals(403, gamma.statusCode());
        assertEquals("request_tag_not_allowed", error(gamma).path("code").asText());
        assertEquals("request tag `project` takes [alpha, beta], not `gamma`", error(gamma).path("message").asText());
        assertEquals(403, chat(key, "project=alpha,owner=me", null).statusCode(), "a tag the policy does not declare");

        for (String bad : new String[] {"project", "project=", "=alpha", "project=a,project=b", "pro ject=alpha", "project=alpha,,x=1",
                "a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1,j=1,k=1,l=1,m=1,n=1,o=1,p=1,q=1"}) {
            HttpResponse<String> r = chat(key, bad, null);
            assertEquals(400, r.statusCode(), bad + ": " + r.body());
            assertTrue(error(r).path("message").asText().startsWith("`x-keyguard-tags` must be `name=value` pairs"), r.body());
        }
        // OpenAI's metadata carries the policy's tags too; the header wins where both name one.
        assertEquals(200, chat(key, null, "{\"project\":\"beta\",\"trace\":\"t-1\"}").statusCode());
        assertEquals(403, chat(key, "project=gamma", "{\"project\":\"beta\"}").statusCode());
        HttpResponse<String> bidi = chat(key, null, "{\"project\":\"al\\u202epha\"}");
        assertEquals(400, bidi.statusCode(), "no invisible characters in a tag value: " + bidi.body());
    }

    @Test
    void acceptedTagsAreInTheAuditEventAndSpendGroupsByThem() throws Exception {
        for (int i = 0; i < 3; i++) assertEquals(200, chat(key, "project=alpha, cost-centre=4711", null).statusCode());
        for (int i = 0; i < 2; i++) assertEquals(200, chat(key, "project=beta", null).statusCode());
        assertEquals(400, chat(key, null, null).statusCode());
        // A model that does not exist is refused before the tags are judged: its tags are recorded nowhere.
        String unknown = "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        HttpResponse<String> nope = h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions")).header("authorization", "Bearer " + key)
                .header("x-keyguard-tags", "project=zzz-made-up").header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(unknown)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(404, nope.statusCode());
        // Two headers read as one list.
        HttpResponse<String> two = h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions")).header("authorization", "Bearer " + key)
                .header("x-keyguard-tags", "project=beta").header("x-keyguard-tags", "cost-centre=99").header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(unknown.replace("nope", "sim-small"))).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, two.statusCode(), two.body());
        String demo = h.key("demo", "untagged", Map.of());
        assertEquals(200, chat(demo, "project=alpha", null).statusCode(), "a policy without `allow tags` does not judge them...");

        long alpha = 0, beta = 0, none = 0, total = 0;
        for (String line : h.admin().get("admin/audit?type=decision").raw().split("\n")) {
            if (line.isBlank()) continue;
            JsonNode e = FakeUpstream.JSON.readTree(line);
            String project = e.path("tags").path("project").asText("");
            long cost = e.path("cost_micros").asLong();
            total += cost;
            if (project.equals("alpha")) alpha += cost;
            else if (project.equals("beta")) beta += cost;
            else none += cost;
            if (project.equals("alpha")) {
                assertEquals("search", e.path("tags").path("team").asText(), "the policy's own tags stay: " + line);
                assertEquals("4711", e.path("tags").path("cost-centre").asText());
            }
        }
        assertTrue(alpha > 0 && beta > 0 && none > 0, alpha + " " + beta + " " + none);
        JsonNode spend = h.admin().get("admin/spend?group_by=tag:project").body();
        Map<String, Long> byProject = new java.util.HashMap<>();
        Map<String, Long> requests = new java.util.HashMap<>();
        for (JsonNode row : spend.path("rows")) {
            byProject.put(row.path("tag:project").asText(), row.path("cost_micros").asLong());
            requests.put(row.path("tag:project").asText(), row.path("requests").asLong());
        }
        assertEquals(alpha, byProject.get("alpha"), spend.toString());
        assertEquals(beta, byProject.get("beta"));
        assertEquals(none, byProject.get(""), "...and records none of them: " + spend);
        assertEquals(3, requests.get("alpha"));
        assertEquals(3, requests.get("beta"));
        assertTrue(!byProject.containsKey("zzz-made-up"), "an unjudged value opens no group: " + spend);
        assertEquals(total, spend.path("total_cost_micros").asLong(), "the groups add up to the events");
        assertEquals(400, h.admin().get("admin/spend?group_by=tag:pro%20ject").status());
    }
}
