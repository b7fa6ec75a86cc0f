package keyguard.fleet;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;
import keyguard.audit.SpendIndex;
import keyguard.counters.Ledger;
import keyguard.keys.ChronicleKeyStore;
import keyguard.keys.KeyStore;
import net.openhft.chronicle.queue.ChronicleQueue;

/**
 * A gateway's membership in a fleet: one Redis connection shared by the key store
 * ({@link FleetKeyStore}), the counters ({@link FleetLedger}), the spend aggregates
 * ({@link FleetSpend}) and the heartbeats ({@link FleetNodes}). Started before the
 * listeners, closed after them.
 */
public final class Fleet implements AutoCloseable {
    private final FleetConfig config;
    private final FleetRedis redis;
    private final FleetNodes nodes;
    private final FleetKeyStore keys;
    private final FleetLedger ledger;
    private FleetSpend spend;
    /** This node's data directory's identity: where its spend is counted up to, whatever the node is called. */
    private final String dataId;

    private Fleet(FleetConfig config, FleetRedis redis, FleetNodes nodes, FleetKeyStore keys, FleetLedger ledger, String dataId) {
        this.dataId = dataId;
        this.config = config;
        this.redis = redis;
        this.nodes = nodes;
        this.keys = keys;
        this.ledger = ledger;
    }

    /**
     * Connects and loads the keys before anything serves: a node that starts (or comes back)
     * is current before it authenticates anyone.
     */
    public static Fleet join(FleetConfig config, Path keysFile, String dataId, String secretFingerprint, Supplier<FleetNodes.Status> status) {
        FleetRedis redis = new FleetRedis(config.redisUri(), config.password(), config.redisTimeout());
        List<AutoCloseable> opened = new java.util.ArrayList<>();
        opened.add(redis);
        try {
            checkSecret(redis, secretFingerprint);
            redis.warnUnlessNoEviction();
            FleetNodes nodes = new FleetNodes(redis, config.node(), dataId, config.lease().toMillis(), status);
            nodes.start(); // claims the name and the data directory first
            opened.add(nodes::close);
            FleetKeyStore keys = new FleetKeyStore(ChronicleKeyStore.open(keysFile, 100_000), redis, nodes, config.node(), config.lease());
            opened.add(keys);
            FleetLedger ledger = new FleetLedger(redis, config.node(), config.lease().toMillis(), config.sync().toMillis(), nodes::liveCount);
            return new Fleet(config, redis, nodes, keys, ledger, dataId);
        } catch (RuntimeException e) {
            for (int i = opened.size() - 1; i >= 0; i--) {
                try {
                    opened.get(i).close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /**
     * Every node must hash key secrets with the same server secret, or a key created on one
     * fails on the others: the first node records the secret's fingerprint, the others
     * compare theirs and refuse to start on a mismatch.
     */
    private static void checkSecret(FleetRedis redis, String fingerprint) {
        try {
            redis.await(redis.async().setnx(SECRET_CHECK, fingerprint), "SETNX");
            String fleet = redis.await(redis.async().get(SECRET_CHECK), "GET");
            if (!fingerprint.equals(fleet)) {
                throw new IllegalStateException("this node's server secret is not the fleet's: keys created on other nodes would not verify here."
                        + " Give every node the same secret (KEYGUARD_SERVER_SECRET, or a copy of another node's data/server.secret); see docs/fleet.md");
            }
        } catch (FleetRedis.Unavailable e) {
            throw new IllegalStateException("cannot reach Redis to join the fleet: " + e.getMessage(), e);
        }
    }

    static final String SECRET_CHECK = "kg:fleet:secret-check";

    /** How often a node sends its new audit events to the fleet's spend: the fleet's spend is about this far behind. */
    static final long SPEND_INTERVAL_MILLIS = 1000;

    /** Starts feeding this node's audit events into the fleet's spend. */
    public void feedSpend(ChronicleQueue audit) {
        this.spend = new FleetSpend(redis, dataId, audit, SPEND_INTERVAL_MILLIS);
    }

    public String node() { return config.node(); }

    public FleetConfig config() { return config; }

    public KeyStore keys() { return keys; }

    /** The fleet's directory of SCIM users and groups and of service accounts, in Redis. */
    public keyguard.identity.DirectoryStore directoryStore() { return new FleetDirectoryStore(redis); }

    public Ledger ledger() { return ledger; }

    public String describe() { return redis.describe(); }

    /**
     * Whether this node is the first of the fleet to raise alert {@code id} (an alert's id is
     * the same on every node that sees the same crossing): {@code SET kg:alerts:ID NX}, kept
     * for {@code ttlMillis}. True too when Redis cannot be reached: an alert twice is better
     * than none.
     */
    public boolean firstToAlert(String id, long ttlMillis) {
        try {
            String set = redis.await(redis.async().set("kg:alerts:" + id, node(), io.lettuce.core.SetArgs.Builder.nx().px(Math.max(60_000, ttlMillis))),
                    "SET alert");
            return "OK".equals(set);
        } catch (FleetRedis.Unavailable e) {
            return true;
        }
    }

    /** The fleet's spend, grouped as {@link SpendIndex#query} does. */
    public List<SpendIndex.Row> spend(List<String> groupBy, java.time.LocalDate from, java.time.LocalDate to) throws Unreachable {
        try {
            return spend.query(groupBy, from, to);
        } catch (FleetRedis.Unavailable e) {
            throw new Unreachable(e.getMessage());
        }
    }

    /** Every node of the fleet, live or not. */
    public List<FleetNodes.Node> nodes() throws Unreachable {
        try {
            return nodes.all();
        } catch (FleetRedis.Unavailable e) {
            throw new Unreachable(e.getMessage());
        }
    }

    /** As {@link #nodes}, at most a second old: for metrics scrapes, which read it several times. */
    public List<FleetNodes.Node> nodesRecent() throws Unreachable {
        try {
            return nodes.recent();
        } catch (FleetRedis.Unavailable e) {
            throw new Unreachable(e.getMessage());
        }
    }

    /** Round trips to Redis so far (all of them), and those of the counters alone. */
    public long roundTrips() { return redis.calls(); }

    public long ledgerRoundTrips() { return ledger.roundTrips(); }

    public long redisLatencyMicros() { return redis.meanLatencyMicros(); }

    public boolean redisUp() { return redis.up(); }

    /** Redis cannot be reached for an answer the admin API needs. */
    public static final class Unreachable extends Exception {
        public Unreachable(String message) {
            super(message, null, false, false);
        }
    }

    @Override
    public void close() {
        try {
            if (spend != null) spend.close();
        } finally {
            try {
                ledger.close();
            } finally {
                try {
                    nodes.close();
                } finally {
                    try {
                        keys.close();
                    } finally {
                        redis.close();
                    }
                }
            }
        }
    }
}
