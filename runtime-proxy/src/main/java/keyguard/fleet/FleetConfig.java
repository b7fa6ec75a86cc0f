package keyguard.fleet;

import java.time.Duration;

/**
 * How a gateway joins a fleet: the Redis URI ({@code redis://}, {@code rediss://},
 * {@code redis-sentinel://}), the password when the URI has none
 * ({@code KEYGUARD_REDIS_PASSWORD}), this node's name (the host name by default), how long a
 * lease lasts without renewal (the longest a node spends what it holds without Redis, and
 * the staleness after which it refuses to authenticate), and how often it syncs.
 */
public record FleetConfig(String redisUri, String password, String node, Duration lease, Duration sync, Duration redisTimeout) {
    public static final Duration DEFAULT_LEASE = Duration.ofSeconds(10);
    public static final Duration DEFAULT_SYNC = Duration.ofMillis(100);

    public FleetConfig {
        checkNode(node);
        if (lease.toMillis() < 500) throw new IllegalArgumentException("the fleet lease is at least 500 ms");
    }

    /** A node name is a host-name-like word: it appears in audit events, Redis keys and a metric label. */
    public static void checkNode(String node) {
        if (node == null || !node.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
            throw new IllegalArgumentException("a node name is letters, digits, `.`, `_` and `-`, at most 63: not `" + node + "`");
        }
    }

    public static FleetConfig of(String redisUri, String password, String node) {
        return new FleetConfig(redisUri, password, node, DEFAULT_LEASE, DEFAULT_SYNC, Duration.ofMillis(500));
    }

    public FleetConfig withLease(Duration v) { return new FleetConfig(redisUri, password, node, v, sync, redisTimeout); }

    public FleetConfig withSync(Duration v) { return new FleetConfig(redisUri, password, node, lease, v, redisTimeout); }

    /** This machine's host name, the default node name. */
    public static String hostName() {
        String h = System.getenv("HOSTNAME");
        if (h == null || h.isBlank()) {
            try {
                h = java.net.InetAddress.getLocalHost().getHostName();
            } catch (java.net.UnknownHostException e) {
                h = "node";
            }
        }
        String clean = h.replaceAll("[^A-Za-z0-9._-]", "-").replaceFirst("^[._-]+", "");
        if (clean.isEmpty()) return "node";
        return clean.length() > 63 ? clean.substring(0, 63) : clean;
    }
}
