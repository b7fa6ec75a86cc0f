package keyguard.budget;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ledger reconciles with the provider's bill: for every usage variant of both API
 * shapes, the spend Keyguard records for a request equals, to the micro-dollar, what the
 * provider bills for it under the declared prices, computed here from the provider's own
 * ledger ({@link BillingUpstream}) with the providers' published rules. Where the provider's
 * usage never reaches the gateway (the caller hung up first), the gateway charges the whole
 * reservation, which is never less than the bill.
 */
class BudgetReconciliationTest {
    /** USD per million units, as declared in {@link #models}. */
    record Prices(String input, String output, String cacheWrite, String cacheWrite1h, String cacheRead, String reasoning, String image,
                  String request, String webSearch) {}

    static final Prices OPENAI = new Prices("2.5", "10", "2.5", "5", "1.25", "12", "0.001", "0.0001", "0.025");
    /** `cache_write_1h` is not declared: the default, the higher of `cache_write` and twice `input`. */
    static final Prices ANTHROPIC = new Prices("3", "15", "3.75", "6", "0.3", "15", "0", "0", "0.01");

    static String models(int port) {
        String up = "http://127.0.0.1:" + port;
        StringBuilder sb = new StringBuilder("""
                provider oai { base_url "%s/openai" credential env("UP_API_KEY") timeout 5s }
                provider ant { kind anthropic base_url "%s/anthropic" credential env("ANTH_API_KEY") timeout 5s }
                provider impatient { base_url "%s/openai" credential env("UP_API_KEY") timeout 500ms }
                """.formatted(up, up, up));
        for (String mode : new String[] {"standard", "cached-reasoning", "tools-only", "no-usage", "empty-usage", "cut", "late", "trickle",
                "hang", "priority"}) {
            sb.append("model \"o-").append(mode).append("\" { provider ").append(mode.equals("hang") ? "impatient" : "oai")
                    .append(" upstream \"").append(mode).append("\"\n")
                    .append("  price input 2.5 usd per 1m tokens, output 10 usd per 1m tokens, cache_read 1.25 usd per 1m tokens,\n")
                    .append("        reasoning 12 usd per 1m tokens, image 0.001 usd per 1 image, request 0.1 usd per 1k requests,\n")
                    .append("        web_search 25 usd per 1k searches\n")
                    .append(mode.equals("priority") ? "  service_tier_priority 2\n  service_tier_flex 0.5\n" : "")
                    .append("  max_class internal }\n");
        }
        for (String mode : new String[] {"cache", "web-search", "tools-only", "no-usage", "priority"}) {
            sb.append("model \"a-").append(mode).append("\" { provider ant upstream \"").append(mode).append("\"\n")
                    .append("  price input 3 usd per 1m tokens, output 15 usd per 1m tokens, cache_write 3.75 usd per 1m tokens,\n")
                    .append("        cache_read 0.3 usd per 1m tokens, web_search 10 usd per 1k searches\n")
                    .append(mode.equals("priority") ? "  service_tier_priority 2\n" : "")
                    .append("  max_class internal }\n");
        }
        return sb.toString();
    }

    GatewayHarness h;
    BillingUpstream provider;
    String key;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        provider = new BillingUpstream();
        h = new GatewayHarness(tmp, false);
        Files.writeString(h.platform.resolve("models.kgp"), models(provider.port()));
        Files.writeString(h.policies.resolve("policies.kgp"), """
                policy all {
                  models allow ["o-standard", "o-cached-reasoning", "o-tools-only", "o-no-usage", "o-empty-usage", "o-cut", "o-late", "o-trickle",
                                "o-hang", "o-priority",
                                "a-cache", "a-web-search", "a-tools-only", "a-no-usage", "a-priority"]
                  budget 100 usd per day hard
                  on unscannable allow
                }
                """);
        h.start();
        key = h.key("all", "reconcile", Map.of());
    }

    @AfterEach
    void stop() {
        h.close();
        provider.close();
    }

    static String openAi(String model, boolean stream, String extra) {
        return "{\"model\":\"" + model + "\",\"stream\":" + stream + (stream ? ",\"stream_options\":{\"include_usage\":true}" : "") + extra
                + ",\"messages\":[{\"role\":\"system\",\"content\":\"You reconcile ledgers.\"},"
                + "{\"role\":\"user\",\"content\":\"How much did this request cost, to the micro-dollar?\"}]}";
    }

    static String anthropic(String model, boolean stream, String extra) {
        return "{\"model\":\"" + model + "\",\"max_tokens\":64,\"stream\":" + stream + extra
                + ",\"system\":[{\"type\":\"text\",\"text\":\"You reconcile ledgers. " + "Every token counts. ".repeat(40)
                + "\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"How much did this request cost, to the micro-dollar?\"}]}";
    }

    /** Sends a request; returns its audit event once the response is complete. */
    JsonNode send(String path, String body, int status) throws Exception {
        HttpResponse<String> r = h.post(path, key, body);
        assertEquals(status, r.statusCode(), r.body());
        return event(r.headers().firstValue("x-keyguard-decision-id").orElseThrow());
    }

    JsonNode event(String decisionId) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            for (String line : h.admin().get("admin/audit?limit=1000").raw().split("\n")) {
                if (line.isBlank()) continue;
                JsonNode e = BillingUpstream.JSON.readTree(line);
                if (e.path("decision_id").asText().equals(decisionId)) return e;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no audit event for " + decisionId);
    }

    BillingUpstream.Bill bill() {
        BillingUpstream.Bill b = provider.bills.poll();
        assertNotNull(b, "the provider billed nothing");
        assertTrue(provider.bills.isEmpty(), "one request, one bill");
        return b;
    }

    /** The bill in micro-dollars, by the published rule: every term at its price, times the tier, rounded up once. */
    static long micros(BillingUpstream.Bill b, Prices p, String tierMultiplier) {
        BigDecimal perMillion = BigDecimal.valueOf(1_000_000);
        BigDecimal usd = tokens(b.input(), p.input()).add(tokens(b.cacheWrite(), p.cacheWrite())).add(tokens(b.cacheWrite1h(), p.cacheWrite1h()))
                .add(tokens(b.cacheRead(), p.cacheRead()))
                .add(tokens(b.output(), p.output())).add(tokens(b.reasoning(), p.reasoning()))
                .add(new BigDecimal(p.image()).multiply(BigDecimal.valueOf(b.images())))
                .add(new BigDecimal(p.request()))
                .add(new BigDecimal(p.webSearch()).multiply(BigDecimal.valueOf(b.webSearches())));
        return usd.multiply(new BigDecimal(tierMultiplier)).multiply(perMillion).setScale(0, RoundingMode.CEILING).longValueExact();
    }

    private static BigDecimal tokens(long n, String usdPerMillion) {
        return new BigDecimal(usdPerMillion).multiply(BigDecimal.valueOf(n)).divide(BigDecimal.valueOf(1_000_000));
    }

    /**
     * What an o-* request reserved, in micro-dollars: its prompt estimate at the highest prompt
     * price (input, 2.5), its output cap at the highest output price (reasoning, 12), and the
     * per-request price (100 micro-dollars).
     */
    static long openAiReservation(JsonNode event, long cap) {
        return new BigDecimal("2.5").multiply(BigDecimal.valueOf(event.path("estimated_tokens").asLong()))
                .add(new BigDecimal("12").multiply(BigDecimal.valueOf(cap))).add(new BigDecimal("100"))
                .setScale(0, RoundingMode.CEILING).longValueExact();
    }

    void reconciles(JsonNode event, long expectedMicros, String chargedBy) {
        assertEquals(expectedMicros, event.path("cost_micros").asLong(), event.toString());
        assertEquals(chargedBy, event.path("usage").path("charged_by").asText(), event.toString());
    }

    @Test
    void openAiCachedInputAndReasoningAreChargedAtTheirOwnPrices() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            JsonNode e = send("/v1/chat/completions", openAi("o-cached-reasoning", stream, ",\"max_completion_tokens\":80"), 200);
            BillingUpstream.Bill b = bill();
            assertTrue(b.cacheRead() > 0 && b.reasoning() > 0, b.toString());
            reconciles(e, micros(b, OPENAI, "1"), "provider");
            assertEquals(b.cacheRead(), e.path("usage").path("cache_read").asLong());
            assertEquals(b.reasoning(), e.path("usage").path("reasoning").asLong());
        }
    }

    @Test
    void openAiThreeChoicesWithoutAnOutputCapGetTheReservedCapAndAreChargedThreeTimes() throws Exception {
        JsonNode e = send("/v1/chat/completions", openAi("o-standard", false, ",\"n\":3"), 200);
        BillingUpstream.Bill b = bill();
        assertEquals(1024, b.request().path("max_completion_tokens").asLong(), "the reserved cap is the cap sent upstream");
        assertEquals(3 * 1024, b.output());
        reconciles(e, micros(b, OPENAI, "1"), "provider");
    }

    @Test
    void openAiToolCallsWithoutTextAreCharged() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            JsonNode e = send("/v1/chat/completions", openAi("o-tools-only", stream, ",\"max_tokens\":50"), 200);
            BillingUpstream.Bill b = bill();
            assertTrue(b.output() > 0);
            reconciles(e, micros(b, OPENAI, "1"), "provider");
        }
    }

    @Test
    void openAiRepliesWithoutUsageAreCountedOverEveryChoiceAndToolCall() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            JsonNode e = send("/v1/chat/completions", openAi("o-no-usage", stream, ",\"n\":2,\"max_tokens\":60"), 200);
            BillingUpstream.Bill b = bill();
            reconciles(e, micros(b, OPENAI, "1"), "counted");
            assertEquals(b.output(), e.path("usage").path("output").asLong(), "both choices and the tool call");
        }
    }

    @Test
    void openAiUsageWithoutCountsIsNoReportAndTheReplyIsCounted() throws Exception {
        JsonNode e = send("/v1/chat/completions", openAi("o-empty-usage", false, ",\"max_tokens\":25"), 200);
        reconciles(e, micros(bill(), OPENAI, "1"), "counted");
    }

    @Test
    void openAiWebSearchOptionsAreChargedOneSearch() throws Exception {
        JsonNode e = send("/v1/chat/completions", openAi("o-standard", false, ",\"max_tokens\":25,\"web_search_options\":{}"), 200);
        BillingUpstream.Bill b = bill();
        assertEquals(1, b.webSearches());
        reconciles(e, micros(b, OPENAI, "1"), "provider");
    }

    /** No headers within the provider's timeout: the provider had the request and may bill all of it, so the reservation is charged. */
    @Test
    void anUpstreamTimeoutIsChargedTheWholeReservation() throws Exception {
        JsonNode e = send("/v1/chat/completions", openAi("o-hang", false, ",\"max_tokens\":300"), 504);
        assertEquals("upstream_timeout", e.path("outcome").asText());
        long reservation = openAiReservation(e, 300);
        reconciles(e, reservation, "reservation");
        assertTrue(reservation >= micros(bill(), OPENAI, "1"));
    }

    @Test
    void openAiStreamCutMidwayIsChargedWhatWasGenerated() throws Exception {
        JsonNode e = send("/v1/chat/completions", openAi("o-cut", true, ",\"max_tokens\":200"), 200);
        assertEquals("upstream_error", e.path("outcome").asText());
        BillingUpstream.Bill b = bill();
        assertEquals(30, b.output());
        reconciles(e, micros(b, OPENAI, "1"), "counted");
    }

    @Test
    void openAiImagesArePricedPerImageAndTheirTokensByTheTileRule() throws Exception {
        String png = "data:image/png;base64," + java.util.Base64.getEncoder().encodeToString(keyguard.testing.Png.of(1024, 1024));
        String body = "{\"model\":\"o-standard\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":["
                + "{\"type\":\"text\",\"text\":\"what is this?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + png + "\",\"detail\":\"high\"}}]}]}";
        JsonNode e = send("/v1/chat/completions", body, 200);
        BillingUpstream.Bill b = bill();
        assertEquals(1, b.images());
        assertTrue(e.path("estimated_tokens").asLong() >= 765, "a 1024x1024 high-detail image is 765 tokens: " + e);
        reconciles(e, micros(b, OPENAI, "1"), "provider");
    }

    @Test
    void openAiPriorityTierIsChargedAtItsMultiplier() throws Exception {
        JsonNode e = send("/v1/chat/completions", openAi("o-priority", false, ",\"max_tokens\":40,\"service_tier\":\"priority\""), 200);
        BillingUpstream.Bill b = bill();
        assertEquals("priority", b.tier());
        reconciles(e, micros(b, OPENAI, "2"), "provider");
        JsonNode flex = send("/v1/chat/completions", openAi("o-priority", false, ",\"max_tokens\":40,\"service_tier\":\"flex\""), 200);
        reconciles(flex, micros(bill(), OPENAI, "0.5"), "provider");
    }

    /**
     * A caller that hangs up before the response headers is not noticed until the gateway
     * writes to it: the reply is read to its end and charged by the provider's own usage.
     */
    @Test
    void aCallerGoneBeforeTheHeadersIsChargedWhatTheProviderBills() throws Exception {
        byte[] body = openAi("o-late", false, ",\"max_tokens\":500").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        try (java.net.Socket caller = new java.net.Socket("127.0.0.1", java.net.URI.create(h.base()).getPort())) {
            caller.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer " + key
                    + "\r\ncontent-type: application/json\r\ncontent-length: " + body.length + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            caller.getOutputStream().write(body);
            caller.getOutputStream().flush();
            Thread.sleep(400); // the provider answers after 1.5 s; the caller hangs up before
        }
        JsonNode e = awaitEvent("o-late");
        reconciles(e, micros(bill(), OPENAI, "1"), "provider");
    }

    /**
     * A caller that hangs up mid-stream cancels the upstream request before the provider's
     * usage report: the provider may go on generating, and billing, so the whole reservation
     * is charged, and it is never less than the bill.
     */
    @Test
    void aCallerGoneMidStreamIsChargedTheWholeReservation() throws Exception {
        java.net.http.HttpRequest req = java.net.http.HttpRequest.newBuilder(java.net.URI.create(h.base() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + key).header("content-type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(openAi("o-trickle", true, ",\"max_tokens\":200"))).build();
        HttpResponse<java.io.InputStream> r = h.http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(r.body(), java.nio.charset.StandardCharsets.UTF_8));
        for (int i = 0; i < 4; i++) in.readLine();
        r.body().close(); // hang up
        JsonNode e = awaitEvent("o-trickle");
        assertEquals("client_gone", e.path("outcome").asText(), e.toString());
        BillingUpstream.Bill b = bill();
        long reservation = openAiReservation(e, 200);
        reconciles(e, reservation, "reservation");
        assertTrue(reservation >= micros(b, OPENAI, "1"), "the whole reservation covers whatever the provider went on to bill");
    }

    JsonNode awaitEvent(String model) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (System.nanoTime() < deadline) {
            for (String line : h.admin().get("admin/audit?limit=1000").raw().split("\n")) {
                if (!line.isBlank() && line.contains("\"" + model + "\"")) return BillingUpstream.JSON.readTree(line);
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no audit event for a request to " + model);
    }

    @Test
    void anthropicCacheWritesAndReadsAreChargedAtTheirOwnPrices() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            JsonNode e = send("/v1/messages", anthropic("a-cache", stream, ""), 200);
            BillingUpstream.Bill b = bill();
            assertTrue(b.cacheWrite() > 0 && b.cacheRead() > 0, b.toString());
            reconciles(e, micros(b, ANTHROPIC, "1"), "provider");
            assertEquals(b.cacheWrite(), e.path("usage").path("cache_write").asLong());
        }
    }

    @Test
    void anthropicOneHourCacheWritesAreChargedAtTheirOwnPrice() throws Exception {
        JsonNode e = send("/v1/messages", anthropic("a-cache", false, "").replace("\"ephemeral\"}", "\"ephemeral\",\"ttl\":\"1h\"}"), 200);
        BillingUpstream.Bill b = bill();
        assertTrue(b.cacheWrite1h() > 0 && b.cacheWrite() == 0, b.toString());
        reconciles(e, micros(b, ANTHROPIC, "1"), "provider");
        assertEquals(b.cacheWrite1h(), e.path("usage").path("cache_write_1h").asLong());
    }

    @Test
    void anthropicWebSearchesArePricedAndCappedWhenTheToolHasNoMaxUses() throws Exception {
        JsonNode e = send("/v1/messages", anthropic("a-web-search", false,
                ",\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}]"), 200);
        BillingUpstream.Bill b = bill();
        assertEquals(5, b.request().path("tools").path(0).path("max_uses").asInt(), "the searches reserved are the searches allowed");
        assertEquals(2, b.webSearches());
        reconciles(e, micros(b, ANTHROPIC, "1"), "provider");
    }

    @Test
    void anthropicToolUseAndRepliesWithoutUsageAreCharged() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            reconciles(send("/v1/messages", anthropic("a-tools-only", stream, ""), 200), micros(bill(), ANTHROPIC, "1"), "provider");
        }
        String plain = "{\"model\":\"a-no-usage\",\"max_tokens\":64,\"stream\":%s,\"system\":\"You reconcile ledgers.\","
                + "\"messages\":[{\"role\":\"user\",\"content\":\"How much did this request cost?\"}]}";
        for (boolean stream : new boolean[] {false, true}) {
            JsonNode e = send("/v1/messages", plain.formatted(stream), 200);
            reconciles(e, micros(bill(), ANTHROPIC, "1"), "counted");
        }
    }

    @Test
    void anthropicPriorityTierReportedInUsageIsChargedAtItsMultiplier() throws Exception {
        JsonNode e = send("/v1/messages", anthropic("a-priority", false, ""), 200);
        BillingUpstream.Bill b = bill();
        reconciles(e, micros(b, ANTHROPIC, "2"), "provider");
        assertEquals("priority", e.path("usage").path("service_tier").asText());
    }
}
