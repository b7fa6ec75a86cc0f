package keyguard.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.nio.file.Path;
import java.util.Map;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Repeated failed authentication from one address is slowed down, then refused with 429,
 * while a valid key from the same address keeps working at full speed: an attacker can slow
 * itself down, never lock out a key.
 */
class FailedAuthenticationTest {
    static final String CHAT = "{\"model\":\"sim-small\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    GatewayHarness h;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp);
    }

    @AfterEach
    void stop() {
        h.close();
    }

    @Test
    void anAddressThatKeepsFailingIsSlowedThenRefusedWhileValidKeysPass() throws Exception {
        String valid = h.key("demo", "valid", Map.of());
        String wrong = valid.substring(0, valid.length() - 4) + (valid.endsWith("AAAA") ? "BBBB" : "AAAA");
        for (int i = 0; i < 10; i++) assertEquals(401, h.post("/v1/chat/completions", wrong, CHAT).statusCode());
        long t0 = System.nanoTime();
        assertEquals(401, h.post("/v1/chat/completions", wrong, CHAT).statusCode());
        assertTrue(System.nanoTime() - t0 >= 90_000_000L, "the 11th failure waits at least 100 ms");
        // An attacker in parallel: the failures count when they happen, whatever their answers wait.
        List<CompletableFuture<HttpResponse<String>>> burst = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            burst.add(h.http.sendAsync(HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(30))
                    .header("authorization", "Bearer kg-aaaaaaaaaaaa-" + "x".repeat(43)).POST(HttpRequest.BodyPublishers.ofString(CHAT)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        long refused = 0;
        for (var f : burst) {
            HttpResponse<String> r = f.get(30, TimeUnit.SECONDS);
            assertTrue(r.statusCode() == 401 || r.statusCode() == 429, r.statusCode() + " " + r.body());
            if (r.statusCode() == 429) {
                refused++;
                assertTrue(r.body().contains("too_many_failed_authentications") && r.headers().firstValue("retry-after").isPresent(), r.body());
            }
        }
        assertTrue(refused >= 10, "past 30 failures in a minute the address is refused at once: " + refused);
        // An unauthenticated request's body is never drained: the connection closes after the answer.
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", h.gateway.address().getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
                    + "Content-Length: 100000000\r\n\r\n{").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            java.io.InputStream in = s.getInputStream();
            byte[] buf = new byte[8192];
            int n;
            long deadline = System.nanoTime() + 10_000_000_000L;
            while ((n = in.read(buf)) >= 0 && System.nanoTime() < deadline) { /* the answer, then the end */ }
            assertEquals(-1, n, "closed after the answer");
        }
        HttpResponse<String> ok = h.post("/v1/chat/completions", valid, CHAT);
        assertEquals(200, ok.statusCode(), "a valid key from the same address is never held back: " + ok.body());
    }
}
