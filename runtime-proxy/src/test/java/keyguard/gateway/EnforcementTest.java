package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import keyguard.counters.KeyCounters;
import keyguard.keys.KeyRecord;
import keyguard.policy.CounterRef;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a policy promises, held exactly by a real gateway under 200 concurrent callers, and
 * given back on every way a request can end.
 */
class EnforcementTest {
    static final int CLIENTS = 200;
    static final int K = 37;

    GatewayHarness h;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp);
    }

    @AfterEach
    void stop() {
        h.close();
    }

    static String chat(String model, boolean stream, int maxTokens) {
        return "{\"model\":\"" + model + "\",\"max_tokens\":" + maxTokens + ",\"stream\":" + stream
                + (stream ? ",\"stream_options\":{\"include_usage\":true}" : "")
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"tell me everything about counters\"}]}";
    }

    /** One request's tokens (prompt + 3) and cost in micro-dollars, as the simulator answers it. */
    long[] probe() throws Exception {
        HttpResponse<String> r = h.post("/v1/chat/completions", h.key("all", "probe", Map.of()), chat("sim-small", false, 3));
        assertEquals(200, r.statusCode(), r.body());
        JsonNode usage = GatewayHarness.json(r).path("usage");
        long prompt = usage.path("prompt_tokens").asLong();
        assertEquals(3, usage.path("completion_tokens").asLong(), "the reply must fill max_tokens, so usage equals the reservation");
        return new long[] {prompt + 3, prompt * 1 + 3 * 2}; // sim-small: 1 and 2 usd per 1m tokens
    }

    void policies(String text) throws Exception {
        Files.writeString(h.policies.resolve("limits.kgp"), text);
        h.restart();
    }

    static String usd(long micros) {
        return String.format("%d.%06d", micros / 1_000_000, micros % 1_000_000);
    }

    /** Fires {@value #CLIENTS} requests at once, round-robin over the keys, every other one streaming. */
    List<HttpResponse<String>> storm(List<String> keys) {
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            HttpRequest req = HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
                    .header("authorization", "Bearer " + keys.get(i % keys.size())).header("content-type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(chat("sim-small", i % 2 == 0, 3))).build();
            all.add(h.http.sendAsync(req, HttpResponse.BodyHandlers.ofString()));
        }
        return all.stream().map(CompletableFuture::join).toList();
    }

    static long count(List<HttpResponse<String>> rs, int status) {
        return rs.stream().filter(r -> r.statusCode() == status).count();
    }

    long used(String keySecret, String counter) {
        String id = keySecret.split("-")[1];
        KeyRecord key = h.gateway.keys().get(id);
        KeyCounters kc = h.gateway.enforcer().counters(id, h.gateway.policies().set().policy(key.policy()));
        return kc.used(CounterRef.parse(counter));
    }

    @Test
    void aHardBudgetThatFitsKRequestsAdmitsExactlyKOf200ConcurrentOnes() throws Exception {
        long cost = probe()[1];
        long cap = K * cost + cost - 1;
        policies("policy budgeted { models allow [\"sim-small\"] budget " + usd(cap) + " usd per day hard by key limit concurrent 1_000 by key }");
        String key = h.key("budgeted", "b", Map.of());
        List<HttpResponse<String>> rs = storm(List.of(key));
        assertEquals(K, count(rs, 200));
        assertEquals(CLIENTS - K, count(rs, 429));
        for (HttpResponse<String> r : rs) {
            if (r.statusCode() != 429) continue;
            JsonNode e = GatewayHarness.json(r).path("error");
            assertEquals("insufficient_quota", e.path("code").asText(), r.body());
            assertEquals("false", r.headers().firstValue("x-should-retry").orElse(""));
            assertEquals("budget.key.day", e.path("keyguard").path("rule").asText());
            assertEquals(cap, e.path("keyguard").path("limit").asLong());
            assertTrue(e.path("keyguard").path("used").asLong() <= cap);
            assertTrue(e.path("keyguard").path("resets_at").asText().endsWith("T00:00:00Z"), r.body());
        }
        assertEquals(K * cost, used(key, "spend.key.day"));
    }

    @Test
    void aRequestLimitOfKAdmitsExactlyKOf200ConcurrentOnes() throws Exception {
        // The default 64 in flight is lifted: a request refused by it would count against `limit requests` too.
        policies("policy limited { models allow [\"sim-small\"] limit requests " + K + " per 1h by key limit concurrent 1_000 by key }");
        String key = h.key("limited", "r", Map.of());
        List<HttpResponse<String>> rs = storm(List.of(key));
        assertEquals(K, count(rs, 200));
        for (HttpResponse<String> r : rs) {
            if (r.statusCode() == 200) {
                assertEquals(Integer.toString(K), r.headers().firstValue("x-ratelimit-limit-requests").orElse(""));
                continue;
            }
            assertEquals(429, r.statusCode());
            assertEquals("rate_limit_exceeded", GatewayHarness.json(r).path("error").path("code").asText(), r.body());
            long retry = Long.parseLong(r.headers().firstValue("retry-after").orElseThrow());
            assertTrue(retry > 3500 && retry <= 3960, "retry-after " + retry + " s: when the first requests leave the hour");
            assertEquals("0", r.headers().firstValue("x-ratelimit-remaining-requests").orElse(""));
        }
        assertEquals(K, used(key, "requests.key.1h"));
    }

    @Test
    void aTokenLimitThatFitsKRequestsAdmitsExactlyKOf200ConcurrentOnes() throws Exception {
        long tokens = probe()[0];
        policies("policy tokened { models allow [\"sim-small\"] limit tokens " + (K * tokens + tokens - 1) + " per 1h by key limit concurrent 1_000 by key }");
        String key = h.key("tokened", "t", Map.of());
        List<HttpResponse<String>> rs = storm(List.of(key));
        assertEquals(K, count(rs, 200));
        assertEquals(CLIENTS - K, count(rs, 429));
        assertEquals(K * tokens, used(key, "tokens.key.1h"));
    }

    @Test
    void twoKeysSharingAPolicyBudgetAdmitExactlyKBetweenThem() throws Exception {
        long cost = probe()[1];
        long cap = K * cost + cost - 1;
        policies("policy shared { models allow [\"sim-small\"] budget " + usd(cap) + " usd per day hard by policy limit concurrent 1_000 by key }");
        String a = h.key("shared", "a", Map.of());
        String b = h.key("shared", "b", Map.of());
        List<HttpResponse<String>> rs = storm(List.of(a, b));
        assertEquals(K, count(rs, 200));
        assertEquals(K * cost, used(a, "spend.policy.day"));
        assertEquals(K * cost, used(b, "spend.policy.day"));
    }

    @Test
    void successfulResponsesAndStreamsCarryRateLimitHeadersBeforeTheFirstByte() throws Exception {
        policies("policy headed { models allow [\"sim-small\"] limit requests 10 per 1m by key limit tokens 100000 per 1d by key }");
        String key = h.key("headed", "h", Map.of());
        HttpResponse<String> r = h.post("/v1/chat/completions", key, chat("sim-small", false, 3));
        assertEquals("10", r.headers().firstValue("x-ratelimit-limit-requests").orElse(""));
        assertEquals("9", r.headers().firstValue("x-ratelimit-remaining-requests").orElse(""));
        assertTrue(r.headers().firstValue("x-ratelimit-reset-requests").orElse("").matches("\\d+(\\.\\d+)?s|\\d+m\\d+s"));
        assertEquals("100000", r.headers().firstValue("x-ratelimit-limit-tokens").orElse(""));
        HttpResponse<InputStream> s = h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(chat("sim-small", true, 3))).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals("8", s.headers().firstValue("x-ratelimit-remaining-requests").orElse(""));
        s.body().readAllBytes();
    }

    @Test
    void everyWayARequestEndsGivesBackItsConcurrencySlotAndUnusedTokens() throws Exception {
        policies("policy exits { models allow [\"up-ok\", \"up-500\", \"up-cut\", \"up-slow\", \"up-endless\", \"down\"]\n"
                + "  limit concurrent 1 by key\n  limit tokens 1_000_000 per 1h by key }");
        String key = h.key("exits", "x", Map.of());
        assertEquals(502, h.post("/v1/chat/completions", key, chat("up-500", false, 1000)).statusCode());
        awaitReleased(key);
        assertEquals(0, used(key, "tokens.key.1h"), "a call the upstream refused uses no tokens");
        assertEquals(502, h.post("/v1/chat/completions", key, chat("down", false, 1000)).statusCode());
        awaitReleased(key);
        assertEquals(0, used(key, "tokens.key.1h"), "an unreachable upstream never had the request");
        assertEquals(504, h.post("/v1/chat/completions", key, chat("up-slow", false, 1000)).statusCode());
        awaitReleased(key);
        long timedOut = used(key, "tokens.key.1h");
        // No answer in time: the provider had the request and may bill all of it, so the whole reservation is charged.
        assertTrue(timedOut > 1000 && timedOut < 1100, "a timed-out call is charged its reservation: " + timedOut);

        HttpResponse<String> cut = h.post("/v1/chat/completions", key, chat("up-cut", true, 1000));
        assertEquals(200, cut.statusCode());
        awaitReleased(key);
        long afterCut = used(key, "tokens.key.1h");
        assertTrue(afterCut - timedOut > 0 && afterCut - timedOut < 1000, "the cut stream is charged what it used, not its reservation: " + afterCut);

        HttpResponse<InputStream> endless = h.http.send(HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(chat("up-endless", true, 1000))).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        BufferedReader in = new BufferedReader(new InputStreamReader(endless.body(), StandardCharsets.UTF_8));
        for (int i = 0; i < 3; i++) in.readLine();
        assertEquals(429, h.post("/v1/chat/completions", key, chat("up-ok", false, 5)).statusCode(), "the stream holds the only slot");
        endless.body().close(); // the caller hangs up mid-stream
        awaitReleased(key);
        long hungUp = used(key, "tokens.key.1h") - afterCut;
        // The provider may go on generating after the caller left: the whole reservation (prompt + cap) is charged.
        assertTrue(hungUp > 1000 && hungUp < 1100, "a caller gone mid-stream is charged its reservation: " + hungUp);
        assertEquals(200, h.post("/v1/chat/completions", key, chat("up-ok", false, 5)).statusCode());
        awaitReleased(key);
    }

    @Test
    void withoutTokenLimitsOrBudgetsTheGatewaySkipsCountingYetUsageIsExact() throws Exception {
        policies("policy roomy { models allow [\"sim-small\"] limit requests 1000 per 1d by key limit tokens 10_000_000 per 1d by policy }\n"
                + "policy uncounted { models allow [\"sim-small\"] limit requests 1000 per 1d by key }");
        String counted = h.key("roomy", "c", Map.of());
        assertEquals(200, h.post("/v1/chat/completions", counted, chat("sim-small", false, 3)).statusCode());
        String key = h.key("uncounted", "u", Map.of());
        HttpResponse<String> r = h.post("/v1/chat/completions", key, chat("sim-small", false, 3));
        assertEquals(200, r.statusCode());
        long exact = keyguard.tokens.TokenCounter.CL100K.countPrompt(List.of("tell me everything about counters"));
        assertEquals(exact, GatewayHarness.json(r).path("usage").path("prompt_tokens").asLong(), "the simulator counts on demand");
        // The response reaches the caller just before the call is settled: wait for it.
        for (int i = 0; i < 200 && used(counted, "tokens.policy.1d") != exact + 3; i++) Thread.sleep(10);
        assertEquals(exact + 3, used(counted, "tokens.policy.1d"), "where a token limit applies, counted exactly and settled to usage");
    }

    @Test
    void aPolicyThatReadsTheEstimateIsAlwaysCountedExactly() throws Exception {
        String words = "counters ".repeat(40); // 360 bytes, 41 tokens: the bound alone would deny
        policies("policy sized { models allow [\"sim-small\"]\n  @id(\"big\")\n"
                + "  forbid when { request.estimated_tokens > 100 } }");
        String key = h.key("sized", "s", Map.of());
        String body = "{\"model\":\"sim-small\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"" + words + "\"}]}";
        assertEquals(200, h.post("/v1/chat/completions", key, body).statusCode());
    }

    @Test
    void aPromptTooCostlyToCountOnTheIoThreadIsCountedOnAWorkerAndAnswered() throws Exception {
        Files.writeString(h.platform.resolve("o200k.kgp"), "model \"gpt-4o-local\" { provider sim price input 1 usd per 1m tokens,"
                + " output 2 usd per 1m tokens max_class internal }\n");
        policies("policy big { models allow [\"gpt-4o-local\"]\n  @id(\"huge\")\n  forbid when { request.estimated_tokens > 100_000 } }");
        String key = h.key("big", "b", Map.of());
        // ~1.5 KB: parsed on the IO thread (under 2 KiB), but o200k on it would cost ~5x cl100k
        // on 2 KiB, so the count and the rest of the request move to a worker.
        String text = "Keyguard counts tokens before forwarding. ".repeat(35);
        String body = "{\"model\":\"gpt-4o-local\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
        HttpResponse<String> r = h.post("/v1/chat/completions", key, body);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(keyguard.tokens.TokenCounter.O200K.countPrompt(List.of(text)),
                GatewayHarness.json(r).path("usage").path("prompt_tokens").asLong());
    }

    @Test
    void aRequestWithoutMaxTokensReservesThePolicysDefault() throws Exception {
        long prompt = keyguard.tokens.TokenCounter.CL100K.countPrompt(List.of("tell me everything about counters"));
        policies("policy defaulted { models allow [\"sim-small\"] limit tokens " + (prompt + 49) + " per 1h by key\n"
                + "  default max_tokens 50 }");
        String key = h.key("defaulted", "d", Map.of());
        String noMax = "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"tell me everything about counters\"}]}";
        HttpResponse<String> refused = h.post("/v1/chat/completions", key, noMax);
        assertEquals(429, refused.statusCode(), "prompt + the default 50 does not fit");
        assertTrue(refused.body().contains("can never pass"), refused.body());
        assertEquals(200, h.post("/v1/chat/completions", key, chat("sim-small", false, 10)).statusCode());
    }

    @Test
    void aSoftBudgetNeverRefusesWarnsInAHeaderAndLogsOncePerPeriod() throws Exception {
        long cost = probe()[1];
        policies("policy soft { models allow [\"sim-small\"] budget " + usd(3 * cost) + " usd per day soft warn at 50% by key }");
        String key = h.key("soft", "s", Map.of());
        List<String> warnings = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            HttpResponse<String> r = h.post("/v1/chat/completions", key, chat("sim-small", false, 3));
            assertEquals(200, r.statusCode(), "a soft budget never refuses");
            warnings.add(r.headers().firstValue("x-keyguard-budget-warning").orElse(""));
            for (int w = 0; w < 200 && used(key, "spend.key.day") != (i + 1) * cost; w++) Thread.sleep(10);
        }
        assertEquals("", warnings.get(0));
        assertEquals("budget.key.day reached 50%", warnings.get(1));
        assertEquals("budget.key.day reached 50%; budget.key.day soft cap exceeded", warnings.get(5));
        assertEquals(1, h.logLines.stream().filter(l -> l.startsWith("keyguard.budget") && l.contains("reached 50%")).count());
        assertEquals(1, h.logLines.stream().filter(l -> l.startsWith("keyguard.budget") && l.contains("exceeded")).count());
        assertEquals(6 * cost, used(key, "spend.key.day"), "spend is counted past a soft cap");
    }

    void awaitReleased(String key) throws InterruptedException {
        for (int i = 0; i < 200 && used(key, "concurrent.key") != 0; i++) Thread.sleep(25);
        assertEquals(0, used(key, "concurrent.key"), "the concurrency slot must be given back");
    }
}
