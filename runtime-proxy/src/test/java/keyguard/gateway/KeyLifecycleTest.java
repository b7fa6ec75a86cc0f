package keyguard.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import keyguard.admin.AdminClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Revoke and rotate through the admin API, seen from the data plane. */
class KeyLifecycleTest {
    static final String CHAT = "{\"model\":\"sim-small\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    GatewayHarness h;
    keyguard.counters.Fixtures.MovableClock clock;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp);
        clock = new keyguard.counters.Fixtures.MovableClock(Instant.parse("2026-11-27T10:00:00Z"));
        h.clock = clock;
        h.restart();
    }

    @AfterEach
    void stop() {
        h.close();
    }

    static String id(String secret) { return secret.split("-")[1]; }

    ObjectNode rotation(String grace, String requestId) {
        ObjectNode b = FakeUpstream.JSON.createObjectNode().put("grace", grace);
        if (requestId != null) b.put("request_id", requestId);
        return b;
    }

    @Test
    void aRevokedKeyIsRefusedOnItsNextRequest() throws Exception {
        String key = h.key("demo", "r", Map.of());
        assertEquals(200, h.post("/v1/chat/completions", key, CHAT).statusCode());
        AdminClient.Reply r = h.admin().post("admin/keys/" + id(key) + "/revoke", FakeUpstream.JSON.createObjectNode());
        assertEquals(200, r.status());
        assertEquals("revoked", r.body().path("state").asText());
        HttpResponse<String> refused = h.post("/v1/chat/completions", key, CHAT);
        assertEquals(401, refused.statusCode());
        assertTrue(refused.body().contains("has been revoked"), refused.body());
        assertEquals(200, h.admin().post("admin/keys/" + id(key) + "/revoke", FakeUpstream.JSON.createObjectNode()).status(), "idempotent");
        assertEquals(409, h.admin().post("admin/keys/" + id(key) + "/rotate", rotation("0s", null)).status());
    }

    @Test
    void aRotatedKeysOldSecretWorksUntilTheGraceDeadlineThenSaysWhy() throws Exception {
        String old = h.key("demo", "rot", Map.of());
        AdminClient.Reply r = h.admin().post("admin/keys/" + id(old) + "/rotate", rotation("1h", "req-1"));
        assertEquals(201, r.status(), r.body().toString());
        String fresh = r.body().path("secret").asText();
        assertNotEquals(old, fresh);
        assertTrue(fresh.startsWith("kg-" + id(old) + "-"), "same key id, new secret");
        assertFalse(r.body().has("secret_hash"));
        assertEquals("2026-11-27T11:00:00Z", r.body().path("rotation").path("previous_valid_until").asText());

        assertEquals(200, h.post("/v1/chat/completions", old, CHAT).statusCode(), "within the grace period");
        assertEquals(200, h.post("/v1/chat/completions", fresh, CHAT).statusCode());
        clock.advance(3_600_000);
        HttpResponse<String> late = h.post("/v1/chat/completions", old, CHAT);
        assertEquals(401, late.statusCode());
        assertTrue(late.body().contains("was replaced at 2026-11-27T10:00:00Z and stopped working at 2026-11-27T11:00:00Z"), late.body());
        assertEquals(200, h.post("/v1/chat/completions", fresh, CHAT).statusCode());
    }

    @Test
    void retryingARotationWithTheSameRequestIdMintsNoSecondSecret() throws Exception {
        String old = h.key("demo", "idem", Map.of());
        String first = h.admin().post("admin/keys/" + id(old) + "/rotate", rotation("1h", "req-7")).body().path("secret").asText();
        AdminClient.Reply retry = h.admin().post("admin/keys/" + id(old) + "/rotate", rotation("1h", "req-7"));
        assertEquals(200, retry.status(), "a retry, not a new rotation");
        assertEquals(first, retry.body().path("secret").asText());
        assertEquals(200, h.post("/v1/chat/completions", old, CHAT).statusCode(), "the original secret is still the previous one");
        String second = h.admin().post("admin/keys/" + id(old) + "/rotate", rotation("0s", "req-8")).body().path("secret").asText();
        assertNotEquals(first, second);
        assertEquals(401, h.post("/v1/chat/completions", first, CHAT).statusCode(), "replaced without grace: gone at once");
        assertEquals(200, h.post("/v1/chat/completions", old, CHAT).statusCode(), "two rotations ago, but within its own grace");
        assertEquals(200, h.post("/v1/chat/completions", second, CHAT).statusCode());
        assertEquals(409, h.admin().post("admin/keys/" + id(old) + "/rotate", rotation("1h", "req-7")).status(),
                "the request id of an earlier rotation is refused, never re-minted");
    }

    @Test
    void rotationSurvivesARestartAndTheStoreHoldsNoSecret() throws Exception {
        String old = h.key("demo", "persist", Map.of());
        String fresh = h.admin().post("admin/keys/" + id(old) + "/rotate", rotation("1h", "req-1")).body().path("secret").asText();
        h.restart();
        assertEquals(200, h.post("/v1/chat/completions", old, CHAT).statusCode());
        assertEquals(200, h.post("/v1/chat/completions", fresh, CHAT).statusCode());
        byte[] store = Files.readAllBytes(h.data.resolve("keys.dat"));
        String raw = new String(store, java.nio.charset.StandardCharsets.ISO_8859_1);
        assertFalse(raw.contains(fresh.substring(16)) || raw.contains(old.substring(16)), "only hashes are stored");
    }

    @Test
    void anExpiredKeyIsToldItExpired() throws Exception {
        ObjectNode body = FakeUpstream.JSON.createObjectNode().put("policy", "demo").put("name", "short").put("expires_in", "1h");
        String key = h.admin().post("admin/keys", body).body().path("secret").asText();
        assertEquals(200, h.post("/v1/chat/completions", key, CHAT).statusCode());
        clock.advance(3_600_000);
        HttpResponse<String> r = h.post("/v1/chat/completions", key, CHAT);
        assertEquals(401, r.statusCode());
        assertTrue(r.body().contains("expired at 2026-11-27T11:00:00Z"), r.body());
    }
}
