package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeySecrets;
import keyguard.keys.KeyState;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** What the gateway does on the wire, checked at both ends: the caller's and the upstream's. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProxyBehaviourTest {
    GatewayHarness h;
    String key;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp);
        key = h.key("all", "behaviour", Map.of("env", "test"));
    }

    @AfterAll
    void stop() {
        h.close();
    }

    static String chat(String model, boolean stream) {
        return "{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}]}";
    }

    @Test
    void theUpstreamGetsTheGatewaysCredentialAndItsModelNameNeverTheCallersKey() throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + key).header("x-api-key", key).header("x-custom", "kept-out")
                .POST(HttpRequest.BodyPublishers.ofString(chat("up-ok", false))).build();
        HttpResponse<String> r = h.http.send(req, HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        FakeUpstream.Received got = h.upstream.last();
        assertEquals("Bearer " + GatewayHarness.UPSTREAM_CREDENTIAL, got.header("authorization"));
        assertNull(got.header("x-api-key"));
        assertNull(got.header("x-custom"));
        assertEquals("ok", got.body().path("model").asText(), "the upstream model name from models.kgp");
        assertEquals("ping", got.body().path("messages").path(0).path("content").asText());
        assertTrue(r.headers().firstValue("x-keyguard-decision-id").orElseThrow().startsWith("dec_"));
        assertFalse(r.body().contains(GatewayHarness.UPSTREAM_CREDENTIAL));
    }

    /** The body reader grows towards a declared length and hands an exact buffer on; chunked bodies grow by doubling. */
    @Test
    void requestBodiesOfEverySizeArriveWholeWhetherDeclaredOrChunked() throws Exception {
        for (int size : new int[] {0, 1, 1023, 1024, 1025, 3000, 70_000}) {
            String text = "w".repeat(size);
            String body = "{\"model\":\"up-ok\",\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            for (boolean chunked : new boolean[] {false, true}) {
                HttpRequest.BodyPublisher publisher = chunked
                        // no length known up front: the client sends it chunked, in parts of 4 KB
                        ? HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(bytes)))
                        : HttpRequest.BodyPublishers.ofByteArray(bytes);
                HttpRequest req = HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions"))
                        .header("authorization", "Bearer " + key).header("content-type", "application/json").POST(publisher).build();
                HttpResponse<String> r = h.http.send(req, HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), size + (chunked ? " chunked: " : " declared: ") + r.body());
                assertEquals(text, h.upstream.last().body().path("messages").path(0).path("content").asText(),
                        size + (chunked ? " bytes chunked" : " bytes declared"));
            }
        }
    }

    @Test
    void anthropicCallsPassThroughWithTheAnthropicCredentialAndVersion() throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(h.base() + "/v1/messages")).header("x-api-key", key)
                .header("anthropic-version", "2023-06-01")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"claude\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"bonjour\"}]}"))
                .build();
        HttpResponse<String> r = h.http.send(req, HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        FakeUpstream.Received got = h.upstream.last();
        assertEquals("/anthropic/messages", got.path());
        assertEquals(GatewayHarness.ANTHROPIC_CREDENTIAL, got.header("x-api-key"));
        assertEquals("2023-06-01", got.header("anthropic-version"));
        assertNull(got.header("authorization"));
        assertEquals(FakeUpstream.anthropicMessage("echo: bonjour"), r.body(), "passthrough: byte for byte");
    }

    @Test
    void anAnthropicShapedCallToAnOpenAiUpstreamIsTranslatedBothWays() throws Exception {
        HttpResponse<String> r = h.post("/v1/messages", key,
                "{\"model\":\"up-ok\",\"max_tokens\":64,\"system\":\"be brief\",\"messages\":[{\"role\":\"user\",\"content\":\"hola\"}]}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode sent = h.upstream.last().body();
        assertEquals("system", sent.path("messages").path(0).path("role").asText());
        assertEquals(64, sent.path("max_completion_tokens").asInt(), "the field current OpenAI models read (the provider's `output_cap`)");
        assertTrue(sent.path("max_tokens").isMissingNode());
        JsonNode reply = GatewayHarness.json(r);
        assertEquals("message", reply.path("type").asText());
        assertEquals("echo: hola", reply.path("content").path(0).path("text").asText());
        assertEquals(11, reply.path("usage").path("input_tokens").asInt());
    }

    @Test
    void streamsAreForwardedAsTheyArriveNotBufferedWhole() throws Exception {
        h.upstream.release = new CountDownLatch(1);
        HttpRequest req = HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions")).header("authorization", "Bearer " + key)
                .POST(HttpRequest.BodyPublishers.ofString(chat("up-held", true))).build();
        HttpResponse<InputStream> r = h.http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("content-type").orElseThrow().startsWith("text/event-stream"));
        assertTrue(r.headers().firstValue("x-keyguard-decision-id").isPresent(), "gateway headers come before the first byte");
        BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
        String first = in.readLine(); // the upstream holds the rest until released
        assertTrue(first.startsWith("data: ") && first.contains("\"role\":\"assistant\""), first);
        h.upstream.release.countDown();
        List<String> rest = new ArrayList<>();
        for (String line = in.readLine(); line != null; line = in.readLine()) if (!line.isEmpty()) rest.add(line);
        assertEquals("data: [DONE]", rest.get(rest.size() - 1));
        assertFalse(String.join("\n", rest).contains("\"usage\""), "the caller did not ask for the usage chunk");
        assertTrue(h.upstream.last().body().path("stream_options").path("include_usage").asBoolean(), "but the gateway asked the upstream");
    }

    /**
     * The caller's socket stays registered for reads while a provider runs (no epoll_ctl per
     * request): bytes that arrive meanwhile, here a pipelined request, must wait for the
     * exchange to end, be answered after it, and not set the IO thread looping on a socket
     * that stays readable.
     */
    @Test
    void aRequestPipelinedBehindAStreamIsAnsweredAfterItWithoutBusyLooping() throws Exception {
        h.upstream.release = new CountDownLatch(1);
        String second = "{\"model\":\"up-ok\",\"messages\":[{\"role\":\"user\",\"content\":\"pipelined\"}]}";
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", h.gateway.address().getPort())) {
            s.setSoTimeout(10_000); // every read below has this deadline
            s.getOutputStream().write(rawPost(chat("up-held", true)).getBytes(StandardCharsets.UTF_8));
            StringBuilder seen = new StringBuilder();
            readUntil(s.getInputStream(), seen, "\"role\":\"assistant\""); // the stream's first event: the upstream now holds the rest
            // Sent now, the next request waits in the socket (sent with the first, Undertow would have read it into its buffer).
            s.getOutputStream().write(rawPost(second).getBytes(StandardCharsets.UTF_8));

            java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
            assertTrue(mx.isThreadCpuTimeSupported() && mx.isThreadCpuTimeEnabled(), "this check needs per-thread CPU time");
            assertTrue(ioThreadsCpuNanos(mx) > 0, "no XNIO I/O thread found to measure");
            long before = ioThreadsCpuNanos(mx);
            Thread.sleep(500);
            long spent = ioThreadsCpuNanos(mx) - before;
            assertTrue(spent < TimeUnit.MILLISECONDS.toNanos(150),
                    "IO threads used " + spent / 1_000_000 + " ms of CPU in 500 ms while a pipelined request waited: a read-ready loop");

            h.upstream.release.countDown();
            readUntil(s.getInputStream(), seen, "echo: pipelined");
            String wire = seen.toString();
            int secondAnswer = wire.lastIndexOf("HTTP/1.1 200");
            assertTrue(wire.startsWith("HTTP/1.1 200") && secondAnswer > 0, wire);
            assertTrue(wire.indexOf("data: [DONE]") > 0 && wire.indexOf("data: [DONE]") < secondAnswer, "the stream ends before the next answer: " + wire);
        }
        assertEquals(200, h.post("/v1/chat/completions", key, chat("up-ok", false)).statusCode(), "the gateway keeps serving");
    }

    private String rawPost(String body) {
        return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key
                + "\r\nContent-Type: application/json\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
    }

    private static void readUntil(InputStream in, StringBuilder seen, String marker) throws java.io.IOException {
        byte[] b = new byte[8192];
        while (!seen.toString().contains(marker)) {
            int n = in.read(b);
            if (n < 0) throw new java.io.EOFException("closed before " + marker + ": " + seen);
            seen.append(new String(b, 0, n, StandardCharsets.UTF_8));
        }
    }

    private static long ioThreadsCpuNanos(java.lang.management.ThreadMXBean mx) {
        long sum = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("XNIO-") && t.getName().contains("I/O")) sum += Math.max(0, mx.getThreadCpuTime(t.threadId()));
        }
        return sum;
    }

    @Test
    void aStreamTheUpstreamCutsEndsWithAnErrorEvent() throws Exception {
        HttpResponse<String> r = h.post("/v1/chat/completions", key, chat("up-cut", true));
        assertEquals(200, r.statusCode());
        List<String> events = r.body().lines().filter(l -> l.startsWith("data: ")).toList();
        assertTrue(events.get(0).contains("chat.completion.chunk"), r.body());
        String last = events.get(events.size() - 1);
        assertTrue(last.contains("\"upstream_error\"") && last.contains("broke off"), last);
        assertEquals(200, h.post("/v1/chat/completions", key, chat("up-ok", false)).statusCode(), "the gateway keeps serving");
    }

    @Test
    void anAnthropicStreamCutMidwayEndsWithAnAnthropicErrorEvent() throws Exception {
        HttpResponse<String> r = h.post("/v1/messages", key, "{\"model\":\"claude-cut\",\"max_tokens\":9,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        assertEquals(200, r.statusCode());
        assertTrue(r.body().startsWith("event: message_start"), r.body());
        assertTrue(r.body().contains("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\""), r.body());
    }

    @Test
    void aCallerThatHangsUpMidStreamClosesTheUpstreamRequestAndIsSettledOnce() throws Exception {
        h.upstream.endlessStopped = new CountDownLatch(1);
        HttpRequest req = HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions")).header("authorization", "Bearer " + key)
                .POST(HttpRequest.BodyPublishers.ofString(chat("up-endless", true))).build();
        HttpResponse<InputStream> r = h.http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        String decision = r.headers().firstValue("x-keyguard-decision-id").orElseThrow();
        BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
        for (int i = 0; i < 3; i++) in.readLine();
        r.body().close(); // hang up
        assertTrue(h.upstream.endlessStopped.await(15, TimeUnit.SECONDS), "the upstream request must be closed when the caller leaves");
        long settled = 0;
        for (int i = 0; i < 50 && settled == 0; i++) {
            settled = h.logLines.stream().filter(l -> l.contains(decision)).count();
            Thread.sleep(50);
        }
        Thread.sleep(200);
        List<String> lines = h.logLines.stream().filter(l -> l.contains(decision)).toList();
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).contains("outcome=client_gone"), lines.get(0));
        assertEquals(200, h.post("/v1/chat/completions", key, chat("sim-small", false)).statusCode());
    }

    @Test
    void upstreamFailuresBecome502And504InTheCallersShape() throws Exception {
        HttpResponse<String> down = h.post("/v1/chat/completions", key, chat("down", false));
        assertEquals(502, down.statusCode());
        assertEquals("upstream_error", GatewayHarness.json(down).path("error").path("code").asText());
        assertTrue(down.body().contains("unreachable"), down.body());

        HttpResponse<String> rejected = h.post("/v1/chat/completions", key, chat("up-401", false));
        assertEquals(502, rejected.statusCode());
        assertTrue(rejected.body().contains("rejected Keyguard's credential"), rejected.body());
        assertFalse(rejected.body().contains("CREDENTIAL"), "the upstream quoted the key; its body must not be relayed");

        HttpResponse<String> slow = h.post("/v1/messages", key, "{\"model\":\"up-slow\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        assertEquals(504, slow.statusCode());
        assertEquals("error", GatewayHarness.json(slow).path("type").asText());
        assertEquals("api_error", GatewayHarness.json(slow).path("error").path("type").asText());

        HttpResponse<String> limited = h.post("/v1/chat/completions", key, chat("up-429", false));
        assertEquals(429, limited.statusCode());
        assertEquals("7", limited.headers().firstValue("retry-after").orElseThrow());
    }

    @Test
    void badInputGetsA400ThatNamesTheProblemNeverA500() throws Exception {
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("{\"model\": \"sim-small\", \"messages\": [", "not valid JSON");
        cases.put("[1, 2]", "must be a JSON object");
        cases.put("{\"messages\": [{\"role\":\"user\",\"content\":\"x\"}]}", "`model` is required");
        cases.put("{\"model\": \"sim-small\"}", "`messages` is required");
        cases.put("{\"model\": \"sim-small\", \"messages\": \"hi\"}", "`messages` must be a non-empty array");
        cases.put("{\"model\": 7, \"messages\": [{\"role\":\"user\",\"content\":\"x\"}]}", "`model` must be a non-empty string");
        cases.put("{\"model\": \"sim-small\", \"max_tokens\": -3, \"messages\": [{\"role\":\"user\",\"content\":\"x\"}]}", "`max_tokens` must be a positive integer");
        cases.put("{\"model\": \"sim-small\", \"stream\": \"yes\", \"messages\": [{\"role\":\"user\",\"content\":\"x\"}]}", "`stream` must be true or false");
        cases.put("{\"model\": \"sim-small\", \"messages\": [{\"role\":\"user\",\"content\":\"x\"}], \"x\":" + "[".repeat(100) + "]".repeat(100) + "}",
                "nested deeper than 64");
        for (var c : cases.entrySet()) {
            HttpResponse<String> r = h.post("/v1/chat/completions", key, c.getKey());
            assertEquals(400, r.statusCode(), c.getKey() + " -> " + r.body());
            assertTrue(GatewayHarness.json(r).path("error").path("message").asText().contains(c.getValue()), r.body());
        }
        byte[] invalidUtf8 = "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\u00e9\"}]}".getBytes(StandardCharsets.ISO_8859_1);
        HttpResponse<String> bad = h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofByteArray(invalidUtf8)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, bad.statusCode());
        assertTrue(bad.body().contains("not valid UTF-8"), bad.body());

        HttpResponse<String> big = h.post("/v1/chat/completions", key, "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "a".repeat(2 << 20) + "\"}]}");
        assertEquals(413, big.statusCode());
        assertEquals("request_too_large", GatewayHarness.json(big).path("error").path("code").asText());

        HttpResponse<String> anthropicMissingMax = h.post("/v1/messages", key, "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        assertEquals(400, anthropicMissingMax.statusCode());
        assertEquals("invalid_request_error", GatewayHarness.json(anthropicMissingMax).path("error").path("type").asText());

        HttpResponse<String> get = h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + key).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, get.statusCode());
        assertEquals(200, h.post("/v1/chat/completions", key, chat("sim-small", false)).statusCode(), "still serving");
    }

    @Test
    void noPathSkipsTheDecision() throws Exception {
        for (String path : List.of("/v1/chat/completions/../../admin/keys", "/v1/responses", "/v1/completions", "/admin/keys", "/v1/models/sim-small")) {
            HttpResponse<String> r = h.post(path, key, chat("sim-small", false));
            assertTrue(r.statusCode() == 404 || r.statusCode() == 400, path + " -> " + r.statusCode());
            assertTrue(h.upstream.received.stream().noneMatch(x -> x.path().contains("responses")), path);
        }
        HttpResponse<String> health = h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/healthz")).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode());
    }

    @Test
    void keysAreCheckedRevokedAndExpiredKeysAreToldSo() throws Exception {
        HttpResponse<String> missing = h.post("/v1/chat/completions", null, chat("sim-small", false));
        assertEquals(401, missing.statusCode());
        assertTrue(missing.body().contains("missing API key"));

        String secret = h.key("demo", "to-revoke", Map.of());
        assertEquals(200, h.post("/v1/chat/completions", secret, chat("sim-small", false)).statusCode());
        KeyRecord record = h.gateway.keys().get(KeySecrets.idOf(secret));
        h.gateway.keys().put(record.withState(KeyState.REVOKED));
        HttpResponse<String> revoked = h.post("/v1/chat/completions", secret, chat("sim-small", false));
        assertEquals(401, revoked.statusCode());
        assertTrue(revoked.body().contains("has been revoked"), revoked.body());

        var body = FakeUpstream.JSON.createObjectNode().put("policy", "demo").put("name", "old").put("expires_at", "2020-01-01T00:00:00Z");
        String expired = h.admin().post("admin/keys", body).body().path("secret").asText();
        HttpResponse<String> r = h.post("/v1/chat/completions", expired, chat("sim-small", false));
        assertEquals(401, r.statusCode());
        assertTrue(r.body().contains("expired at 2020-01-01T00:00:00Z"), r.body());

        String wrongSecret = secret.substring(0, secret.length() - 1) + (secret.endsWith("A") ? "B" : "A");
        assertEquals(401, h.post("/v1/chat/completions", wrongSecret, chat("sim-small", false)).statusCode());
    }

    @Test
    void aForbidRuleDeniesWithItsReasonAndTheKeyguardDetails() throws Exception {
        String blocked = h.key("demo", "blocked", Map.of());
        HttpResponse<String> r = h.post("/v1/chat/completions", blocked, chat("sim-small", false));
        assertEquals(403, r.statusCode());
        JsonNode e = GatewayHarness.json(r).path("error");
        assertEquals("policy_denied", e.path("code").asText());
        assertEquals("key `blocked` is blocked", e.path("message").asText());
        assertEquals("no-blocked", e.path("keyguard").path("rule").asText());
        assertEquals("demo", e.path("keyguard").path("policy").asText());
        assertEquals(h.gateway.policies().set().revision(), e.path("keyguard").path("revision").asText());
        assertEquals(r.headers().firstValue("x-keyguard-decision-id").orElseThrow(), e.path("keyguard").path("decision_id").asText());
    }

    @Test
    void keysSurviveARestart() throws Exception {
        String secret = h.key("demo", "durable", Map.of("env", "prod"));
        h.restart();
        assertEquals(200, h.post("/v1/chat/completions", secret, chat("sim-small", false)).statusCode());
        key = h.key("all", "behaviour", Map.of("env", "test"));
    }

    @Test
    void theAdminApiNeedsItsTokenAndNeverShowsSecretsOrHashes() throws Exception {
        HttpResponse<String> noToken = h.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/admin/keys"))
                .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(401, noToken.statusCode());
        String listed = h.admin().get("admin/keys").body().toString();
        assertFalse(listed.contains("secret"), listed);
        assertFalse(listed.contains("kg-"), listed);
        for (KeyRecord k : h.gateway.keys().all()) assertFalse(listed.contains(k.secretHash()));
        assertEquals(400, h.admin().post("admin/keys", FakeUpstream.JSON.createObjectNode().put("policy", "nope").put("name", "x")).status());
    }
}
