package keyguard.fleet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import keyguard.gateway.GatewayHarness;
import keyguard.testing.RedisServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two gateways in this JVM (each with its own data directory) sharing one real Redis: the
 * quick checks of fleet mode; the three-process tests are in {@link FleetProcessesTest}.
 */
class FleetTwoNodesTest {
    static final String SECRET = "5f".repeat(32);

    RedisServer redis;
    GatewayHarness a;
    GatewayHarness b;

    /** Alerts both nodes send (a webhook receiver on loopback): their bodies. */
    final List<String> alerts = new java.util.concurrent.CopyOnWriteArrayList<>();
    com.sun.net.httpserver.HttpServer receiver;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        receiver = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        receiver.createContext("/hook", ex -> {
            alerts.add(new String(ex.getRequestBody().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
            ex.sendResponseHeaders(204, -1);
            ex.close();
        });
        receiver.start();
        redis = RedisServer.start(tmp.resolve("redis"), false);
        a = node(tmp.resolve("a"), "node-a");
        b = node(tmp.resolve("b"), "node-b");
    }

    GatewayHarness node(Path dir, String name) throws Exception {
        GatewayHarness h = new GatewayHarness(dir, false);
        h.env.put("KEYGUARD_SERVER_SECRET", SECRET);
        Files.writeString(h.policies.resolve("fleet.kgp"), """
                policy limited { models allow ["sim-small"] limit requests 40 per 1h by key limit concurrent 1_000 by key }
                policy spender { models allow ["sim-small"] tags { team: "payments" } }
                policy teamed { models allow ["sim-small"] }
                policy bots { models allow ["sim-small"] limit requests 2 per 1h by user }
                policy delegating { models allow ["sim-small"] budget 1.00 usd per day hard by key delegate max 2 depth 1 }
                policy watched { models allow ["pricey"] budget 1.00 usd per day hard by policy alert ops at 50%, 100% }
                """);
        Files.writeString(h.platform.resolve("org.kgp"), "org ops_unit { }\nteam ops { org ops_unit  limit requests 30 per 1h }\n");
        h.env.put("KEYGUARD_CHANNEL_OPS", "fleet-secret");
        Files.writeString(h.platform.resolve("alerts.kgp"), """
                model "pricey" { provider up upstream "ok" price input 10000 usd per 1m tokens, output 10000 usd per 1m tokens max_class internal }
                channel ops { kind webhook  url "http://127.0.0.1:%d/hook"  secret env("KEYGUARD_CHANNEL_OPS") }
                """.formatted(receiver.getAddress().getPort()));
        h.configure = c -> c.withFleet(FleetConfig.of(redis.uri(), null, name));
        h.start();
        return h;
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (a != null) a.close();
        } finally {
            try {
                if (b != null) b.close();
            } finally {
                redis.close();
                receiver.stop(0);
            }
        }
    }

    static String chat(boolean stream) {
        return "{\"model\":\"sim-small\",\"max_tokens\":3,\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"hello fleet\"}]}";
    }

    @Test
    void aKeyCreatedOnOneNodeWorksOnTheOtherAndItsRevocationIsAcknowledgedByBoth() throws Exception {
        String key = a.key("spender", "k", Map.of());
        assertEquals(200, b.post("/v1/chat/completions", key, chat(false)).statusCode(), "created on a, known on b at once");
        String id = key.split("-")[1];
        var revoked = a.admin().post("admin/keys/" + id + "/revoke", FakeJson.empty());
        assertEquals(200, revoked.status(), revoked.body().toString());
        assertEquals(0, revoked.body().path("fleet").path("unacknowledged_nodes").size(), revoked.body().toString());
        HttpResponse<String> after = b.post("/v1/chat/completions", key, chat(false));
        assertEquals(401, after.statusCode(), after.body());
    }

    /** A SCIM call to one node, as an identity provider behind a load balancer makes it. */
    static JsonNode scim(GatewayHarness n, String method, String path, String body) throws Exception {
        String token = Files.readString(n.data.resolve("scim.token")).strip();
        HttpResponse<String> r = n.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + n.gateway.adminAddress().getPort() + "/scim/v2" + path))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/scim+json")
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(r.statusCode() < 300, method + " " + path + " on " + n.gateway.adminAddress() + ": " + r.statusCode() + " " + r.body());
        return FakeJson.parse(r.body());
    }

    /**
     * The directory is the fleet's: each SCIM call of an identity provider's sequence lands on
     * another node, and a user deactivated through one node has their keys refused on every
     * node on the next request.
     */
    @Test
    void aUserDeactivatedThroughOneNodeIsRefusedOnEveryNode() throws Exception {
        String alice = scim(a, "POST", "/Users", "{\"userName\":\"alice@example.com\",\"active\":true}").path("id").asText();
        String group = scim(b, "POST", "/Groups", "{\"displayName\":\"payments\",\"members\":[{\"value\":\"" + alice + "\"}]}").path("id").asText();
        assertEquals(alice, scim(a, "GET", "/Groups/" + group, "").path("members").get(0).path("value").asText(), "made on b, read on a");
        var created = b.admin().post("admin/keys", FakeJson.parse("{\"policy\":\"spender\",\"name\":\"hers\",\"owner\":\"user:alice@example.com\"}"));
        assertEquals(201, created.status(), "b knows the user a provisioned: " + created.body());
        String key = created.body().path("secret").asText();
        assertEquals(200, a.post("/v1/chat/completions", key, chat(false)).statusCode());

        scim(b, "PATCH", "/Users/" + alice, """
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}""");
        assertEquals(401, a.post("/v1/chat/completions", key, chat(false)).statusCode(), "refused on a");
        assertEquals(401, b.post("/v1/chat/completions", key, chat(false)).statusCode(), "and on b");
        assertFalse(scim(a, "GET", "/Users/" + alice, "").path("active").asBoolean(true));
        scim(a, "DELETE", "/Groups/" + group, "");
        assertEquals(0, scim(b, "GET", "/Groups", "").path("totalResults").asInt(), "deleted through a, gone on b");
    }

    /**
     * An identity provider pushing memberships in parallel through two nodes loses none:
     * each PATCH is applied to the group as it is in Redis, and again when the other node
     * changed it first.
     */
    @Test
    void parallelMembershipChangesThroughTwoNodesAreAllKept() throws Exception {
        String group = scim(a, "POST", "/Groups", "{\"displayName\":\"payments\",\"members\":[]}").path("id").asText();
        List<String> users = new ArrayList<>();
        for (int i = 0; i < 24; i++) users.add(scim(i % 2 == 0 ? a : b, "POST", "/Users", "{\"userName\":\"u" + i + "@example.com\"}").path("id").asText());
        List<CompletableFuture<JsonNode>> patches = new ArrayList<>();
        for (int i = 0; i < users.size(); i++) {
            GatewayHarness n = i % 2 == 0 ? a : b;
            String body = """
                    {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"%s"}]}]}"""
                    .formatted(users.get(i));
            patches.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return scim(n, "PATCH", "/Groups/" + group, body);
                } catch (Exception e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            }));
        }
        patches.forEach(CompletableFuture::join);
        JsonNode members = scim(b, "GET", "/Groups/" + group, "").path("members");
        assertEquals(users.size(), members.size(), members.toString());
    }

    /**
     * Refused requests count against the request limit fleet-wide: each node's gate reads the
     * fleet's count as last synchronised, so a key alternating between nodes is throttled on
     * both once the 40 are spent (give or take the requests of one synchronisation).
     */
    @Test
    void refusedRequestsSpreadOverTwoNodesAreThrottledByTheFleetsRequestLimit() throws Exception {
        String key = a.key("limited", "flood", Map.of());
        String notAllowed = "{\"model\":\"up-ok\",\"messages\":[{\"role\":\"user\",\"content\":\"not my model\"}]}";
        List<Integer> statuses = new ArrayList<>();
        for (int i = 0; i < 600; i++) statuses.add((i % 2 == 0 ? a : b).post("/v1/chat/completions", key, notAllowed).statusCode());
        long refused = statuses.stream().filter(s -> s == 403).count();
        assertTrue(refused >= 40 && refused <= 200, refused + " refused by the policy: " + statuses);
        assertTrue(statuses.subList(400, 600).stream().allMatch(s -> s == 429), "throttled on both nodes: " + statuses.subList(400, 600));
    }

    @Test
    void aRequestLimitOf40AdmitsExactly40OfRequestsSpreadOverTwoNodes() throws Exception {
        String key = a.key("limited", "r", Map.of());
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            GatewayHarness n = i % 2 == 0 ? a : b;
            all.add(n.http.sendAsync(HttpRequest.newBuilder(URI.create(n.base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(30))
                    .header("authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(chat(i % 4 < 2))).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        List<HttpResponse<String>> rs = all.stream().map(CompletableFuture::join).toList();
        assertEquals(40, rs.stream().filter(r -> r.statusCode() == 200).count(), () -> statuses(rs));
        assertEquals(160, rs.stream().filter(r -> r.statusCode() == 429).count(), () -> statuses(rs));
    }

    @Test
    void aTeamsLimitHoldsForTheWholeFleetAcrossItsKeysAndNodes() throws Exception {
        List<String> keys = new ArrayList<>();
        for (String name : List.of("t1", "t2")) {
            keyguard.admin.AdminClient.Reply r = a.admin().post("admin/keys", keyguard.gateway.FakeUpstream.JSON.createObjectNode().put("policy", "teamed").put("name", name).put("team", "ops"));
            assertEquals(201, r.status(), r.raw());
            keys.add(r.body().path("secret").asText());
        }
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 120; i++) {
            GatewayHarness n = i % 2 == 0 ? a : b;
            all.add(n.http.sendAsync(HttpRequest.newBuilder(URI.create(n.base() + "/v1/chat/completions")).timeout(Duration.ofSeconds(30))
                    .header("authorization", "Bearer " + keys.get(i / 2 % 2)).POST(HttpRequest.BodyPublishers.ofString(chat(false))).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        List<HttpResponse<String>> rs = all.stream().map(CompletableFuture::join).toList();
        assertEquals(30, rs.stream().filter(r -> r.statusCode() == 200).count(), () -> statuses(rs));
        assertTrue(rs.stream().filter(r -> r.statusCode() == 429).allMatch(r -> r.body().contains("limit.requests.team.1h")), () -> statuses(rs));
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        JsonNode spend;
        do {
            Thread.sleep(50);
            spend = b.admin().get("admin/spend?group_by=org,team").body();
        } while (spend.path("total_requests").asLong() < 120 && System.nanoTime() < deadline);
        assertEquals(120, spend.path("total_requests").asLong(), spend.toString());
        assertEquals("ops", spend.path("rows").get(0).path("team").asText(), spend.toString());
        assertEquals("ops_unit", spend.path("rows").get(0).path("org").asText(), spend.toString());
    }

    @Test
    void aFleetWideBudgetsAlertIsSentOncePerThresholdByOneNode() throws Exception {
        String key = a.key("watched", "w", Map.of());
        String body = "{\"model\":\"pricey\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        int refusedOnBoth = 0;
        for (int i = 0; i < 40 && refusedOnBoth < 2; i++) {
            int status = (i % 2 == 0 ? a : b).post("/v1/chat/completions", key, body).statusCode();
            refusedOnBoth = status == 429 ? refusedOnBoth + 1 : 0;
        }
        assertEquals(2, refusedOnBoth, "the budget is spent on both nodes");
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (alerts.size() < 2 && System.nanoTime() < deadline) Thread.sleep(20);
        Thread.sleep(500); // a duplicate would arrive by now
        List<Integer> thresholds = new ArrayList<>();
        for (String alert : alerts) thresholds.add(keyguard.gateway.FakeUpstream.JSON.readTree(alert).path("threshold_percent").asInt());
        java.util.Collections.sort(thresholds);
        assertEquals(List.of(50, 100), thresholds, "each threshold once for the fleet: " + alerts);
    }

    @Test
    void aSubKeyMintedOnOneNodeWorksOnTheOtherAndACarveOutIsRefusedSayingWhy() throws Exception {
        String key = a.key("delegating", "agent", Map.of());
        var minted = a.post("/v1/keyguard/keys", key, "{\"name\":\"task\"}");
        assertEquals(201, minted.statusCode(), minted.body());
        String sub = GatewayHarness.json(minted).path("secret").asText();
        assertEquals(200, b.post("/v1/chat/completions", sub, chat(false)).statusCode());
        var carved = b.post("/v1/keyguard/keys", key, "{\"name\":\"carved\",\"budget_usd\":\"0.10\"}");
        assertEquals(403, carved.statusCode(), carved.body());
        assertTrue(GatewayHarness.json(carved).path("error").path("message").asText().startsWith("a fleet cannot yet return a carve-out"), carved.body());
    }

    @Test
    void anEndUsersLimitCountsOnEachNodeAlone() throws Exception {
        String key = a.key("bots", "bot", Map.of());
        String alice = "{\"model\":\"sim-small\",\"user\":\"alice\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        for (GatewayHarness n : List.of(a, b)) {
            for (int i = 0; i < 2; i++) assertEquals(200, n.post("/v1/chat/completions", key, alice).statusCode());
            assertEquals(429, n.post("/v1/chat/completions", key, alice).statusCode(), "alice's two on this node");
        }
    }

    @Test
    void spendOnEitherNodeAnswersForTheWholeFleet() throws Exception {
        String key = a.key("spender", "s", Map.of());
        for (int i = 0; i < 3; i++) assertEquals(200, a.post("/v1/chat/completions", key, chat(false)).statusCode());
        for (int i = 0; i < 2; i++) assertEquals(200, b.post("/v1/chat/completions", key, chat(true)).statusCode());
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        JsonNode spend;
        do {
            Thread.sleep(50);
            spend = b.admin().get("admin/spend?group_by=key,tag").body();
        } while (spend.path("total_requests").asLong() < 5 && System.nanoTime() < deadline);
        assertEquals("fleet", spend.path("scope").asText());
        assertEquals(5, spend.path("total_requests").asLong(), spend.toString());
        assertEquals("team=payments", spend.path("rows").get(0).path("tag").asText(), spend.toString());
    }

    @Test
    void aKeyRevokedInRedisStaysRevokedWhenANodeWithAnOlderCopyRotatesIt() throws Exception {
        String key = a.key("spender", "raced", Map.of());
        String id = key.split("-")[1];
        // Revoked in Redis behind every node's back (as a write lost on its way to b would look).
        String record = redis.command("HGET", "kg:keys", id);
        assertTrue(record.contains("\"state\":\"active\""), record);
        redis.command("HSET", "kg:keys", id, record.replace("\"state\":\"active\"", "\"state\":\"revoked\""));
        assertEquals(200, b.post("/v1/chat/completions", key, chat(false)).statusCode(), "b's copy does not know yet");
        var rotated = b.admin().post("admin/keys/" + id + "/rotate", FakeJson.empty());
        assertEquals(409, rotated.status(), rotated.raw());
        assertTrue(rotated.raw().contains("revoked"), rotated.raw());
        assertTrue(redis.command("HGET", "kg:keys", id).contains("\"state\":\"revoked\""), "the rotation did not bring the key back");
        assertEquals(401, b.post("/v1/chat/completions", key, chat(false)).statusCode(), "b took Redis's record when it was refused");
    }

    @Test
    void aSecondNodeWithTheSameNameIsRefusedAtStart(@TempDir Path tmp) throws Exception {
        GatewayHarness twin = new GatewayHarness(tmp.resolve("twin"), false);
        try {
            twin.env.put("KEYGUARD_SERVER_SECRET", SECRET);
            twin.configure = c -> c.withFleet(FleetConfig.of(redis.uri(), null, "node-a"));
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, twin::start);
            assertTrue(e.getMessage().contains("another running node is named `node-a`"), e.getMessage());
        } finally {
            twin.close();
        }
        assertEquals(200, a.post("/v1/chat/completions", a.key("spender", "still", Map.of()), chat(false)).statusCode(), "node-a serves on");
    }

    record Run(int code, String out, String err) {}

    static Run keyguard(String... args) {
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        int code = keyguard.cli.Main.run(new java.io.PrintWriter(out), new java.io.PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void theCommandsOfFleetMdRunAsWritten() throws Exception {
        String key = a.key("spender", "doc", Map.of());
        assertEquals(200, a.post("/v1/chat/completions", key, chat(false)).statusCode());
        assertEquals(200, b.post("/v1/chat/completions", key, chat(true)).statusCode());

        Run fleet = keyguard("fleet", "--admin", "http://127.0.0.1:" + a.gateway.adminAddress().getPort(), "--data", a.data.toString());
        // Each harness routes to its own fake upstream, so the two nodes serve different revisions: flagged, exit 3.
        assertEquals(3, fleet.code(), fleet.out() + fleet.err());
        assertTrue(fleet.out().contains("asked node node-a"), fleet.out());
        assertTrue(fleet.out().lines().anyMatch(l -> l.startsWith("node-a\tyes\t")), fleet.out());
        assertTrue(fleet.out().lines().anyMatch(l -> l.startsWith("node-b\tyes\t") && l.contains("(differs)")), fleet.out());
        assertTrue(fleet.out().contains("live nodes serve 2 policy revisions"), fleet.out());

        Run export = keyguard("audit", "export", "--data", a.data.toString(), "--data", b.data.toString(),
                "--since", java.time.LocalDate.now(java.time.ZoneOffset.UTC).toString());
        assertEquals(0, export.code(), export.err());
        List<JsonNode> events = new ArrayList<>();
        for (String line : export.out().lines().toList()) events.add(keyguard.gateway.FakeUpstream.JSON.readTree(line));
        List<JsonNode> decisions = events.stream().filter(e -> e.path("type").asText().equals("decision")).toList();
        assertEquals(List.of("node-a", "node-b"), decisions.stream().map(e -> e.path("node").asText()).toList(), export.out());
        for (int i = 1; i < events.size(); i++) {
            java.time.Instant before = java.time.Instant.parse(events.get(i - 1).path("time").asText());
            assertTrue(!before.isAfter(java.time.Instant.parse(events.get(i).path("time").asText())), "merged by time: " + export.out());
        }
    }

    static String statuses(List<HttpResponse<String>> rs) {
        Map<Integer, Long> by = new java.util.TreeMap<>();
        String sample = "";
        for (var r : rs) {
            by.merge(r.statusCode(), 1L, Long::sum);
            if (r.statusCode() != 200 && r.statusCode() != 429) sample = r.body();
        }
        return by + " " + sample;
    }

    /** Empty JSON bodies for admin posts. */
    static final class FakeJson {
        static com.fasterxml.jackson.databind.node.ObjectNode empty() { return keyguard.gateway.FakeUpstream.JSON.createObjectNode(); }

        static JsonNode parse(String json) throws java.io.IOException {
            return json.isBlank() ? empty() : keyguard.gateway.FakeUpstream.JSON.readTree(json);
        }
    }
}
