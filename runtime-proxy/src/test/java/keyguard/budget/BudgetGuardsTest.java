package keyguard.budget;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a key cannot get past: a hard budget, whatever the request asks for; its request
 * limit, however many refused requests it sends; parameters that change the price; and
 * the policy's cap on the output.
 */
class BudgetGuardsTest {
    GatewayHarness h;
    BillingUpstream provider;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        provider = new BillingUpstream();
        h = new GatewayHarness(tmp, false);
        Files.writeString(h.platform.resolve("models.kgp"), BudgetReconciliationTest.models(provider.port()));
        Files.writeString(h.policies.resolve("policies.kgp"), """
                policy capped {
                  models allow ["o-standard", "a-cache"]
                  budget 2 usd per day hard
                  limit concurrent 200 by key
                  on unscannable allow
                }
                policy refuser {
                  models allow ["o-standard"]
                  limit requests 100 per 1h
                }
                policy strict {
                  models allow ["o-standard", "o-priority"]
                  limit max_tokens 100
                }
                policy clamping {
                  models allow ["o-standard"]
                  limit max_tokens 100 clamp
                  allow params ["store"]
                }
                """);
        h.start();
    }

    @AfterEach
    void stop() {
        h.close();
        provider.close();
    }

    /** Requests built to spend as much as possible: no output cap, five choices, huge tools, large images, cache writes. */
    static String adversarial(int i) {
        String tools = "[" + String.join(",", java.util.Collections.nCopies(20,
                "{\"type\":\"function\",\"function\":{\"name\":\"t\",\"description\":\"" + "describe every field at length ".repeat(30)
                        + "\",\"parameters\":{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}}}}}")) + "]";
        String image = "data:image/png;base64," + Base64.getEncoder().encodeToString(keyguard.testing.Png.of(2048, 4096));
        return switch (i % 4) {
            case 0 -> "{\"model\":\"o-standard\",\"n\":5,\"messages\":[{\"role\":\"user\",\"content\":\"write forever\"}]}";
            case 1 -> "{\"model\":\"o-standard\",\"n\":5,\"stream\":true,\"tools\":" + tools
                    + ",\"messages\":[{\"role\":\"user\",\"content\":\"call every tool\"}]}";
            case 2 -> "{\"model\":\"o-standard\",\"n\":3,\"messages\":[{\"role\":\"user\",\"content\":["
                    + "{\"type\":\"text\",\"text\":\"describe\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + image + "\"}},"
                    + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + image + "\"}}]}]}";
            default -> BudgetReconciliationTest.anthropic("a-cache", i % 8 == 3, "").replace("\"max_tokens\":64", "\"max_tokens\":4000");
        };
    }

    @Test
    void twoHundredAdversarialRequestsAtOnceNeverMakeTheProviderBillMoreThanTheHardBudget() throws Exception {
        String key = h.key("capped", "adversary", Map.of());
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            String path = i % 4 == 3 ? "/v1/messages" : "/v1/chat/completions";
            HttpRequest req = HttpRequest.newBuilder(URI.create(h.base() + path)).timeout(Duration.ofSeconds(60))
                    .header("authorization", "Bearer " + key).header("content-type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(adversarial(i))).build();
            all.add(h.http.sendAsync(req, HttpResponse.BodyHandlers.ofString()));
        }
        int admitted = 0;
        int throttled = 0;
        for (CompletableFuture<HttpResponse<String>> f : all) {
            HttpResponse<String> r = f.get();
            if (r.statusCode() == 200) admitted++;
            else if (r.statusCode() == 429) throttled++;
            else throw new AssertionError("unexpected " + r.statusCode() + ": " + r.body());
        }
        assertTrue(admitted > 0 && throttled > 0, admitted + " admitted, " + throttled + " throttled: the budget must bind");
        long billed = 0;
        for (BillingUpstream.Bill b : provider.bills) {
            billed += BudgetReconciliationTest.micros(b, b.mode().equals("cache") ? BudgetReconciliationTest.ANTHROPIC : BudgetReconciliationTest.OPENAI, "1");
            long cap = b.request().hasNonNull("max_completion_tokens") ? b.request().get("max_completion_tokens").asLong() : b.request().path("max_tokens").asLong(-1);
            assertTrue(cap > 0, "every request forwarded carries an output cap: " + b.request().path("model"));
        }
        assertEquals(admitted, provider.bills.size());
        assertTrue(billed <= 2_000_000, "the provider billed " + billed + " micro-dollars against a hard budget of 2,000,000");
        long recorded = 0;
        for (String line : h.admin().get("admin/audit?limit=1000").raw().split("\n")) {
            if (!line.isBlank()) recorded += BillingUpstream.JSON.readTree(line).path("cost_micros").asLong();
        }
        assertTrue(recorded >= billed, "Keyguard recorded " + recorded + ", less than the provider billed (" + billed + ")");
        assertTrue(recorded <= 2_000_000, "recorded " + recorded);
    }

    @Test
    void tenThousandRefusedRequestsAreThrottledByTheRequestLimit() throws Exception {
        String key = h.key("refuser", "flood", Map.of());
        String body = "{\"model\":\"a-cache\",\"messages\":[{\"role\":\"user\",\"content\":\"not my model\"}]}";
        int parallel = 8;
        Semaphore inFlight = new Semaphore(parallel);
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            inFlight.acquire();
            HttpRequest req = HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(30))
                    .header("authorization", "Bearer " + key).header("content-type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build();
            all.add(h.http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).whenComplete((r, e) -> inFlight.release()));
        }
        int refused = 0;
        int throttled = 0;
        for (CompletableFuture<HttpResponse<String>> f : all) {
            HttpResponse<String> r = f.get();
            if (r.statusCode() == 403) refused++;
            else if (r.statusCode() == 429) throttled++;
            else throw new AssertionError("unexpected " + r.statusCode() + ": " + r.body());
        }
        // Each refusal is counted as it is answered, so at most the requests in flight at once pass the gate together.
        assertTrue(refused >= 100 && refused <= 100 + parallel, refused + " refused by the policy before the limit bound");
        assertEquals(10_000 - refused, throttled);
        HttpResponse<String> last = h.post("/v1/chat/completions", key, body);
        assertEquals(429, last.statusCode(), last.body());
        assertTrue(last.headers().firstValue("retry-after").isPresent());
        assertEquals("limit.requests.key.1h", GatewayHarness.json(last).path("error").path("keyguard").path("rule").asText(), last.body());
        assertTrue(provider.bills.isEmpty(), "nothing refused reaches the provider");
    }

    @Test
    void aParameterThatChangesThePriceIsRefusedUnlessPricedOrAllowed() throws Exception {
        String strict = h.key("strict", "strict", Map.of());
        HttpResponse<String> store = h.post("/v1/chat/completions", strict,
                "{\"model\":\"o-standard\",\"store\":true,\"messages\":[{\"role\":\"user\",\"content\":\"keep this\"}]}");
        assertEquals(400, store.statusCode(), store.body());
        JsonNode error = GatewayHarness.json(store).path("error");
        assertEquals("parameter_not_allowed", error.path("code").asText(), store.body());
        assertEquals("store", error.path("param").asText(), store.body());
        HttpResponse<String> unpricedTier = h.post("/v1/chat/completions", strict,
                "{\"model\":\"o-standard\",\"service_tier\":\"priority\",\"messages\":[{\"role\":\"user\",\"content\":\"fast\"}]}");
        assertEquals(400, unpricedTier.statusCode(), unpricedTier.body());
        HttpResponse<String> pricedTier = h.post("/v1/chat/completions", strict,
                "{\"model\":\"o-priority\",\"service_tier\":\"priority\",\"messages\":[{\"role\":\"user\",\"content\":\"fast\"}]}");
        assertEquals(200, pricedTier.statusCode(), pricedTier.body());
        String clamping = h.key("clamping", "clamping", Map.of());
        HttpResponse<String> allowed = h.post("/v1/chat/completions", clamping,
                "{\"model\":\"o-standard\",\"store\":true,\"messages\":[{\"role\":\"user\",\"content\":\"keep this\"}]}");
        assertEquals(200, allowed.statusCode(), allowed.body());
    }

    @Test
    void limitMaxTokensRefusesOrClampsALargerCapAndIsTheCapSentWhenNoneIsAsked() throws Exception {
        String strict = h.key("strict", "strict", Map.of());
        HttpResponse<String> big = h.post("/v1/chat/completions", strict,
                "{\"model\":\"o-standard\",\"max_tokens\":500,\"messages\":[{\"role\":\"user\",\"content\":\"long\"}]}");
        assertEquals(400, big.statusCode(), big.body());
        assertEquals("max_tokens_exceeds_limit", GatewayHarness.json(big).path("error").path("code").asText(), big.body());
        HttpResponse<String> none = h.post("/v1/chat/completions", strict,
                "{\"model\":\"o-standard\",\"messages\":[{\"role\":\"user\",\"content\":\"default\"}]}");
        assertEquals(200, none.statusCode(), none.body());
        assertEquals(100, provider.bills.poll().request().path("max_completion_tokens").asLong());
        String clamping = h.key("clamping", "clamping", Map.of());
        HttpResponse<String> clamped = h.post("/v1/chat/completions", clamping,
                "{\"model\":\"o-standard\",\"max_tokens\":500,\"messages\":[{\"role\":\"user\",\"content\":\"long\"}]}");
        assertEquals(200, clamped.statusCode(), clamped.body());
        assertEquals("100", clamped.headers().firstValue("x-keyguard-max-tokens-clamped").orElse(""));
        assertEquals(100, provider.bills.poll().request().path("max_tokens").asLong());
        assertEquals(100, GatewayHarness.json(clamped).path("usage").path("completion_tokens").asLong());
    }
}
