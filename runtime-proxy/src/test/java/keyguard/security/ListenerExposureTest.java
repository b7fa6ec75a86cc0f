package keyguard.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import keyguard.gateway.GatewayConfig;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 5: `--host` moved the admin API (and the unauthenticated /metrics) with the data
 * plane. The admin listener has its own address, loopback unless moved on purpose, and
 * /metrics can require a token — and does by default once the admin listener leaves loopback.
 */
class ListenerExposureTest {
    @TempDir Path tmp;
    GatewayHarness h;

    @AfterEach
    void stop() {
        if (h != null) h.close();
    }

    HttpResponse<String> metrics(String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + h.gateway.adminAddress().getPort() + "/metrics"));
        if (token != null) b.header("authorization", "Bearer " + token);
        return h.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void theAdminApiStaysOnLoopbackWhenTheDataPlaneMoves() throws Exception {
        h = new GatewayHarness(tmp, false);
        h.configure = c -> c.withListeners("0.0.0.0", 0, "127.0.0.1", 0);
        h.start();
        assertTrue(h.gateway.address().getAddress().isAnyLocalAddress(), "the data plane listens everywhere");
        assertTrue(h.gateway.adminAddress().getAddress().isLoopbackAddress(), "the admin API stays on loopback");
        assertEquals(200, metrics(null).statusCode(), "on loopback, scrapers need no token");
    }

    @Test
    void metricsNeedATokenWhenTheOperatorSaysSo() throws Exception {
        h = new GatewayHarness(tmp, false);
        h.configure = c -> c.withMetricsAuth(GatewayConfig.MetricsAuth.TOKEN);
        h.start();
        assertEquals(401, metrics(null).statusCode());
        assertEquals(401, metrics("kgm-not-the-token-0123456789012345678901").statusCode());
        String token = Files.readString(h.data.resolve("metrics.token")).strip();
        HttpResponse<String> ok = metrics(token);
        assertEquals(200, ok.statusCode());
        assertTrue(ok.body().contains("keyguard_requests_in_flight"));
        assertEquals(200, metrics(h.gateway.adminToken()).statusCode(), "the admin token opens it too");
    }

    @Test
    void byDefaultMetricsNeedATokenOnceTheAdminListenerLeavesLoopback() {
        GatewayConfig d = GatewayConfig.defaults(tmp, tmp);
        assertFalse(d.metricsNeedToken(), "loopback: open");
        assertTrue(d.withListeners("127.0.0.1", 8080, "0.0.0.0", 8081).metricsNeedToken());
        assertTrue(d.withListeners("127.0.0.1", 8080, "10.1.2.3", 8081).metricsNeedToken());
        assertFalse(d.withListeners("127.0.0.1", 8080, "0.0.0.0", 8081).withMetricsAuth(GatewayConfig.MetricsAuth.NONE).metricsNeedToken());
    }
}
