package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Five hundred streams open at once: the upstream holds every one of them after its first
 * event until all have arrived, so the gateway must keep 500 upstream requests and 500
 * caller responses in flight together (no pool or thread limit below that).
 *
 * <p>Regression test: about one stream in 500 used to stay stuck forever, because a
 * write's continuation ran inside Undertow's send callback, the upstream publisher
 * signalled completion synchronously from {@code request(1)}, and the final write was
 * refused as re-entrant (UT000043) on the IO thread, where nobody saw it.
 */
class ConcurrentStreamsTest {
    static final int STREAMS = 500;

    @Test
    void fiveHundredStreamsCanBeInFlightAtOnce(@TempDir Path tmp) throws Exception {
        try (GatewayHarness h = new GatewayHarness(tmp)) {
            // One key holds all 500: above the default per-key cap of 64, so its policy says so.
            java.nio.file.Files.writeString(h.policies.resolve("many.kgp"),
                    "policy many { models allow [\"up-held\", \"sim-small\"]  limit concurrent 1000 by key }\n");
            // The harness's 1 s header timeout is for its `slow` upstream. Here a cold gateway and a
            // thread-per-request fake upstream share two cores with 500 calls arriving at once: the
            // fake's first headers can take longer than that, and this test is about how many calls
            // can be in flight, not about timeouts.
            Path models = h.platform.resolve("models.kgp");
            java.nio.file.Files.writeString(models, java.nio.file.Files.readString(models).replace(
                    "credential env(\"UP_API_KEY\") timeout 1s", "credential env(\"UP_API_KEY\") timeout 30s"));
            h.restart();
            String key = h.key("many", "many", Map.of());
            h.upstream.release = new CountDownLatch(1);
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
            for (int i = 0; i < STREAMS; i++) {
                HttpRequest req = HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
                        .header("authorization", "Bearer " + key)
                        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"up-held\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"n" + i + "\"}]}"))
                        .build();
                futures.add(client.sendAsync(req, HttpResponse.BodyHandlers.ofString()));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (h.upstream.received.size() < STREAMS && System.nanoTime() < deadline) Thread.sleep(20);
            assertEquals(STREAMS, h.upstream.received.size(), "every stream reached the upstream while all were held open");
            assertTrue(futures.stream().noneMatch(CompletableFuture::isDone), "no stream finished before the upstream let go");
            h.upstream.release.countDown();
            for (CompletableFuture<HttpResponse<String>> f : futures) {
                HttpResponse<String> r = f.get(60, TimeUnit.SECONDS);
                assertEquals(200, r.statusCode());
                assertTrue(r.body().endsWith("data: [DONE]\n\n"), r.body());
            }
            assertEquals(200, h.post("/v1/chat/completions", key, "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}").statusCode());
        }
    }
}
