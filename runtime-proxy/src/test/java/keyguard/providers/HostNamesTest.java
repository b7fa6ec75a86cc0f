package keyguard.providers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A host name that takes long to resolve stalls only the calls to that host, never an IO thread's other callers. */
class HostNamesTest {
    static final String CHAT = "{\"model\":\"%s\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    @AfterEach
    void restore() {
        HostNames.lookup = HostNames.SYSTEM;
    }

    @Test
    void aSlowLookupHoldsItsOwnCallAndNoOther(@TempDir Path tmp) throws Exception {
        CountDownLatch asked = new CountDownLatch(1);
        CountDownLatch answer = new CountDownLatch(1);
        HostNames.lookup = host -> {
            if (host.equals("slow.upstream.test")) {
                asked.countDown();
                try {
                    if (!answer.await(30, TimeUnit.SECONDS)) throw new UnknownHostException("no answer");
                } catch (InterruptedException e) {
                    throw new UnknownHostException("interrupted");
                }
                return InetAddress.getLoopbackAddress();
            }
            if (host.equals("nowhere.upstream.test")) throw new UnknownHostException(host + ": Name or service not known");
            return HostNames.SYSTEM.resolve(host);
        };
        try (GatewayHarness h = new GatewayHarness(tmp, false)) {
            String up = "http://127.0.0.1:" + h.upstream.port();
            Files.writeString(h.platform.resolve("models.kgp"), GatewayHarness.models(h.upstream.port()) + """
                    provider slowdns { base_url "%s/openai" credential env("UP_API_KEY") timeout 30s }
                    provider nodns { base_url "http://nowhere.upstream.test:%d/openai" credential env("UP_API_KEY") }
                    model "up-slowdns" { provider slowdns upstream "ok" price input 1 usd per 1m tokens, output 1 usd per 1m tokens max_class internal }
                    model "up-nodns" { provider nodns upstream "ok" price input 1 usd per 1m tokens, output 1 usd per 1m tokens max_class internal }
                    """.formatted(up.replace("127.0.0.1", "slow.upstream.test"), h.upstream.port()));
            Files.writeString(h.policies.resolve("dns.kgp"), "policy dns { models allow [\"up-ok\", \"up-slowdns\", \"up-nodns\"] }\n");
            h.start();
            String key = h.key("dns", "dns", Map.of());

            CompletableFuture<HttpResponse<String>> slow = send(HttpClient.newHttpClient(), h, key, "up-slowdns");
            assertTrue(asked.await(20, TimeUnit.SECONDS), "the slow name is being looked up");
            // Each on a connection of its own, so they land on both IO threads: every one answers while the lookup hangs.
            for (int i = 0; i < 6; i++) {
                HttpResponse<String> r = send(HttpClient.newHttpClient(), h, key, "up-ok").get(20, TimeUnit.SECONDS);
                assertEquals(200, r.statusCode(), r.body());
            }
            assertTrue(!slow.isDone(), "the slow call waits for its name");
            answer.countDown();
            assertEquals(200, slow.get(20, TimeUnit.SECONDS).statusCode(), "then goes to the address it got");

            HttpResponse<String> nowhere = send(HttpClient.newHttpClient(), h, key, "up-nodns").get(20, TimeUnit.SECONDS);
            assertEquals(502, nowhere.statusCode(), nowhere.body());
            assertTrue(nowhere.body().contains("is unreachable"), nowhere.body());
        }
    }

    static CompletableFuture<HttpResponse<String>> send(HttpClient http, GatewayHarness h, String key, String model) {
        return http.sendAsync(HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions")).header("authorization", "Bearer " + key)
                .POST(HttpRequest.BodyPublishers.ofString(CHAT.formatted(model))).build(), HttpResponse.BodyHandlers.ofString());
    }
}
