package keyguard.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 10: a request whose audit event could not be written was still answered normally.
 * By default the gateway fails closed: nothing is forwarded while the audit log cannot take
 * events (503 `audit_unavailable`), and a response whose event failed is not completed
 * normally. `--audit-failure open` keeps serving.
 */
class AuditFailClosedTest {
    static final String CHAT = "{\"model\":\"up-ok\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    @TempDir Path tmp;
    GatewayHarness h;

    @AfterEach
    void stop() {
        if (h != null) {
            h.upstream.release.countDown();
            h.close();
        }
    }

    @Test
    void whileTheAuditLogFailsNothingIsForwarded() throws Exception {
        h = new GatewayHarness(tmp);
        String key = h.key("all", "audited", Map.of());
        assertEquals(200, h.post("/v1/chat/completions", key, CHAT).statusCode());
        int before = h.upstream.received.size();
        h.gateway.audit().close(); // the disk is gone, as far as the log can tell
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> r = h.post("/v1/chat/completions", key, CHAT);
            assertEquals(503, r.statusCode(), r.body());
            assertTrue(r.body().contains("audit_unavailable"), r.body());
        }
        assertEquals(before, h.upstream.received.size(), "nothing was forwarded, so nothing was charged unaudited");
        var create = h.admin().post("admin/keys", keyguard.gateway.FakeUpstream.JSON.createObjectNode().put("policy", "demo").put("name", "x"));
        assertEquals(503, create.status(), "no admin change that could not be audited: " + create.body());
        assertEquals(1, h.gateway.keys().all().size());
    }

    @Test
    void aResponseWhoseEventFailsIsNotCompletedNormally() throws Exception {
        h = new GatewayHarness(tmp);
        String key = h.key("all", "held", Map.of());
        CompletableFuture<HttpResponse<String>> r = h.http.sendAsync(HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions"))
                .timeout(Duration.ofSeconds(20)).header("authorization", "Bearer " + key)
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"up-held\",\"max_tokens\":5,\"stream\":true,"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).build(), HttpResponse.BodyHandlers.ofString());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (h.gateway.enforcer().inFlight() == 0 && System.nanoTime() < deadline) Thread.sleep(10);
        h.gateway.audit().close();
        h.upstream.release.countDown();
        try {
            HttpResponse<String> done = r.get(20, TimeUnit.SECONDS);
            assertTrue(!done.body().contains("[DONE]"), "the stream is cut, never ended as if audited: " + done.body());
        } catch (java.util.concurrent.ExecutionException cut) {
            // the connection was closed under the stream: what the caller should see
        }
    }

    @Test
    void failOpenKeepsServing() throws Exception {
        h = new GatewayHarness(tmp, false);
        h.configure = c -> c.withAuditFailOpen(true);
        h.start();
        String key = h.key("all", "open", Map.of());
        h.gateway.audit().close();
        assertEquals(200, h.post("/v1/chat/completions", key, CHAT).statusCode());
    }
}
