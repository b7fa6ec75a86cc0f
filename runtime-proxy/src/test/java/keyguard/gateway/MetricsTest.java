package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsTest {
    @Test
    void metricsCountRequestsByOutcomeTokensSpendAndTheRevision(@TempDir Path tmp) throws Exception {
        try (GatewayHarness h = new GatewayHarness(tmp)) {
            String key = h.key("demo", "m", Map.of());
            String ok = "{\"model\":\"sim-small\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            assertEquals(200, h.post("/v1/chat/completions", key, ok).statusCode());
            assertEquals(200, h.post("/v1/chat/completions", key, ok).statusCode());
            assertEquals(403, h.post("/v1/chat/completions", key, ok.replace("sim-small", "up-ok")).statusCode());
            String text = "";
            for (int i = 0; i < 100 && !text.contains("outcome=\"ok\",policy=\"demo\"} 2.0"); i++) {
                HttpResponse<String> r = h.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + h.gateway.adminAddress().getPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode());
                assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/plain"));
                text = r.body();
                Thread.sleep(20);
            }
            assertTrue(text.contains("keyguard_requests_total{model=\"sim-small\",outcome=\"ok\",policy=\"demo\"} 2.0"), text);
            assertTrue(text.contains("keyguard_requests_total{model=\"up-ok\",outcome=\"model_not_allowed\",policy=\"demo\"} 1.0"), text);
            assertTrue(text.contains("keyguard_tokens_total{kind=\"completion\",model=\"sim-small\",policy=\"demo\"} 6.0"), text);
            assertTrue(text.contains("keyguard_spend_usd_total{model=\"sim-small\",policy=\"demo\"}"), text);
            assertTrue(text.contains("keyguard_policy_revision_info{revision=\"" + h.gateway.policies().set().revision() + "\"} 1"), text);
            assertTrue(text.contains("keyguard_gateway_seconds_bucket"), text);
            assertTrue(text.contains("keyguard_upstream_seconds_count 2"), text);
            assertTrue(text.contains("keyguard_requests_in_flight 0"), text);
            assertTrue(text.contains("keyguard_policy_reload_failures_total 0"), text);
        }
    }

    @Test
    void observingRequestsWakesNoSchedulerThread() {
        keyguard.metrics.Metrics metrics = new keyguard.metrics.Metrics(() -> null, () -> 0, () -> 0);
        for (int i = 0; i < 3; i++) metrics.completed("demo", "sim-small", 14, 4, 42, 200_000, 2_000_000);

        // The Prometheus client samples exemplars by default, and each sampler schedules a
        // task on its own thread after an observation: one more thread waking up ~70 times a
        // second under load, for exemplars the gateway has no trace context to fill.
        List<String> scheduler = Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
                .filter(n -> n.startsWith("prometheus-metrics-scheduler")).toList();
        assertEquals(List.of(), scheduler);
    }
}
