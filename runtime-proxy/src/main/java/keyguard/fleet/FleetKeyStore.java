package keyguard.fleet;

import io.lettuce.core.Limit;
import io.lettuce.core.MapScanCursor;
import io.lettuce.core.Range;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XReadArgs;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import keyguard.keys.ChronicleKeyStore;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeyRecordJson;
import keyguard.keys.KeyStore;
import keyguard.keys.KeyStoreUnavailable;

/**
 * The key store of a fleet: Redis holds every key ({@code kg:keys}, id to record) and a log
 * of changes ({@code kg:keys:log}, a stream); each node keeps its own Chronicle copy, so
 * authentication never leaves the process.
 *
 * <h2>Staying current</h2>
 * A node loads every key at start (the log's last id first, then the hash, so a change
 * made in between is replayed, not lost), then follows the log with blocking reads on a
 * connection of its own, applies each change in order and records how far it got
 * ({@code kg:nodes:applied}). A read that returns fewer entries than it asked for proves the
 * node had everything that existed when the read began: that instant is its last proof of
 * being current. A node whose proof is older than the staleness bound (the lease time)
 * refuses to authenticate ({@link #current}): it may have missed a revocation. After any
 * error it reloads everything, so a trimmed log or a Redis that lost writes cannot leave it
 * behind.
 *
 * <p>Writes ({@link #put}) go to Redis first, in one script with the log entry, then to the
 * local copy; {@link #putAndConfirm} also waits for every live node to have applied it.
 */
public final class FleetKeyStore implements KeyStore {
    private static final System.Logger LOG = System.getLogger("keyguard.fleet");
    static final String KEYS = "kg:keys";
    static final String LOG_STREAM = "kg:keys:log";
    static final String APPLIED = "kg:nodes:applied";
    private static final int BATCH = 512;
    /** Changes the log keeps (about): a node further behind than that reloads everything, as after any error. */
    static final int LOG_LENGTH = 10_000;
    /**
     * How long a read of the log waits for a change. A node's proof of being current dates
     * from the start of its last complete read, so this is also how much of the lease an
     * outage eats before it begins.
     */
    private static final long BLOCK_MILLIS = 250;
    private static final FleetRedis.Script PUT = FleetRedis.Script.load("key_put");

    private final ChronicleKeyStore local;
    private final FleetRedis redis;
    private final FleetNodes nodes;
    private final String node;
    private final long stalenessMillis;
    private volatile String applied = "0-0";
    /** When this node last proved it had every change (System.currentTimeMillis); 0: never. */
    private volatile long currentAt;
    private volatile boolean closed;
    private final Thread follower;

    FleetKeyStore(ChronicleKeyStore local, FleetRedis redis, FleetNodes nodes, String node, Duration staleness) {
        this.local = local;
        this.redis = redis;
        this.nodes = nodes;
        this.node = node;
        this.stalenessMillis = staleness.toMillis();
        reload();
        this.follower = Thread.ofPlatform().daemon().name("keyguard-fleet-keys").start(this::follow);
    }

    @Override
    public KeyRecord get(String id) {
        return local.get(id);
    }

    @Override
    public Collection<KeyRecord> all() {
        return local.all();
    }

    @Override
    public void put(KeyRecord record) {
        try {
            write(record);
        } catch (FleetRedis.Unavailable e) {
            throw new KeyStoreUnavailable("the shared key store (Redis) cannot be written: " + e.getMessage(), e);
        }
    }

    private String write(KeyRecord record) throws FleetRedis.Unavailable {
        String json = KeyRecordJson.stored(record);
        List<Object> r = redis.script(PUT, new String[] {KEYS, LOG_STREAM}, record.id(), json, Integer.toString(LOG_LENGTH));
        local.put(record);
        return String.valueOf(r.getFirst());
    }

    @Override
    public List<String> putAndConfirm(KeyRecord record, Duration wait) {
        String id;
        try {
            id = write(record);
        } catch (FleetRedis.Unavailable e) {
            throw new KeyStoreUnavailable("the shared key store (Redis) cannot be written: " + e.getMessage(), e);
        }
        return nodes.awaitApplied(id, wait);
    }

    @Override
    public boolean current() {
        return System.currentTimeMillis() - currentAt <= stalenessMillis;
    }

    /** When this node last proved it was current, or 0. */
    long currentAt() { return currentAt; }

    String applied() { return applied; }

    /** Loads every key: the log position first, then the hash; keys only this node has are uploaded. */
    private void reload() {
        long started = System.currentTimeMillis();
        try {
            List<StreamMessage<String, String>> last = redis.await(redis.async().xrevrange(LOG_STREAM, Range.create("-", "+"), Limit.from(1)),
                    "XREVRANGE");
            String position = last.isEmpty() ? "0-0" : last.getFirst().getId();
            java.util.Set<String> seen = new java.util.HashSet<>();
            ScanCursor cursor = ScanCursor.INITIAL;
            do {
                MapScanCursor<String, String> page = redis.await(redis.async().hscan(KEYS, cursor, ScanArgs.Builder.limit(1000)), "HSCAN");
                for (Map.Entry<String, String> e : page.getMap().entrySet()) {
                    seen.add(e.getKey());
                    apply(e.getValue());
                }
                cursor = page;
            } while (!cursor.isFinished());
            for (KeyRecord k : local.all()) {
                if (!seen.contains(k.id())) {
                    LOG.log(System.Logger.Level.INFO, "uploading key " + k.id() + " (kept by this node only) to the shared key store");
                    write(k);
                }
            }
            applied = position;
            currentAt = started;
            acknowledge();
        } catch (FleetRedis.Unavailable e) {
            throw new KeyStoreUnavailable("cannot load the keys from Redis: " + e.getMessage(), e);
        }
    }

    private void apply(String json) {
        KeyRecord r = KeyRecordJson.parse(json);
        KeyRecord had = local.get(r.id());
        if (had == null || !had.equals(r)) local.put(r);
    }

    private void acknowledge() throws FleetRedis.Unavailable {
        redis.await(redis.async().hset(APPLIED, node, applied), "HSET");
    }

    private void follow() {
        while (!closed) {
            try {
                long started = System.currentTimeMillis();
                List<StreamMessage<String, String>> changes = redis.await(redis.blocking().xread(
                        XReadArgs.Builder.block(Duration.ofMillis(BLOCK_MILLIS)).count(BATCH), XReadArgs.StreamOffset.from(LOG_STREAM, applied)), "XREAD");
                for (StreamMessage<String, String> m : changes) {
                    apply(m.getBody().get("json"));
                    applied = m.getId();
                }
                if (!changes.isEmpty()) acknowledge();
                if (changes.size() < BATCH) currentAt = started;
            } catch (FleetRedis.Unavailable | RuntimeException e) {
                if (closed) return;
                LOG.log(System.Logger.Level.WARNING, "following the key log failed (" + e.getMessage() + "); reloading the keys");
                while (!closed) {
                    try {
                        Thread.sleep(200);
                        reload();
                        break;
                    } catch (KeyStoreUnavailable again) {
                        // Redis is still away: this node stays not current until it is back
                    } catch (InterruptedException interrupted) {
                        return;
                    }
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        follower.interrupt();
        try {
            follower.join(3000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        local.close();
    }
}
