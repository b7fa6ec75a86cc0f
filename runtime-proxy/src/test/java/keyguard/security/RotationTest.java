package keyguard.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import keyguard.admin.AdminClient;
import keyguard.counters.Fixtures;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import keyguard.keys.KeySecrets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 7: rotating twice ended the first grace at once, and replaying the first
 * rotation's request id after a second rotation handed out the first secret again, which
 * then worked again. Every replaced secret keeps its own grace; an earlier request id is 409.
 */
class RotationTest {
    static final String CHAT = "{\"model\":\"sim-small\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    GatewayHarness h;
    Fixtures.MovableClock clock = new Fixtures.MovableClock(Instant.parse("2026-11-27T10:00:00Z"));

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp, false);
        h.clock = clock;
        h.start();
    }

    @AfterEach
    void stop() {
        h.close();
    }

    static ObjectNode rotation(String grace, String requestId) {
        return FakeUpstream.JSON.createObjectNode().put("grace", grace).put("request_id", requestId);
    }

    int call(String secret) throws Exception {
        return h.post("/v1/chat/completions", secret, CHAT).statusCode();
    }

    @Test
    void everyReplacedSecretWorksUntilItsOwnGraceEnds() throws Exception {
        String s0 = h.key("demo", "rot", Map.of());
        String id = KeySecrets.idOf(s0);
        AdminClient admin = h.admin();
        String s1 = admin.post("admin/keys/" + id + "/rotate", rotation("2h", "r1")).body().path("secret").asText();
        clock.advance(1_800_000); // 10:30
        String s2 = admin.post("admin/keys/" + id + "/rotate", rotation("1h", "r2")).body().path("secret").asText();
        assertEquals(200, call(s0), "replaced at 10:00 with 2h of grace");
        assertEquals(200, call(s1), "replaced at 10:30 with 1h of grace");
        assertEquals(200, call(s2));
        clock.advance(3_600_000); // 11:30: s1's grace is over, s0's is not
        assertEquals(200, call(s0));
        assertEquals(401, call(s1));
        clock.advance(1_800_000); // 12:00: s0's is over too
        assertEquals(401, call(s0));
        assertEquals(200, call(s2));
    }

    @Test
    void theRequestIdOfAnEarlierRotationNeverBringsItsSecretBack() throws Exception {
        String s0 = h.key("demo", "replay", Map.of());
        String id = KeySecrets.idOf(s0);
        AdminClient admin = h.admin();
        String s1 = admin.post("admin/keys/" + id + "/rotate", rotation("0s", "r1")).body().path("secret").asText();
        AdminClient.Reply retry = admin.post("admin/keys/" + id + "/rotate", rotation("0s", "r1"));
        assertEquals(200, retry.status(), "a retry of the latest rotation is answered with its secret");
        assertEquals(s1, retry.body().path("secret").asText());
        String s2 = admin.post("admin/keys/" + id + "/rotate", rotation("0s", "r2")).body().path("secret").asText();
        assertNotEquals(s1, s2);
        AdminClient.Reply replay = admin.post("admin/keys/" + id + "/rotate", rotation("0s", "r1"));
        assertEquals(409, replay.status(), replay.body().toString());
        assertEquals("", replay.body().path("secret").asText(""), "no secret in the refusal");
        assertEquals(401, call(s1), "the first rotation's secret stays dead");
        assertEquals(200, call(s2));
    }
}
