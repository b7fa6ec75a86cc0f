package keyguard.fleet;

import static keyguard.fleet.ThreeNodes.count;
import static keyguard.fleet.ThreeNodes.summary;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import keyguard.audit.AuditLog;
import net.openhft.chronicle.queue.ChronicleQueue;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three gateway processes and one Redis: the promises of a policy hold for the fleet as
 * they do for one node — exact caps under 300 concurrent callers spread over the nodes
 * (half of them streaming), revocations every node applies before the call returns,
 * rotation grace on every node, and a node killed under load.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FleetProcessesTest {
    static final int CALLERS = 300;
    static final int K = 150;
    static final int K_BUDGET = 60;
    static final int C = 20;

    @TempDir
    static Path tmp;
    ThreeNodes fleet;

    @BeforeAll
    void start() throws Exception {
        fleet = new ThreeNodes(tmp, false, "3s", """
                policy counted { models allow ["sim-small"] limit requests %d per 1h by key limit concurrent 1_000 by key }
                policy gauged { models allow ["sim-held"] limit concurrent %d by key }
                policy open { models allow ["sim-small", "sim-held"] tags { team: "fleet" } }
                policy loaded { models allow ["sim-small"] limit requests 1_000_000 per 1h by key }
                policy pinned { models allow ["sim-held", "sim-small"] limit concurrent 6 by key }
                """.formatted(K, C));
    }

    @AfterAll
    void stop() throws Exception {
        if (fleet != null) fleet.close();
    }

    @Test
    @Order(1)
    void aRequestLimitOfKAdmitsExactlyKOf300CallersSpreadOverThreeNodes() throws Exception {
        // The policy lifts the default 64 in flight: a request refused by another limit also counts against `limit requests`.
        String key = fleet.key(0, "counted", "r");
        List<HttpResponse<String>> rs = fleet.storm(key, "sim-small", CALLERS);
        assertEquals(K, count(rs, 200), () -> summary(rs));
        assertEquals(CALLERS - K, count(rs, 429), () -> summary(rs));
        for (HttpResponse<String> r : rs) {
            if (r.statusCode() == 429) assertTrue(r.body().contains("rate_limit_exceeded"), r.body());
        }
    }

    @Test
    @Order(2)
    void aHardBudgetThatFitsKRequestsAdmitsExactlyKOf300CallersSpreadOverThreeNodes() throws Exception {
        String probe = fleet.key(1, "open", "probe");
        JsonNode usage = ThreeNodes.JSON.readTree(fleet.chat(1, probe, "sim-small", false).body()).path("usage");
        assertEquals(3, usage.path("completion_tokens").asLong(), "the reply fills max_tokens, so the usage equals the reservation");
        long cost = usage.path("prompt_tokens").asLong() + 3 * 2; // 1 and 2 usd per 1m tokens, in micro-dollars
        long cap = K_BUDGET * cost + cost - 1;
        Files.writeString(fleet.policies.resolve("budget.kgp"), "policy budgeted { models allow [\"sim-small\"] budget "
                + String.format("%d.%06d", cap / 1_000_000, cap % 1_000_000) + " usd per day hard by key limit concurrent 1_000 by key }\n");
        for (int n = 0; n < 3; n++) fleet.admin(n, "POST", "/admin/policies/reload", "{}");
        awaitConsistentRevisions();

        String key = fleet.key(2, "budgeted", "b");
        List<HttpResponse<String>> rs = fleet.storm(key, "sim-small", CALLERS);
        assertEquals(K_BUDGET, count(rs, 200), () -> summary(rs));
        assertEquals(CALLERS - K_BUDGET, count(rs, 429), () -> summary(rs));
        for (HttpResponse<String> r : rs) {
            if (r.statusCode() == 429) assertTrue(r.body().contains("insufficient_quota"), r.body());
        }
    }

    @Test
    @Order(3)
    void aConcurrencyLimitOfCAdmitsExactlyCOf300CallersHeldTogether() throws Exception {
        String key = fleet.key(0, "gauged", "c");
        List<HttpResponse<String>> rs = fleet.storm(key, "sim-held", CALLERS);
        assertEquals(C, count(rs, 200), () -> summary(rs));
        assertEquals(CALLERS - C, count(rs, 429), () -> summary(rs));
        // Every slot came back: the same number again.
        List<HttpResponse<String>> again = fleet.storm(key, "sim-held", 3 * C);
        assertEquals(C, count(again, 200), () -> summary(again));
    }

    @Test
    @Order(4)
    void aRevocationOnOneNodeIsAppliedByEveryNodeBeforeItReturns() throws Exception {
        String key = fleet.key(0, "open", "doomed");
        for (int n = 0; n < 3; n++) assertEquals(200, fleet.chat(n, key, "sim-small", false).statusCode());
        JsonNode revoked = fleet.admin(0, "POST", "/admin/keys/" + key.split("-")[1] + "/revoke", "{}");
        assertTrue(revoked.path("fleet").path("acknowledged").asBoolean(), revoked.toString());
        assertEquals(0, revoked.path("fleet").path("unacknowledged_nodes").size(), revoked.toString());
        for (int n = 1; n < 3; n++) {
            HttpResponse<String> r = fleet.chat(n, key, "sim-small", false);
            assertEquals(401, r.statusCode(), "the revoked key on " + ThreeNodes.name(n) + ": " + r.body());
        }
    }

    @Test
    @Order(5)
    void aRotationWithGraceOnOneNodeKeepsBothSecretsWorkingOnEveryNodeUntilTheGraceEnds() throws Exception {
        String old = fleet.key(0, "open", "rotating");
        JsonNode rotated = fleet.admin(1, "POST", "/admin/keys/" + old.split("-")[1] + "/rotate", "{\"grace\":\"4s\"}");
        String fresh = rotated.path("secret").asText();
        long graceEnds = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
        for (int n : new int[] {0, 2}) {
            assertEquals(200, fleet.chat(n, fresh, "sim-small", false).statusCode(), "the new secret on " + ThreeNodes.name(n));
            HttpResponse<String> r = fleet.chat(n, old, "sim-small", false);
            if (System.nanoTime() < graceEnds - TimeUnit.MILLISECONDS.toNanos(500)) {
                assertEquals(200, r.statusCode(), "the old secret within its grace on " + ThreeNodes.name(n) + ": " + r.body());
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < graceEnds + TimeUnit.MILLISECONDS.toNanos(100)) Thread.sleep(50);
        for (int n : new int[] {0, 2}) {
            int status;
            do {
                status = fleet.chat(n, old, "sim-small", false).statusCode();
            } while (status != 401 && System.nanoTime() < deadline);
            assertEquals(401, status, "the old secret after its grace on " + ThreeNodes.name(n));
            assertEquals(200, fleet.chat(n, fresh, "sim-small", false).statusCode());
        }
    }

    @Test
    @Order(6)
    void theFleetViewListsEveryNodeAndSpendAnswersForTheWholeFleet() throws Exception {
        JsonNode view = fleet.admin(2, "GET", "/admin/fleet", null);
        assertEquals("fleet", view.path("mode").asText());
        assertEquals(3, view.path("nodes").size(), view.toString());
        for (JsonNode n : view.path("nodes")) {
            assertTrue(n.path("live").asBoolean(), view.toString());
            assertTrue(n.path("revision").asText().length() > 0);
        }
        assertTrue(view.path("consistent").asBoolean(), view.toString());
        String metrics = fleet.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(fleet.nodes[0].adminBase() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertTrue(metrics.matches("(?s).*\\nkeyguard_fleet_nodes\\{state=\"live\"\\} 3(\\.0)?\\n.*"), metrics);
        assertTrue(metrics.matches("(?s).*\\nkeyguard_fleet_revision_mismatch 0(\\.0)?\\n.*"), metrics);

        String key = fleet.key(1, "open", "spender");
        for (int n = 0; n < 3; n++) assertEquals(200, fleet.chat(n, key, "sim-small", n == 1).statusCode());
        String id = key.split("-")[1];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        long requests;
        do {
            Thread.sleep(50);
            JsonNode spend = fleet.admin(0, "GET", "/admin/spend?group_by=key", null);
            requests = 0;
            for (JsonNode row : spend.path("rows")) if (row.path("key").asText().equals(id)) requests = row.path("requests").asLong();
        } while (requests < 3 && System.nanoTime() < deadline);
        assertEquals(3, requests, "the key's requests on all three nodes, from node a");
    }

    @Test
    @Order(7)
    void aNodeKilledUnderLoadReturnsItsConcurrencyWithinTheLeaseKeepsEveryCountedRequestAndTheOthersContinue() throws Exception {
        // Node c holds every slot of a concurrency limit when it dies.
        String pinned = fleet.key(0, "pinned", "p");
        List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> held = new ArrayList<>();
        for (int i = 0; i < 6; i++) held.add(fleet.http.sendAsync(fleet.chatRequest(2, pinned, "sim-held", false), HttpResponse.BodyHandlers.ofString()));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (fleet.chat(0, pinned, "sim-small", false).statusCode() != 429 && System.nanoTime() < deadline) Thread.sleep(20);

        // And load on a request limit across all three.
        String loaded = fleet.key(0, "loaded", "l");
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong okOnSurvivors = new AtomicLong();
        AtomicLong okOnC = new AtomicLong();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        AtomicBoolean cDead = new AtomicBoolean();
        List<Thread> callers = new ArrayList<>();
        for (int t = 0; t < 6; t++) {
            int node = t % 3;
            callers.add(Thread.ofPlatform().start(() -> {
                int i = 0;
                while (running.get()) {
                    if (node == 2 && cDead.get()) return;
                    try {
                        HttpResponse<String> r = fleet.chat(node, loaded, "sim-small", i++ % 2 == 0);
                        if (r.statusCode() == 200) (node == 2 ? okOnC : okOnSurvivors).incrementAndGet();
                        else if (node != 2) failures.add(r.statusCode() + " " + r.body());
                    } catch (Exception e) {
                        if (node != 2) failures.add(e.toString());
                    }
                }
            }));
        }
        Thread.sleep(1500);
        long killedAt = System.nanoTime();
        cDead.set(true);
        fleet.nodes[2].kill();
        held.forEach(f -> f.handle((r, e) -> r).join()); // the held requests died with their node

        // The dead node's concurrency slots come back: one lease to notice, one for requests a cut-off node may still finish.
        long back = -1;
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            if (fleet.chat(0, pinned, "sim-small", false).statusCode() == 200) {
                back = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
                break;
            }
            Thread.sleep(100);
        }
        assertTrue(back >= 0, "the dead node's concurrency slots never came back");
        assertTrue(back <= 2 * 3000 + 1500, "slots came back after " + back + " ms, more than two leases of 3 s");
        Thread.sleep(1000);
        running.set(false);
        for (Thread t : callers) t.join(30_000);
        assertTrue(failures.isEmpty(), "the surviving nodes refused or failed: " + failures.stream().limit(5).toList());
        assertTrue(okOnSurvivors.get() > 0);

        // Every request any node admitted is counted in Redis (a dead node's slices count in full), once the survivors reported.
        long admitted = okOnSurvivors.get() + okOnC.get();
        long counted = 0;
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            counted = 0;
            for (String k : fleet.redis.keys("kg:c:k/" + loaded.split("-")[1] + "/requests.key.1h:*")) {
                if (!k.endsWith(":hr")) counted += Long.parseLong(fleet.redis.command("GET", k));
            }
            if (counted >= admitted) break;
            Thread.sleep(100);
        }
        assertTrue(counted >= admitted, "Redis counts " + counted + " requests, the callers saw " + admitted + " admitted");

        // Node c comes back over its data: its audit events reach the fleet's spend, once.
        fleet.restart(2);
        assertEquals(200, fleet.chat(2, loaded, "sim-small", false).statusCode());
        long events = 0;
        for (int n = 0; n < 3; n++) events += auditedDecisions(fleet.data(n), loaded.split("-")[1]);
        long spent = -1;
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            spent = 0;
            for (JsonNode row : fleet.admin(0, "GET", "/admin/spend?group_by=key", null).path("rows")) {
                if (row.path("key").asText().equals(loaded.split("-")[1])) spent = row.path("requests").asLong();
            }
            if (spent == events) break;
            Thread.sleep(100);
        }
        assertEquals(events, spent, "the fleet's spend counts each audited decision of the key once");
    }

    void awaitConsistentRevisions() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!fleet.admin(0, "GET", "/admin/fleet", null).path("consistent").asBoolean() && System.nanoTime() < deadline) Thread.sleep(100);
    }

    /** Decision events of key {@code id} in a node's audit log. */
    static long auditedDecisions(Path data, String id) {
        AtomicLong n = new AtomicLong();
        try (ChronicleQueue q = AuditLog.openForReading(data.resolve("audit"))) {
            AuditLog.read(q, null, null, l -> {
                if (l.contains("\"type\":\"decision\"") && l.contains("\"key_id\":\"" + id + "\"")) n.incrementAndGet();
            });
        }
        return n.get();
    }
}
