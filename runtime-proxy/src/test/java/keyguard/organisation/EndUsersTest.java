package keyguard.organisation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import keyguard.counters.Fixtures;
import keyguard.gateway.FakeUpstream;
import keyguard.gateway.GatewayHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code by user} limits through a real gateway: one end user of a key is throttled and
 * another is not; the end user is read from the sources the policy trusts; a flood of
 * random end-user ids neither grows a key's counters beyond {@code end_users max} nor
 * escapes the limit (the rest share the overflow counters, or are refused until a tracked
 * end user is idle).
 */
class EndUsersTest {
    GatewayHarness h;
    Fixtures.MovableClock clock;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        h = new GatewayHarness(tmp, false);
        clock = new Fixtures.MovableClock(Instant.parse("2026-12-03T10:00:00Z"));
        h.clock = clock;
        Files.writeString(h.policies.resolve("bots.kgp"), """
                policy bot {
                  models allow ["sim-small"]
                  limit requests 3 per 1m by user
                  limit requests 1_000 per 1m by key
                  end_users { max 4 }
                }

                policy strict {
                  models allow ["sim-small"]
                  limit requests 3 per 1m by user
                  end_users { from ["header"] max 4 overflow refuse }
                }
                """);
        h.start();
    }

    @AfterEach
    void stop() {
        h.close();
    }

    HttpResponse<String> chat(String key, String bodyExtra, String header) throws Exception {
        String body = "{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" + bodyExtra + "}";
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(h.base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(20))
                .header("authorization", "Bearer " + key).header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (header != null) b.header("x-keyguard-user", header);
        return h.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode error(HttpResponse<String> r) throws Exception {
        return FakeUpstream.JSON.readTree(r.body()).path("error");
    }

    JsonNode usage(String name) throws Exception {
        for (JsonNode k : h.admin().get("admin/keys").body().path("keys")) {
            if (k.path("name").asText().equals(name)) return h.admin().get("admin/keys/" + k.path("id").asText() + "/usage").body();
        }
        throw new AssertionError("no key " + name);
    }

    @Test
    void aLimitByUserThrottlesOneEndUserAndNotAnotherThroughOneKey() throws Exception {
        String key = h.key("bot", "support-bot", Map.of());
        for (int i = 0; i < 3; i++) assertEquals(200, chat(key, ",\"user\":\"alice\"", null).statusCode());
        HttpResponse<String> fourth = chat(key, ",\"user\":\"alice\"", null);
        assertEquals(429, fourth.statusCode(), fourth.body());
        assertEquals("limit.requests.user.1m", error(fourth).path("keyguard").path("rule").asText(), fourth.body());
        assertEquals(200, chat(key, ",\"user\":\"bob\"", null).statusCode(), "bob has counters of his own");
        // Alice is alice wherever the request names her: metadata.user_id and the header.
        assertEquals(429, chat(key, ",\"metadata\":{\"user_id\":\"alice\"}", null).statusCode());
        assertEquals(429, chat(key, "", "alice").statusCode());
        // The body's field comes first: the header is read last.
        assertEquals(200, chat(key, ",\"user\":\"bob\"", "alice").statusCode());
        // A malformed id is a clear 400, never a counter.
        HttpResponse<String> bad = chat(key, ",\"user\":42", null);
        assertEquals(400, bad.statusCode());
        assertTrue(error(bad).path("message").asText().startsWith("the end user (`user`) must be a string of 1 to 256 characters"), bad.body());
        assertEquals(400, chat(key, "", "x".repeat(257)).statusCode());

        clock.advance(70_000); // the window passes: alice again
        assertEquals(200, chat(key, ",\"user\":\"alice\"", null).statusCode());

        // Each decision records the end user it was made for (a throttle at the request gate records no input at all).
        long named = 0;
        for (String line : h.admin().get("admin/audit?type=decision").raw().split("\n")) {
            if (!line.isBlank() && FakeUpstream.JSON.readTree(line).path("input").path("end_user").asText().equals("alice")) named++;
        }
        assertEquals(4, named, "alice's four admitted requests name her");
    }

    @Test
    void aFloodOfNewEndUsersNeitherGrowsTheKeysCountersNorEscapesTheLimit() throws Exception {
        String key = h.key("bot", "flooded", Map.of());
        int ok = 0;
        for (int i = 0; i < 120; i++) {
            // Random ids, as OpenAI asks for (hashed): an end user's id is scanned, but never taken for a secret.
            HttpResponse<String> r = chat(key, ",\"user\":\"" + java.util.UUID.randomUUID() + "\"", null);
            if (r.statusCode() == 200) ok++;
            else assertEquals("limit.requests.user.1m", error(r).path("keyguard").path("rule").asText(), r.body());
        }
        // Four end users get places of their own (one request each); the other 116 share the overflow's 3.
        assertEquals(4 + 3, ok);
        JsonNode u = usage("flooded");
        assertEquals(4, u.path("end_users").path("max").asInt(), u.toString());
        assertTrue(u.path("end_users").path("places").asInt() <= 4, "never more places than `max`: " + u);

        // Once the tracked end users are idle (their minute passed), new ones take their places.
        clock.advance(70_000);
        for (int i = 0; i < 4; i++) assertEquals(200, chat(key, ",\"user\":\"late-" + i + "\"", null).statusCode());
        for (int i = 0; i < 2; i++) assertEquals(200, chat(key, ",\"user\":\"late-0\"", null).statusCode());
        assertEquals(429, chat(key, ",\"user\":\"late-0\"", null).statusCode(), "late-0 meets its own limit in its place");
        assertEquals(4, usage("flooded").path("end_users").path("places").asInt());
    }

    @Test
    void withOverflowRefuseANewEndUserIsRefusedUntilATrackedOneIsIdle() throws Exception {
        String key = h.key("strict", "strict-bot", Map.of());
        for (int i = 0; i < 4; i++) assertEquals(200, chat(key, "", "user-" + i).statusCode());
        assertEquals(4, usageOf("strict-bot"), "four end users hold the four places");
        HttpResponse<String> fifth = chat(key, "", "user-4");
        assertEquals(429, fifth.statusCode(), fifth.body());
        assertEquals("end_users_exceeded", error(fifth).path("code").asText(), fifth.body());
        assertTrue(error(fifth).path("message").asText().startsWith("this key already counts 4 end users, the most policy `strict` tracks"), fifth.body());
        // The policy trusts only the header: a body's `user` is not an end user here (such requests share the "none" counters).
        assertEquals(200, chat(key, ",\"user\":\"someone-new\"", null).statusCode());
        clock.advance(70_000);
        assertEquals(200, chat(key, "", "user-4").statusCode(), "an idle place is taken over");
    }

    int usageOf(String name) throws Exception {
        JsonNode u = usage(name);
        return u.path("end_users").path("places").asInt();
    }
}
