package keyguard.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import keyguard.admin.AdminClient;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 3: one key could grow the gateway's memory (a metric label per invented model
 * name) and forge access-log lines (a newline in the model). Caller strings are bounded,
 * never metric labels, and escaped in every log line.
 */
class CallerStringsTest {
    GatewayHarness h;
    String key;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp);
        key = h.key("all", "strings", Map.of());
    }

    @AfterEach
    void stop() {
        h.close();
    }

    static String chat(String model) {
        return "{\"model\":" + FakeUpstream.JSON.valueToTree(model) + ",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    String metrics() throws Exception {
        return h.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    @Test
    void aModelNameLongerThan256BytesIsABadRequest() throws Exception {
        HttpResponse<String> r = h.post("/v1/chat/completions", key, chat("m".repeat(257)));
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(r.body().contains("longer than 256 bytes"), r.body());
        assertEquals(400, h.post("/v1/chat/completions", key, chat("é".repeat(129))).statusCode(), "bytes, not characters");
        assertEquals(404, h.post("/v1/chat/completions", key, chat("m".repeat(256))).statusCode(), "256 bytes is a name, unknown here");
    }

    @Test
    void inventedModelNamesNeverBecomeMetricLabels() throws Exception {
        for (int i = 0; i < 50; i++) h.post("/v1/chat/completions", key, chat("invented-model-" + i));
        String m = metrics();
        assertFalse(m.contains("invented-model"), "no label per invented name");
        assertTrue(m.contains("model=\"unknown\""), m);
        long series = m.lines().filter(l -> l.startsWith("keyguard_requests_total{")).count();
        assertTrue(series <= 3, "a bounded number of series: " + series);
    }

    @Test
    void aNewlineInTheModelCannotForgeAnAccessLogLine() throws Exception {
        String forged = "sim-small\nINFO: dec_forged key=admin status=200 outcome=ok";
        HttpResponse<String> r = h.post("/v1/chat/completions", key, chat(forged));
        String id = r.headers().firstValue("x-keyguard-decision-id").orElseThrow();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (h.logLines.stream().noneMatch(l -> l.contains(id)) && System.nanoTime() < deadline) Thread.sleep(10);
        String line = h.logLines.stream().filter(l -> l.contains(id)).findFirst().orElseThrow();
        assertFalse(line.contains("\n"), "one line: " + line);
        assertTrue(line.contains("model=sim-small\\nINFO: dec_forged"), "the newline is escaped: " + line);
        assertTrue(h.logLines.stream().noneMatch(l -> l.startsWith("INFO: dec_forged") || l.contains("\ndec_forged")));
    }

    @Test
    void metadataAndAdminFieldsAreBounded() throws Exception {
        StringBuilder many = new StringBuilder("{");
        for (int i = 0; i < 17; i++) many.append(i > 0 ? "," : "").append("\"k").append(i).append("\":\"v\"");
        String body = "{\"model\":\"sim-small\",\"max_tokens\":5,\"metadata\":" + many + "},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        assertEquals(400, h.post("/v1/chat/completions", key, body).statusCode(), "17 metadata keys");
        String longValue = "{\"model\":\"sim-small\",\"max_tokens\":5,\"metadata\":{\"k\":\"" + "v".repeat(513)
                + "\"},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        assertEquals(400, h.post("/v1/chat/completions", key, longValue).statusCode(), "a 513-character metadata value");

        AdminClient admin = h.admin();
        ObjectNode newline = FakeUpstream.JSON.createObjectNode().put("policy", "demo").put("name", "bot\nINFO: forged");
        assertEquals(400, admin.post("admin/keys", newline).status(), "a control character in a key name");
        ObjectNode huge = FakeUpstream.JSON.createObjectNode().put("policy", "demo").put("name", "n".repeat(129));
        assertEquals(400, admin.post("admin/keys", huge).status(), "a 129-character key name");
        ObjectNode labels = FakeUpstream.JSON.createObjectNode().put("policy", "demo").put("name", "ok");
        ObjectNode l = labels.putObject("labels");
        for (int i = 0; i < 33; i++) l.put("l" + i, "v");
        assertEquals(400, admin.post("admin/keys", labels).status(), "33 labels");
    }
}
