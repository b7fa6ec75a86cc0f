package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Deny, redact and reroute end to end: what the caller gets and what the upstream sees. */
class DataClassificationTest {
    GatewayHarness h;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp);
        Files.writeString(h.platform.resolve("data.kgp"), """
                model "vault" { provider sim price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class restricted }
                detector "codename" { words ["bluebird", "night jar"] class confidential }
                detector "employee_id" { pattern "EMP-[0-9]{6}" class internal }
                """);
        Files.writeString(h.policies.resolve("data.kgp"), """
                policy redacting { models allow ["up-ok", "sim-small"]  data max internal on violation redact }
                policy rerouting { models allow ["sim-small"]  data max restricted on violation reroute "vault" }
                policy cleared { models allow ["vault"]  data max confidential }
                """);
        h.restart();
    }

    @AfterEach
    void stop() {
        h.close();
    }

    static String chat(String model, String... contents) {
        StringBuilder sb = new StringBuilder("{\"model\":\"" + model + "\",\"max_tokens\":50,\"messages\":[");
        for (int i = 0; i < contents.length; i++) {
            if (i > 0) sb.append(',');
            sb.append("{\"role\":\"user\",\"content\":").append(FakeUpstream.JSON.valueToTree(contents[i]).toString()).append("}");
        }
        return sb.append("]}").toString();
    }

    @Test
    void aPromptAboveTheModelsCeilingIsDeniedNamingTypesNeverValues() throws Exception {
        String key = h.key("all", "d", Map.of());
        int before = h.upstream.received.size();
        HttpResponse<String> r = h.post("/v1/chat/completions", key,
                chat("up-ok", "mail jane.doe@example.com, card 4111 1111 1111 1111", "and bob@example.org"));
        assertEquals(403, r.statusCode(), r.body());
        JsonNode e = GatewayHarness.json(r).path("error");
        assertEquals("data_class_denied", e.path("code").asText());
        assertTrue(e.path("message").asText().contains("email (2), card_number (1)"), e.path("message").asText());
        assertEquals("restricted", e.path("keyguard").path("data_class").asText());
        assertEquals("email:2,card_number:1", e.path("keyguard").path("detected").asText());
        assertFalse(r.body().contains("jane.doe") || r.body().contains("4111"), "never the matched text");
        assertEquals(before, h.upstream.received.size(), "nothing reached the upstream");
        assertFalse(h.logLines.stream().anyMatch(l -> l.contains("jane.doe") || l.contains("4111 1111")), "nor the logs");
        String decisionId = r.headers().firstValue("x-keyguard-decision-id").orElseThrow();
        for (int i = 0; i < 100 && h.logLines.stream().noneMatch(l -> l.contains(decisionId)); i++) Thread.sleep(10); // logged after the answer
        assertTrue(h.logLines.stream().anyMatch(l -> l.contains(decisionId) && l.contains("data_class=restricted")
                && l.contains("detected=email:2,card_number:1")), "the decision records the class and hits by type and count");
    }

    @Test
    void redactionReplacesEveryValueWithATypedPlaceholderBeforeForwarding() throws Exception {
        String key = h.key("redacting", "r", Map.of());
        String body = """
                {"model":"up-ok","max_tokens":20,"messages":[
                  {"role":"system","content":"Support bot. Escalate to ops@example.com."},
                  {"role":"user","content":[{"type":"text","text":"I am jane@example.com, card 4111-1111-1111-1111."}]},
                  {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
                    "function":{"name":"lookup","arguments":"{\\"email\\":\\"jane@example.com\\",\\"ip\\":\\"10.1.2.3\\"}"}}]},
                  {"role":"tool","tool_call_id":"call_1","content":"found jane@example.com at 10.1.2.3"}]}
                """;
        HttpResponse<String> r = h.post("/v1/chat/completions", key, body);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("email:4,card_number:1", r.headers().firstValue("x-keyguard-redacted").orElse(""),
                "IP addresses are internal: within this policy's clearance, forwarded as they are");
        String sent = h.upstream.last().body().toString();
        assertFalse(sent.contains("example.com") || sent.contains("4111"), sent);
        JsonNode messages = h.upstream.last().body().path("messages");
        assertEquals("Support bot. Escalate to [EMAIL_1].", messages.get(0).path("content").asText());
        assertEquals("I am [EMAIL_2], card [CARD_1].", messages.get(1).path("content").get(0).path("text").asText());
        assertEquals("{\"email\":\"[EMAIL_2]\",\"ip\":\"10.1.2.3\"}",
                messages.get(2).path("tool_calls").get(0).path("function").path("arguments").asText(), "same value, same placeholder");
        assertEquals("found [EMAIL_2] at 10.1.2.3", messages.get(3).path("content").asText());
        assertEquals("call_1", messages.get(3).path("tool_call_id").asText(), "structure is left alone");
    }

    @Test
    void theSimulatorEchoesTheRedactedText() throws Exception {
        String key = h.key("redacting", "r", Map.of());
        HttpResponse<String> r = h.post("/v1/chat/completions", key, chat("sim-small", "call me on +14155552671"));
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.body().contains("You said: call me on [PHONE_1]"), r.body());
    }

    @Test
    void rerouteSendsThePromptToAModelClearedForItAndSaysSo() throws Exception {
        String key = h.key("rerouting", "x", Map.of());
        HttpResponse<String> r = h.post("/v1/chat/completions", key, chat("sim-small", "my SSN is 123-45-6789"));
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("vault", r.headers().firstValue("x-keyguard-routed-model").orElse(""));
        assertTrue(r.body().contains("[vault] You said: my SSN is 123-45-6789"), r.body());
        HttpResponse<String> clean = h.post("/v1/chat/completions", key, chat("sim-small", "hello"));
        assertTrue(clean.body().contains("[sim-small]"), "a clean prompt stays on the model asked for");
    }

    @Test
    void aDeclaredClassCanRaiseButNeverLower() throws Exception {
        String key = h.key("cleared", "c", Map.of());
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + key).header("content-type", "application/json");
        HttpResponse<String> raised = h.http.send(b.copy().header("x-keyguard-data-class", "restricted")
                .POST(HttpRequest.BodyPublishers.ofString(chat("vault", "nothing to see"))).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(403, raised.statusCode(), raised.body());
        assertTrue(raised.body().contains("declared by the caller"), raised.body());
        HttpResponse<String> lowered = h.http.send(b.copy().header("x-keyguard-data-class", "public")
                .POST(HttpRequest.BodyPublishers.ofString(chat("vault", "key AKIAIOSFODNN7EXAMPLE"))).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(403, lowered.statusCode(), "a restricted value stays restricted: " + lowered.body());
        HttpResponse<String> bad = h.http.send(b.copy().header("x-keyguard-data-class", "secret")
                .POST(HttpRequest.BodyPublishers.ofString(chat("vault", "hi"))).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, bad.statusCode());
        assertEquals(200, h.post("/v1/chat/completions", key, chat("vault", "mail jane@example.com")).statusCode(),
                "confidential is within this policy's clearance and the model's ceiling");
    }

    @Test
    void customDetectorsFromThePolicyFilesClassifyToo() throws Exception {
        String key = h.key("redacting", "r", Map.of());
        HttpResponse<String> r = h.post("/v1/chat/completions", key,
                chat("up-ok", "Project Bluebird and the NIGHT JAR plan, owner EMP-004211; bluebirds are fine"));
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("codename:2", r.headers().firstValue("x-keyguard-redacted").orElse(""),
                "employee_id is internal (within the clearance), whole words only for word lists");
        assertEquals("Project [CODENAME_1] and the [CODENAME_2] plan, owner EMP-004211; bluebirds are fine",
                h.upstream.last().body().path("messages").get(0).path("content").asText());
    }
}
