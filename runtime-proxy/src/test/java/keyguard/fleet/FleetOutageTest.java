package keyguard.fleet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import keyguard.audit.AuditLog;
import net.openhft.chronicle.queue.ChronicleQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three gateway processes when Redis goes away: killed and restarted under load (with its
 * persistence on), and one node cut off from it for longer than its lease. Caps hold, the
 * only refusals are the documented ones, and the totals add up afterwards.
 */
class FleetOutageTest {
    static final int CAP = 800;
    static final String LEASE = "4s";

    ThreeNodes fleet;

    @BeforeEach
    void start(@TempDir Path tmp) throws Exception {
        fleet = new ThreeNodes(tmp, true, LEASE, """
                policy capped { models allow ["sim-small"] limit requests %d per 1h by key limit concurrent 1_000 by key }
                policy lenient { models allow ["sim-small"] limit requests 1_000_000 per 1h by key fail open }
                policy open { models allow ["sim-small"] }
                """.formatted(CAP));
    }

    @AfterEach
    void stop() throws Exception {
        if (fleet != null) fleet.close();
    }

    /** Statuses (with the error code of non-200s) each caller of a key saw, counted. */
    static final class Tally {
        final Map<String, AtomicLong> seen = new ConcurrentHashMap<>();
        final AtomicLong ok = new AtomicLong();

        void add(HttpResponse<String> r) {
            if (r.statusCode() == 200) {
                ok.incrementAndGet();
                seen.computeIfAbsent("200", k -> new AtomicLong()).incrementAndGet();
                return;
            }
            String code;
            try {
                code = ThreeNodes.JSON.readTree(r.body()).path("error").path("code").asText();
            } catch (Exception e) {
                code = "unreadable";
            }
            seen.computeIfAbsent(r.statusCode() + " " + code, k -> new AtomicLong()).incrementAndGet();
        }

        long count(String what) {
            AtomicLong n = seen.get(what);
            return n == null ? 0 : n.get();
        }
    }

    /** Callers of each key on every node, each sending a request every 20 ms or so until stopped. */
    final class Load implements AutoCloseable {
        final AtomicBoolean running = new AtomicBoolean(true);
        final List<Thread> threads = new ArrayList<>();
        final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();

        Load(Map<String, Tally> keys, int perNode) {
            keys.forEach((key, tally) -> {
                for (int t = 0; t < 3 * perNode; t++) {
                    int node = t % 3;
                    threads.add(Thread.ofPlatform().start(() -> {
                        int i = 0;
                        while (running.get()) {
                            try {
                                tally.add(fleet.chat(node, key, "sim-small", i++ % 2 == 0));
                                Thread.sleep(20); // about 300 requests a second per key: the cap is reached only after the outage
                            } catch (Exception e) {
                                errors.add(e.toString());
                            }
                        }
                    }));
                }
            });
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            for (Thread t : threads) t.join(60_000);
        }
    }

    @Test
    void redisKilledAndRestartedUnderLoadNeverLetsACapPassAndTheTotalsEqualTheAuditedEvents() throws Exception {
        String capped = fleet.key(0, "capped", "capped");
        String lenient = fleet.key(1, "lenient", "lenient");
        Tally cappedSaw = new Tally();
        Tally lenientSaw = new Tally();
        try (Load load = new Load(Map.of(capped, cappedSaw, lenient, lenientSaw), 2)) {
            Thread.sleep(1500);
            long okBefore = cappedSaw.ok.get();
            fleet.redis.kill();
            Thread.sleep(1500); // well within the lease (4 s): the keys stay trusted, the slices run out
            long lenientDuring = lenientSaw.ok.get();
            fleet.redis.start(); // on its fsync'd append-only file
            Thread.sleep(3000);
            assertTrue(okBefore > 0, "requests were admitted before the outage");
            assertTrue(lenientSaw.ok.get() > lenientDuring, "the fail-open limit admits after Redis is back");
            assertTrue(load.errors.isEmpty(), "callers failed: " + load.errors.stream().limit(3).toList());
        }
        // The capped key: at most CAP admitted ever; refusals only because the cap was reached or the node's slice ran out without Redis.
        assertTrue(cappedSaw.ok.get() <= CAP, "the cap of " + CAP + " was passed: " + cappedSaw.seen);
        for (String s : cappedSaw.seen.keySet()) {
            assertTrue(List.of("200", "429 rate_limit_exceeded", "503 counter_store_unavailable").contains(s), "unexpected " + s + " in " + cappedSaw.seen);
        }
        assertTrue(cappedSaw.count("503 counter_store_unavailable") > 0, "the capped key's slices ran out while Redis was away: " + cappedSaw.seen);
        // The fail-open key: never refused.
        assertEquals(lenientSaw.ok.get(), lenientSaw.seen.values().stream().mapToLong(AtomicLong::get).sum(), "fail open refused: " + lenientSaw.seen);

        // After recovery, Redis's counts are what the nodes admitted: the remaining room says so, exactly.
        long admitted = cappedSaw.ok.get();
        awaitFleetCount(capped, admitted);

        // And the fleet's spend equals the sum of every node's audit events.
        long events = 0;
        for (int n = 0; n < 3; n++) events += decisions(fleet.data(n));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        long total = -1;
        while (System.nanoTime() < deadline) {
            total = fleet.admin(2, "GET", "/admin/spend?group_by=policy", null).path("total_requests").asLong();
            if (total == events) break;
            Thread.sleep(100);
        }
        assertEquals(events, total, "the fleet's spend counts every audited decision once");
    }

    /** Waits until a request on node a sees the capped key's fleet count at {@code admitted}, then checks the cap holds from there. */
    void awaitFleetCount(String key, long admitted) throws Exception {
        // Fill the rest of the cap from node b: exactly CAP - admitted more requests fit.
        long more = 0;
        String refusal;
        while (true) {
            HttpResponse<String> r = fleet.chat(1, key, "sim-small", false);
            if (r.statusCode() == 429) {
                refusal = r.body();
                break;
            }
            assertEquals(200, r.statusCode(), r.body());
            more++;
            assertTrue(admitted + more <= CAP, "more than " + CAP + " admitted in all");
        }
        assertEquals(CAP, admitted + more, "after the outage exactly the rest of the cap fits; refused with " + refusal);
    }

    static long decisions(Path data) {
        AtomicLong n = new AtomicLong();
        try (ChronicleQueue q = AuditLog.openForReading(data.resolve("audit"))) {
            AuditLog.read(q, null, null, l -> {
                if (l.contains("\"type\":\"decision\"")) n.incrementAndGet();
            });
        }
        return n.get();
    }

    @Test
    void aNodeCutOffFromRedisLongerThanItsLeaseRefusesThenCatchesUpOnWhatItMissed() throws Exception {
        String stays = fleet.key(0, "open", "stays");
        String doomed = fleet.key(0, "open", "doomed");
        String capped = fleet.key(0, "capped", "capped");
        for (String k : List.of(stays, doomed, capped)) assertEquals(200, fleet.chat(2, k, "sim-small", false).statusCode());

        fleet.proxy.partition(); // node c loses Redis; a and b do not
        long cutAt = System.nanoTime();
        // Within its lease, node c still serves on what it holds.
        assertEquals(200, fleet.chat(2, stays, "sim-small", false).statusCode());
        // A revocation now: c may still be authenticating on its copy (its lease has not run out), so the
        // call waits for it, 2 s, and names it.
        JsonNode revoked = fleet.admin(0, "POST", "/admin/keys/" + doomed.split("-")[1] + "/revoke", "{}");
        assertEquals("[\"node-c\"]", revoked.path("fleet").path("unacknowledged_nodes").toString(), revoked.toString());
        assertEquals(false, revoked.path("fleet").path("acknowledged").asBoolean());
        // The fleet moves on without it: c stops being live.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        JsonNode view;
        do {
            Thread.sleep(200);
            view = fleet.admin(0, "GET", "/admin/fleet", null);
        } while (liveNodes(view) != 2 && System.nanoTime() < deadline);
        assertEquals(2, liveNodes(view), view.toString());

        // Past its lease, c cannot prove it has every revocation: it refuses to authenticate anyone, the revoked key included.
        while (System.nanoTime() - cutAt < TimeUnit.MILLISECONDS.toNanos(4000 + 500)) Thread.sleep(50);
        for (String k : List.of(stays, doomed, capped)) {
            HttpResponse<String> r = fleet.chat(2, k, "sim-small", false);
            assertEquals(503, r.statusCode(), r.body());
            assertEquals("key_store_unavailable", ThreeNodes.JSON.readTree(r.body()).path("error").path("code").asText(), r.body());
        }
        // The others serve as before.
        assertEquals(200, fleet.chat(0, stays, "sim-small", false).statusCode());
        assertEquals(401, fleet.chat(1, doomed, "sim-small", false).statusCode());

        fleet.proxy.heal();
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        int status;
        do {
            Thread.sleep(100);
            status = fleet.chat(2, stays, "sim-small", false).statusCode();
        } while (status != 200 && System.nanoTime() < deadline);
        assertEquals(200, status, "node c serves again once it has caught up");
        HttpResponse<String> r = fleet.chat(2, doomed, "sim-small", false);
        assertEquals(401, r.statusCode(), "the revocation made while c was cut off applies on c: " + r.body());
        assertEquals(200, fleet.chat(2, capped, "sim-small", false).statusCode());
    }

    static long liveNodes(JsonNode view) {
        long n = 0;
        for (JsonNode node : view.path("nodes")) if (node.path("live").asBoolean()) n++;
        return n;
    }
}
