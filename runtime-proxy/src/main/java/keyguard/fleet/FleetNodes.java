package keyguard.fleet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The nodes of a fleet: each writes a heartbeat into {@code kg:nodes} (name, version, policy
 * revision, requests in flight, Redis latency, how far it applied the key log) every half
 * second; a node whose heartbeat is older than {@link #LIVE_MILLIS} is not live. A
 * revocation waits for every live node to acknowledge it ({@link #awaitApplied}).
 */
public final class FleetNodes {
    static final String NODES = "kg:nodes";
    /** A node is live while its last heartbeat is younger than this. */
    static final long LIVE_MILLIS = 3_000;
    static final long HEARTBEAT_MILLIS = 500;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What a node says of itself in its heartbeat. */
    public record Status(String revision, long inFlight) {}

    /** One node as the fleet sees it. */
    public record Node(String name, String version, String revision, long heartbeatMillis, long ageMillis, boolean live, long inFlight,
                       long redisLatencyMicros, String applied) {}

    private final FleetRedis redis;
    private final String node;
    private final Supplier<Status> status;
    private volatile Supplier<String> applied = () -> "0-0";
    private volatile boolean closed;
    private final Thread beat;
    private volatile int liveCount = 1;

    FleetNodes(FleetRedis redis, String node, Supplier<Status> status) {
        this.redis = redis;
        this.node = node;
        this.status = status;
        this.beat = Thread.ofPlatform().daemon().name("keyguard-fleet-heartbeat").unstarted(this::loop);
    }

    void start(Supplier<String> appliedPosition) {
        this.applied = appliedPosition;
        heartbeat();
        beat.start();
    }

    /** Live nodes as last counted (at least one: this one), for fair shares of a counter near its cap. */
    int liveCount() { return liveCount; }

    private void loop() {
        while (!closed) {
            try {
                Thread.sleep(HEARTBEAT_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
            heartbeat();
        }
    }

    private void heartbeat() {
        try {
            Status s = status.get();
            ObjectNode o = JSON.createObjectNode();
            o.put("name", node).put("version", version()).put("revision", s.revision()).put("at", System.currentTimeMillis())
                    .put("in_flight", s.inFlight()).put("redis_latency_us", redis.meanLatencyMicros()).put("applied", applied.get());
            redis.await(redis.async().hset(NODES, node, o.toString()), "HSET heartbeat");
            long live = all().stream().filter(Node::live).count();
            liveCount = (int) Math.max(1, live);
        } catch (FleetRedis.Unavailable | RuntimeException e) {
            // Redis away: nothing to beat into; the key store's currency says what that means
        }
    }

    static String version() {
        String v = FleetNodes.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /** Every node that ever beat into this fleet (recent ones first), live or not. */
    public List<Node> all() throws FleetRedis.Unavailable {
        Map<String, String> raw = redis.await(redis.async().hgetall(NODES), "HGETALL nodes");
        long now = System.currentTimeMillis();
        List<Node> out = new ArrayList<>();
        for (Map.Entry<String, String> e : raw.entrySet()) {
            try {
                JsonNode o = JSON.readTree(e.getValue());
                long at = o.path("at").asLong();
                long age = Math.max(0, now - at);
                out.add(new Node(e.getKey(), o.path("version").asText(), o.path("revision").asText(), at, age, age < LIVE_MILLIS,
                        o.path("in_flight").asLong(), o.path("redis_latency_us").asLong(), o.path("applied").asText("0-0")));
            } catch (java.io.IOException | RuntimeException bad) {
                // a heartbeat this version cannot read: not a node it can count on
            }
        }
        out.sort(java.util.Comparator.comparingLong(Node::ageMillis).thenComparing(Node::name));
        return out;
    }

    /**
     * Waits until every live node has applied the key log up to {@code id} (its
     * {@code kg:nodes:applied} position), or {@code wait} has passed; returns the live nodes
     * that had not. Polls every millisecond: a following node applies a change within a few
     * milliseconds of its write (its blocking read returns at once).
     */
    List<String> awaitApplied(String id, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        List<String> missing = List.of();
        while (true) {
            try {
                List<String> live = all().stream().filter(Node::live).map(Node::name).toList();
                Map<String, String> positions = redis.await(redis.async().hgetall(FleetKeyStore.APPLIED), "HGETALL applied");
                List<String> behind = new ArrayList<>();
                for (String n : live) {
                    if (compare(positions.getOrDefault(n, "0-0"), id) < 0) behind.add(n);
                }
                missing = behind;
                if (behind.isEmpty()) return List.of();
            } catch (FleetRedis.Unavailable e) {
                // keep trying until the deadline
            }
            if (System.nanoTime() >= deadline) return missing;
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return missing;
            }
        }
    }

    /** Orders stream ids {@code ms-seq}. */
    static int compare(String a, String b) {
        int da = a.indexOf('-');
        int db = b.indexOf('-');
        long ma = Long.parseLong(da < 0 ? a : a.substring(0, da));
        long mb = Long.parseLong(db < 0 ? b : b.substring(0, db));
        if (ma != mb) return Long.compare(ma, mb);
        long sa = da < 0 ? 0 : Long.parseLong(a.substring(da + 1));
        long sb = db < 0 ? 0 : Long.parseLong(b.substring(db + 1));
        return Long.compare(sa, sb);
    }

    void close() {
        closed = true;
        beat.interrupt();
        try {
            redis.await(redis.async().hdel(NODES, node), "HDEL node"); // a node that stops is no longer waited for
        } catch (FleetRedis.Unavailable | RuntimeException ignored) {
            // its heartbeat will age out
        }
    }
}
