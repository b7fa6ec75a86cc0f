package keyguard.fleet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The nodes of a fleet. Each writes a heartbeat every half second ({@code heartbeat.lua}):
 * its status (version, policy revision, requests in flight, Redis latency, how far it
 * applied the key log, its lease) into {@code kg:nodes}, the time into {@code kg:nodes:seen}
 * by Redis's clock, so nodes' clocks do not matter.
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>No two running nodes share a name or a data directory: each heartbeat renews a claim
 *       on both ({@link #CLAIM_MILLIS}); a node that finds either held by another refuses to
 *       start, or, running, stops authenticating ({@link #displaced}).</li>
 *   <li>A key change waits for every node that may still be authenticating — whose last
 *       heartbeat is younger than its lease and a margin — not only the live ones: a node
 *       cut off from Redis keeps authenticating on its copy until its lease runs out.</li>
 * </ul>
 */
public final class FleetNodes {
    /** A node is live (counted, shown live) while its last heartbeat is younger than this. */
    static final long LIVE_MILLIS = 3_000;
    static final long HEARTBEAT_MILLIS = 500;
    /** How long a name or data directory stays claimed without a heartbeat. */
    static final long CLAIM_MILLIS = 3_000;
    /** Beyond its lease, a node may have authenticated for one more heartbeat and some clock. */
    static final long MARGIN_MILLIS = 1_000;
    /** Written instead of node names when Redis could not be read to confirm a change. */
    public static final String UNCONFIRMED = "*";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final FleetRedis.Script HEARTBEAT = FleetRedis.Script.load("heartbeat");
    private static final FleetRedis.Script NODES = FleetRedis.Script.load("nodes");
    private static final FleetRedis.Script LEAVE = FleetRedis.Script.load("leave");

    /** What a node says of itself in its heartbeat. */
    public record Status(String revision, long inFlight) {}

    /** One node as the fleet sees it (ages by Redis's clock). */
    public record Node(String name, String version, String revision, long heartbeatMillis, long ageMillis, boolean live, long inFlight,
                       long redisLatencyMicros, String applied, long leaseMillis) {
        /** Whether it may still be authenticating on its copy of the keys. */
        boolean mayAuthenticate() { return ageMillis < leaseMillis + MARGIN_MILLIS; }
    }

    private final FleetRedis redis;
    private final String node;
    private final String dataId;
    private final long leaseMillis;
    private final String token = Long.toHexString(System.nanoTime()) + Long.toHexString(new java.security.SecureRandom().nextLong());
    private final Supplier<Status> status;
    private volatile boolean closed;
    private volatile boolean displaced;
    private final Thread beat;
    private volatile int liveCount = 1;
    private long beats;
    private volatile List<Node> cached = List.of();
    private volatile long cachedAt;

    FleetNodes(FleetRedis redis, String node, String dataId, long leaseMillis, Supplier<Status> status) {
        this.redis = redis;
        this.node = node;
        this.dataId = dataId;
        this.leaseMillis = leaseMillis;
        this.status = status;
        this.beat = Thread.ofPlatform().daemon().name("keyguard-fleet-heartbeat").unstarted(this::loop);
    }

    /**
     * Claims this node's name and data directory (waiting out a claim a crashed node left,
     * at most {@link #CLAIM_MILLIS} and a second) and starts beating.
     */
    void start() {
        long deadline = System.nanoTime() + Duration.ofMillis(CLAIM_MILLIS + 1_000).toNanos();
        while (true) {
            int r = heartbeat();
            if (r == 1) break;
            if (r < 0) throw new IllegalStateException("cannot reach Redis to join the fleet");
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("another running node is named `" + node + "` or uses this data directory;"
                        + " every node needs a name (--node) and a data directory of its own");
            }
            sleep(200);
        }
        beat.start();
    }

    /** Live nodes as last counted (at least one: this one), for fair shares of a counter near its cap. */
    int liveCount() { return liveCount; }

    /** Whether another node took this node's name or data directory: it must not authenticate. */
    boolean displaced() { return displaced; }

    private void loop() {
        while (!closed) {
            sleep(HEARTBEAT_MILLIS);
            if (closed) return;
            if (heartbeat() == 0 && !displaced) {
                displaced = true;
                System.getLogger("keyguard.fleet").log(System.Logger.Level.ERROR, "another node now runs as `" + node
                        + "` or over this data directory: this node refuses all requests until it is restarted");
            }
        }
    }

    /** 1: beat; 0: the name or data directory is another node's; -1: Redis did not answer. */
    private int heartbeat() {
        try {
            Status s = status.get();
            ObjectNode o = JSON.createObjectNode();
            o.put("name", node).put("version", version()).put("revision", s.revision()).put("in_flight", s.inFlight())
                    .put("redis_latency_us", redis.meanLatencyMicros()).put("lease_ms", leaseMillis);
            boolean prune = beats++ % 120 == 0;
            List<Object> r = redis.script(HEARTBEAT, new String[0], node, o.toString(), token, Long.toString(CLAIM_MILLIS), dataId, prune ? "1" : "0");
            if (((Number) r.get(0)).intValue() == 0) return 0;
            if (beats % 2 == 0) liveCount = (int) Math.max(1, all().stream().filter(Node::live).count());
            return 1;
        } catch (FleetRedis.Unavailable | RuntimeException e) {
            return -1; // Redis away: the key store's currency says what that means
        }
    }

    static String version() {
        String v = FleetNodes.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /** Every node that beat into this fleet in the last day (recent ones first), live or not. */
    public List<Node> all() throws FleetRedis.Unavailable {
        return read().nodes();
    }

    /** As {@link #all}, at most a second old (for metrics scrapes). */
    List<Node> recent() throws FleetRedis.Unavailable {
        if (System.nanoTime() - cachedAt > 1_000_000_000L) {
            cached = all();
            cachedAt = System.nanoTime();
        }
        return cached;
    }

    private record View(List<Node> nodes, Map<String, String> applied) {}

    private View read() throws FleetRedis.Unavailable {
        List<Object> r = redis.script(NODES, new String[0]);
        long now = ((Number) r.get(0)).longValue();
        Map<String, String> status = pairs(r.get(1));
        Map<String, String> seen = pairs(r.get(2));
        Map<String, String> applied = pairs(r.get(3));
        List<Node> out = new ArrayList<>();
        for (Map.Entry<String, String> e : status.entrySet()) {
            try {
                JsonNode o = JSON.readTree(e.getValue());
                long at = Long.parseLong(seen.getOrDefault(e.getKey(), "0"));
                long age = Math.max(0, now - at);
                out.add(new Node(e.getKey(), o.path("version").asText(), o.path("revision").asText(), at, age, age < LIVE_MILLIS,
                        o.path("in_flight").asLong(), o.path("redis_latency_us").asLong(), applied.getOrDefault(e.getKey(), "0-0"),
                        o.path("lease_ms").asLong(FleetConfig.DEFAULT_LEASE.toMillis())));
            } catch (java.io.IOException | RuntimeException bad) {
                // a heartbeat this version cannot read: not a node it can count on
            }
        }
        out.sort(java.util.Comparator.comparingLong(Node::ageMillis).thenComparing(Node::name));
        return new View(out, applied);
    }

    private static Map<String, String> pairs(Object flat) {
        Map<String, String> m = new HashMap<>();
        if (flat instanceof List<?> l) {
            for (int i = 0; i + 1 < l.size(); i += 2) m.put(String.valueOf(l.get(i)), String.valueOf(l.get(i + 1)));
        }
        return m;
    }

    /**
     * Waits until every node that may still be authenticating has applied the key log up to
     * {@code id}, or {@code wait} has passed; returns those that had not ({@link #UNCONFIRMED}
     * alone when Redis could not be read at all). Polls every millisecond at first (a following
     * node applies a change within milliseconds: its blocking read returns at once), then
     * every 10.
     */
    List<String> awaitApplied(String id, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        List<String> missing = List.of(UNCONFIRMED);
        for (int poll = 0; ; poll++) {
            try {
                View v = read();
                List<String> behind = new ArrayList<>();
                for (Node n : v.nodes()) {
                    if (n.mayAuthenticate() && compare(v.applied().getOrDefault(n.name(), "0-0"), id) < 0) behind.add(n.name());
                }
                missing = behind;
                if (behind.isEmpty()) return List.of();
            } catch (FleetRedis.Unavailable e) {
                // keep trying until the deadline
            }
            if (System.nanoTime() >= deadline) return missing;
            sleep(poll < 50 ? 1 : 10);
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

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    void close() {
        closed = true;
        Background.stop(beat, 2000);
        try {
            redis.script(LEAVE, new String[0], node, token, dataId); // no longer waited for; name and data directory free
        } catch (FleetRedis.Unavailable | RuntimeException ignored) {
            // its heartbeat and claims age out
        }
    }
}
