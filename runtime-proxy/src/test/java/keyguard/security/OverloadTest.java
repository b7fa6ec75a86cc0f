package keyguard.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import keyguard.gateway.GatewayConfig;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 6: one key could make every request fail with 500 (the process-wide reservation
 * pool ran out), and Undertow had no timeouts and no connection cap (slowloris). A full pool
 * answers 503 `overloaded`; every policy caps a key's requests in flight; slow callers are
 * cut off and their reservations released; a silent upstream is not the caller's fault.
 */
class OverloadTest {
    static final Duration SHORT = Duration.ofMillis(600);

    @TempDir Path tmp;
    GatewayHarness h;

    @BeforeEach
    void start() throws Exception {
        h = new GatewayHarness(tmp, false);
        h.configure = c -> c.withCounters(new GatewayConfig.Counters(10_000, 4, Duration.ofMinutes(30), Duration.ofSeconds(1)))
                .withConnections(new GatewayConfig.Connections(SHORT, SHORT, SHORT, Duration.ofSeconds(5), 100));
        h.start();
    }

    @AfterEach
    void stop() {
        h.upstream.release.countDown();
        h.close();
    }

    static String chat(String model, boolean stream) {
        return "{\"model\":\"" + model + "\",\"max_tokens\":5,\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    CompletableFuture<HttpResponse<String>> async(String key, String body) {
        return h.http.sendAsync(HttpRequest.newBuilder(java.net.URI.create(h.base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(30))
                .header("authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    void awaitInFlight(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (h.gateway.enforcer().inFlight() != n && System.nanoTime() < deadline) Thread.sleep(10);
        assertEquals(n, h.gateway.enforcer().inFlight());
    }

    @Test
    void aFullReservationPoolAnswers503OverloadedAndRecovers() throws Exception {
        String key = h.key("all", "greedy", Map.of());
        List<CompletableFuture<HttpResponse<String>>> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) held.add(async(key, chat("up-held", true)));
        awaitInFlight(4);
        HttpResponse<String> fifth = h.post("/v1/chat/completions", key, chat("sim-small", false));
        assertEquals(503, fifth.statusCode(), fifth.body());
        assertTrue(fifth.body().contains("\"code\":\"overloaded\""), fifth.body());
        assertEquals("1", fifth.headers().firstValue("retry-after").orElse(""));
        h.upstream.release.countDown();
        for (var f : held) assertEquals(200, f.get(30, TimeUnit.SECONDS).statusCode());
        awaitInFlight(0);
        assertEquals(200, h.post("/v1/chat/completions", key, chat("sim-small", false)).statusCode());
    }

    @Test
    void everyPolicyCapsTheRequestsOneKeyHasInFlight() {
        // `all` sets no concurrency limit: it gets the default per-key cap.
        var policy = h.gateway.policies().set().policy("all");
        var cap = policy.concurrency().stream().filter(l -> l.id().equals("limit.concurrent.key")).findFirst().orElseThrow();
        assertEquals(keyguard.policy.Policy.DEFAULT_KEY_CONCURRENCY, cap.amount());
        assertEquals("default", cap.origin());
    }

    /** Opens a raw connection to the data plane. */
    Socket connect() throws IOException {
        Socket s = new Socket("127.0.0.1", h.gateway.address().getPort());
        s.setSoTimeout(5_000);
        return s;
    }

    static boolean closedWithin(Socket s, Duration d) throws IOException {
        s.setSoTimeout((int) d.toMillis());
        InputStream in = s.getInputStream();
        try {
            while (true) {
                int b = in.read();
                if (b < 0) return true;
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException reset) {
            return true;
        }
    }

    @Test
    void aCallerThatSendsItsHeadersSlowlyIsCutOff() throws Exception {
        try (Socket s = connect()) {
            OutputStream out = s.getOutputStream();
            out.write("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertTrue(closedWithin(s, Duration.ofSeconds(5)), "the gateway closes a request head that never completes");
        }
    }

    @Test
    void aCallerThatSendsItsBodySlowlyIsCutOff() throws Exception {
        String key = h.key("all", "trickle", Map.of());
        try (Socket s = connect()) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key
                    + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"model\":").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertTrue(closedWithin(s, Duration.ofSeconds(5)), "a body that stops arriving is cut off");
        }
        assertEquals(0, h.gateway.enforcer().inFlight());
    }

    @Test
    void aCallerThatStopsReadingIsCutOffAndItsReservationReleased() throws Exception {
        String key = h.key("all", "sleepy", Map.of());
        h.upstream.endlessStopped = new CountDownLatch(1);
        try (Socket s = new Socket()) {
            s.setReceiveBufferSize(4096);
            s.connect(new java.net.InetSocketAddress("127.0.0.1", h.gateway.address().getPort()));
            OutputStream out = s.getOutputStream();
            String body = chat("up-flood", true);
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            awaitInFlight(1);
            // Never read: the gateway's writes back up, and after the write timeout it gives up.
            assertTrue(h.upstream.endlessStopped.await(20, TimeUnit.SECONDS), "the upstream request was cancelled");
            awaitInFlight(0);
        }
    }

    @Test
    void aSilentUpstreamIsNotTheCallersSlowness() throws Exception {
        String key = h.key("all", "patient", Map.of());
        CompletableFuture<HttpResponse<String>> r = async(key, chat("up-held", true));
        awaitInFlight(1);
        Thread.sleep(3 * SHORT.toMillis()); // longer than every caller timeout
        h.upstream.release.countDown();
        HttpResponse<String> done = r.get(30, TimeUnit.SECONDS);
        assertEquals(200, done.statusCode());
        assertTrue(done.body().contains("[DONE]"), done.body());
    }

    @Test
    void connectionsBeyondTheCapWaitUntilOthersClose() throws Exception {
        h.close();
        h = new GatewayHarness(tmp.resolve("capped"), false);
        h.configure = c -> c.withConnections(new GatewayConfig.Connections(Duration.ofSeconds(30), Duration.ofSeconds(30),
                Duration.ofSeconds(30), Duration.ofSeconds(30), 2));
        h.start();
        // XNIO splits the cap evenly over the IO threads (see docs/internals.md), so with a cap
        // of 2 one or two of three connections are served at once, never three.
        List<Socket> served = new ArrayList<>();
        List<Socket> waiting = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                Socket s = connect();
                s.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                s.setSoTimeout(1_000);
                try {
                    if (s.getInputStream().read() >= 0) served.add(s);
                } catch (SocketTimeoutException e) {
                    waiting.add(s);
                }
            }
            assertTrue(!served.isEmpty() && served.size() <= 2, "served at once: " + served.size());
            assertTrue(!waiting.isEmpty(), "beyond the cap a connection waits");
            for (Socket s : served) s.close();
            for (Socket s : waiting) {
                s.setSoTimeout(20_000);
                assertTrue(s.getInputStream().read() >= 0, "served once the others closed");
            }
        } finally {
            for (Socket s : served) s.close();
            for (Socket s : waiting) s.close();
        }
    }
}
