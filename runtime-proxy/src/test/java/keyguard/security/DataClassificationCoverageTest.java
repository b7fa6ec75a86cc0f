package keyguard.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Finding 2: data classification skipped parts of the request (an Anthropic document, tool
 * descriptions, schemas, prediction, metadata) and let content it cannot read through. Every
 * text-bearing field of both shapes is scanned now, text is normalised first, and content
 * that cannot be scanned counts as `restricted` unless the policy allows it.
 */
class DataClassificationCoverageTest {
    static final String SECRET_TEXT = "write to jane.doe@example.com, card 4111 1111 1111 1111";

    GatewayHarness h;
    String key;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp);
        Files.writeString(h.platform.resolve("vault.kgp"), """
                model "vault" { provider sim price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class restricted }
                model "no-images" { provider sim price input 1 usd per 1m tokens, output 2 usd per 1m tokens max_class restricted unscannable deny }
                """);
        Files.writeString(h.policies.resolve("data.kgp"), """
                policy images_ok { models allow ["sim-small", "up-ok"]  on unscannable allow }
                policy cleared { models allow ["vault"] }
                policy redacting { models allow ["up-ok"]  data max internal on violation redact }
                policy images_anywhere { models allow ["sim-small", "no-images"]  on unscannable allow }
                """);
        h.restart();
        key = h.key("all", "scanned", Map.of());
    }

    @AfterEach
    void stop() {
        h.close();
    }

    HttpResponse<String> messages(String key, String body) throws Exception {
        return h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/v1/messages")).timeout(Duration.ofSeconds(20))
                .header("x-api-key", key).header("anthropic-version", "2023-06-01").header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static String q(String s) {
        return FakeUpstream.JSON.valueToTree(s).toString();
    }

    @Test
    void anAnthropicDocumentBlockIsScannedLikeAMessage() throws Exception {
        int before = h.upstream.received.size();
        HttpResponse<String> r = messages(key, """
                {"model":"claude","max_tokens":20,"messages":[{"role":"user","content":[
                  {"type":"document","source":{"type":"text","media_type":"text/plain","data":%s}},
                  {"type":"text","text":"summarise the document"}]}]}""".formatted(q(SECRET_TEXT)));
        assertEquals(403, r.statusCode(), r.body());
        JsonNode e = GatewayHarness.json(r).path("error");
        assertEquals("permission_error", e.path("type").asText(), r.body());
        assertTrue(r.body().contains("email") && r.body().contains("card_number"), r.body());
        assertEquals(before, h.upstream.received.size(), "nothing reached the upstream");
    }

    /** Every place a request can carry text the model reads, in both shapes. */
    static Stream<Arguments> textBearingFields() {
        String s = q(SECRET_TEXT);
        String msg = "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]";
        return Stream.of(
                Arguments.of("openai tool description", "/v1/chat/completions", "{\"model\":\"up-ok\",\"max_tokens\":5," + msg
                        + ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"description\":" + s
                        + ",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]}"),
                Arguments.of("openai tool schema", "/v1/chat/completions", "{\"model\":\"up-ok\",\"max_tokens\":5," + msg
                        + ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"parameters\":{\"type\":\"object\","
                        + "\"properties\":{\"who\":{\"type\":\"string\",\"description\":" + s + "}}}}}]}"),
                Arguments.of("openai response_format schema", "/v1/chat/completions", "{\"model\":\"up-ok\",\"max_tokens\":5," + msg
                        + ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"r\",\"schema\":{\"type\":\"object\","
                        + "\"properties\":{\"x\":{\"type\":\"string\",\"enum\":[" + s + "]}}}}}}"),
                Arguments.of("openai prediction", "/v1/chat/completions", "{\"model\":\"up-ok\",\"max_tokens\":5," + msg
                        + ",\"prediction\":{\"type\":\"content\",\"content\":" + s + "}}"),
                Arguments.of("openai metadata", "/v1/chat/completions", "{\"model\":\"up-ok\",\"max_tokens\":5," + msg
                        + ",\"store\":true,\"metadata\":{\"note\":" + q("jane.doe@example.com") + "}}"),
                Arguments.of("openai tool result", "/v1/chat/completions", "{\"model\":\"up-ok\",\"max_tokens\":5,\"messages\":["
                        + "{\"role\":\"user\",\"content\":\"look it up\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\","
                        + "\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{}\"}}]},"
                        + "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":" + s + "}]}"),
                Arguments.of("anthropic system blocks", "/v1/messages", "{\"model\":\"claude\",\"max_tokens\":5," + msg
                        + ",\"system\":[{\"type\":\"text\",\"text\":" + s + "}]}"),
                Arguments.of("anthropic tool description", "/v1/messages", "{\"model\":\"claude\",\"max_tokens\":5," + msg
                        + ",\"tools\":[{\"name\":\"lookup\",\"description\":" + s + ",\"input_schema\":{\"type\":\"object\"}}]}"),
                Arguments.of("anthropic tool_result", "/v1/messages", "{\"model\":\"claude\",\"max_tokens\":5,\"messages\":["
                        + "{\"role\":\"user\",\"content\":\"look it up\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\","
                        + "\"name\":\"lookup\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
                        + "\"content\":[{\"type\":\"text\",\"text\":" + s + "}]}]}]}"),
                Arguments.of("anthropic metadata", "/v1/messages", "{\"model\":\"claude\",\"max_tokens\":5," + msg
                        + ",\"metadata\":{\"user_id\":" + q("jane.doe@example.com") + "}}"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("textBearingFields")
    void everyTextBearingFieldIsScanned(String what, String path, String body) throws Exception {
        int before = h.upstream.received.size();
        HttpResponse<String> r = path.equals("/v1/messages") ? messages(key, body) : h.post(path, key, body);
        assertEquals(403, r.statusCode(), what + ": " + r.body());
        assertTrue(r.body().contains("email"), what + ": " + r.body());
        assertEquals(before, h.upstream.received.size(), what + ": nothing reached the upstream");
    }

    @Test
    void contentThatCannotBeScannedIsRefusedBelowTheHighestClass() throws Exception {
        int before = h.upstream.received.size();
        HttpResponse<String> image = h.post("/v1/chat/completions", key, """
                {"model":"up-ok","max_tokens":5,"messages":[{"role":"user","content":[
                  {"type":"text","text":"what does this say?"},
                  {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="}}]}]}""");
        assertEquals(403, image.statusCode(), image.body());
        JsonNode kg = GatewayHarness.json(image).path("error").path("keyguard");
        assertEquals("data.unscannable", kg.path("rule").asText(), image.body());
        assertEquals("image:1", kg.path("unscannable").asText(), image.body());
        assertTrue(image.body().contains("could not scan image (1)"), image.body());

        HttpResponse<String> pdf = messages(key, """
                {"model":"claude","max_tokens":5,"messages":[{"role":"user","content":[
                  {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQKJcfsj6IKNSAwIG9iago="}},
                  {"type":"text","text":"summarise"}]}]}""");
        assertEquals(403, pdf.statusCode(), pdf.body());
        assertTrue(pdf.body().contains("pdf (1)"), pdf.body());
        HttpResponse<String> url = h.post("/v1/chat/completions", key, """
                {"model":"up-ok","max_tokens":5,"messages":[{"role":"user","content":[
                  {"type":"image_url","image_url":{"url":"https://files.example.com/scan.png"}}]}]}""");
        assertEquals(403, url.statusCode(), "a URL the provider fetches is just as unreadable: " + url.body());
        assertEquals(before, h.upstream.received.size(), "nothing reached the upstream");
    }

    @Test
    void unscannableContentPassesWhenThePolicyAllowsItOrTheModelTakesEverything() throws Exception {
        String image = """
                {"model":"%s","max_tokens":5,"messages":[{"role":"user","content":[
                  {"type":"text","text":"what is it?"},
                  {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}""";
        String allowed = h.key("images_ok", "imgs", Map.of());
        assertEquals(200, h.post("/v1/chat/completions", allowed, image.formatted("up-ok")).statusCode(), "on unscannable allow");
        String cleared = h.key("cleared", "vault", Map.of());
        assertEquals(200, h.post("/v1/chat/completions", cleared, image.formatted("vault")).statusCode(), "a model cleared for restricted data");
        String redacting = h.key("redacting", "red", Map.of());
        HttpResponse<String> r = h.post("/v1/chat/completions", redacting, image.formatted("up-ok"));
        assertEquals(403, r.statusCode(), "what cannot be read cannot be redacted: " + r.body());
        assertTrue(r.body().contains("cannot be redacted"), r.body());
    }

    @Test
    void theOperatorCanKeepAModelFreeOfUnscannableContentWhateverThePolicySays() throws Exception {
        String k = h.key("images_anywhere", "imgs", Map.of());
        String image = """
                {"model":"%s","max_tokens":5,"messages":[{"role":"user","content":[
                  {"type":"text","text":"what is it?"},
                  {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}""";
        assertEquals(200, h.post("/v1/chat/completions", k, image.formatted("sim-small")).statusCode());
        HttpResponse<String> r = h.post("/v1/chat/completions", k, image.formatted("no-images"));
        assertEquals(403, r.statusCode(), r.body());
        assertTrue(r.body().contains("unscannable deny"), r.body());
    }

    @Test
    void keysNumbersAndIdsAreScannedAndAFileIdParameterIsNotAnImage() throws Exception {
        String[] smuggled = {
            "{\"model\":\"up-ok\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"metadata\":{\"4111111111111111\":\"x\"}}",
            "{\"model\":\"up-ok\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":null,"
                    + "\"tool_calls\":[{\"id\":\"call_4111111111111111\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}]}",
            "{\"model\":\"up-ok\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"type\":\"function\","
                    + "\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"properties\":{\"type\":{\"description\":" + q(SECRET_TEXT) + "}}}}}]}",
            "{\"model\":\"up-ok\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"card in tags: "
                    + "\udb40\udc34\udb40\udc31\udb40\udc31\udb40\udc31\udb40\udc31\udb40\udc31\udb40\udc31\udb40\udc31"
                    + "\udb40\udc31\udb40\udc31\udb40\udc31\udb40\udc31\udb40\udc31\udb40\udc31\udb40\udc31\udb40\udc31\"}]}",
        };
        for (String body : smuggled) {
            HttpResponse<String> r = h.post("/v1/chat/completions", key, body);
            assertEquals(403, r.statusCode(), body + " -> " + r.body());
        }
        String fileParameter = "{\"model\":\"up-ok\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"list my files\"}],"
                + "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"open\",\"parameters\":{\"type\":\"object\","
                + "\"properties\":{\"file_id\":{\"type\":\"string\",\"description\":\"the id of a file\"}}}}}]}";
        HttpResponse<String> ok = h.post("/v1/chat/completions", key, fileParameter);
        assertEquals(200, ok.statusCode(), "a parameter named file_id is not a file: " + ok.body());
        String ids = "{\"model\":\"up-ok\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":null,"
                + "\"tool_calls\":[{\"id\":\"call_Qx7pLm2ZrT9kVw3NbYc5Hd8J\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"call_Qx7pLm2ZrT9kVw3NbYc5Hd8J\",\"content\":\"done\"}]}";
        assertEquals(200, h.post("/v1/chat/completions", key, ids).statusCode(), "a random id is not a secret");
    }

    @Test
    void redactionNeverTurnsALongMetadataValueIntoAServerError() throws Exception {
        String redacting = h.key("redacting", "meta", Map.of());
        StringBuilder mails = new StringBuilder();
        while (mails.length() < 500) mails.append("a@b.co ");
        String body = "{\"model\":\"up-ok\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"metadata\":{\"note\":"
                + q(mails.toString().strip()) + "}}";
        HttpResponse<String> r = h.post("/v1/chat/completions", redacting, body);
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(h.upstream.last().body().path("metadata").path("note").asText().contains("[EMAIL_1]"));
    }

    @Test
    void disguisedValuesAreFoundAfterNormalisationAndRedactedWhole() throws Exception {
        String[] disguised = {
            "card ４１１１ １１１１ １１１１ １１１１",            // fullwidth digits
            "mail jane\u200B.doe@exa\u200Dmple.com",          // zero-width space and joiner
            "mail ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ",                // fullwidth letters and at sign
            "card 4111\u00AD1111\u00AD1111\u00AD1111",        // soft hyphens
        };
        for (String text : disguised) {
            HttpResponse<String> r = h.post("/v1/chat/completions", key,
                    "{\"model\":\"up-ok\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":" + q(text) + "}]}");
            assertEquals(403, r.statusCode(), text + " -> " + r.body());
        }
        String redacting = h.key("redacting", "red", Map.of());
        HttpResponse<String> r = h.post("/v1/chat/completions", redacting,
                "{\"model\":\"up-ok\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":" + q("mail jane\u200B.doe@example.com now") + "}]}");
        assertEquals(200, r.statusCode(), r.body());
        String forwarded = h.upstream.last().body().toString();
        assertTrue(forwarded.contains("mail [EMAIL_1] now"), forwarded);
        assertFalse(forwarded.contains("jane") || forwarded.contains("example.com"), "no fragment of the disguised value: " + forwarded);
    }
}
