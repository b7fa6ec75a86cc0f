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
import keyguard.keys.KeyState;
import keyguard.keys.KeyStoreConflict;
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
 * refuses to authenticate ({@link #current}): it may have missed a revocation. Changes are
 * numbered; after any error, or a gap in the numbers (a log trimmed past this node's
 * position, a Redis that lost writes), it reloads everything.
 *
 * <p>Writes ({@link #put}) go to Redis first, in one script with the log entry, then to the
 * local copy; {@link #putAndConfirm} also waits for every node that may still be
 * authenticating to have applied it. A revoked key stays revoked, in Redis and in every
 * copy; a rotation based on a secret replaced meanwhile is refused ({@code key_put.lua}).
 */
public final class FleetKeyStore implements KeyStore {
    private static final System.Logger LOG = System.getLogger("keyguard.fleet");
    static final String KEYS = "kg:keys";
    static final String LOG_STREAM = "kg:keys:log";
    static final String APPLIED = "kg:nodes:applied";
    static final String SEQ = "kg:keys:seq";
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
    /** The number of the last change applied (0: unknown, no gap check). */
    private volatile long lastSeq;
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

    /**
     * Writes a record to Redis (and the log), then to this node's copy. Refused by Redis —
     * {@link KeyStoreConflict} — when the key is revoked there and this change is not a
     * revocation, or when this change is a rotation based on a secret that is no longer the
     * key's (this node's copy was behind); this node's copy is then brought up to date.
     */
    private String write(KeyRecord record) throws FleetRedis.Unavailable {
        String json = KeyRecordJson.stored(record);
        KeyRecord had = local.get(record.id());
        String basedOn = had != null && !had.secretHash().equals(record.secretHash()) ? had.secretHash() : "";
        List<Object> r = redis.script(PUT, new String[] {KEYS, LOG_STREAM, SEQ}, record.id(), json, Integer.toString(LOG_LENGTH),
                record.state().name().toLowerCase(java.util.Locale.ROOT), basedOn);
        if (((Number) r.get(0)).intValue() == 0) {
            String reason = String.valueOf(r.get(1));
            apply(record.id(), String.valueOf(r.get(2)));
            throw new KeyStoreConflict(reason.equals("revoked") ? "key `" + record.id() + "` has been revoked (through another node)"
                    : "key `" + record.id() + "` was rotated through another node meanwhile; read it again and retry");
        }
        local.put(record);
        return String.valueOf(r.get(1));
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
        return System.currentTimeMillis() - currentAt <= stalenessMillis && !nodes.displaced();
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
            long seq = last.isEmpty() ? 0 : sequence(last.getFirst());
            java.util.Set<String> seen = new java.util.HashSet<>();
            ScanCursor cursor = ScanCursor.INITIAL;
            do {
                MapScanCursor<String, String> page = redis.await(redis.async().hscan(KEYS, cursor, ScanArgs.Builder.limit(1000)), "HSCAN");
                for (Map.Entry<String, String> e : page.getMap().entrySet()) {
                    seen.add(e.getKey());
                    apply(e.getKey(), e.getValue());
                }
                cursor = page;
            } while (!cursor.isFinished());
            for (KeyRecord k : local.all()) {
                if (!seen.contains(k.id())) {
                    LOG.log(System.Logger.Level.INFO, "uploading key " + k.id() + " (kept by this node only) to the shared key store");
                    try {
                        write(k);
                    } catch (KeyStoreConflict raced) {
                        // written meanwhile through another node: its record is applied
                    }
                }
            }
            applied = position;
            lastSeq = seq;
            currentAt = started;
            acknowledge();
        } catch (FleetRedis.Unavailable e) {
            throw new KeyStoreUnavailable("cannot load the keys from Redis: " + e.getMessage(), e);
        }
    }

    /** A change's number in the log (0 for a change written without one). */
    private static long sequence(StreamMessage<String, String> m) {
        try {
            return Long.parseLong(m.getBody().getOrDefault("seq", "0"));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /**
     * Applies a record from Redis to this node's copy. A revoked copy stays revoked (Redis may
     * have lost the revocation in a failover; the admin API's writes keep it revoked there
     * too). A record this version cannot read revokes this node's copy of the key: a key that
     * cannot be checked is not trusted.
     */
    private void apply(String id, String json) {
        KeyRecord had = local.get(id);
        KeyRecord r;
        try {
            r = KeyRecordJson.parse(json);
            if (!r.id().equals(id)) throw new IllegalArgumentException("the record is for key " + r.id());
        } catch (RuntimeException bad) {
            LOG.log(System.Logger.Level.ERROR, "key " + keyguard.audit.UntrustedText.quote(id, 64) + " in Redis cannot be read (" + bad.getMessage()
                    + "); this node treats it as revoked");
            if (had != null && had.state() != KeyState.REVOKED) local.put(had.withState(KeyState.REVOKED));
            return;
        }
        if (had != null && had.state() == KeyState.REVOKED && r.state() != KeyState.REVOKED) return;
        if (had == null || !had.equals(r)) local.put(r);
    }

    private void acknowledge() throws FleetRedis.Unavailable {
        redis.await(redis.async().hset(APPLIED, node, applied), "HSET");
    }

    /** The log skipped changes (trimmed past this node's position, or Redis lost writes): reload everything. */
    private static final class Gap extends RuntimeException {
        Gap(long expected, long got) {
            super("the key log jumped from change " + expected + " to " + got, null, false, false);
        }
    }

    private void follow() {
        while (!closed) {
            try {
                long started = System.currentTimeMillis();
                List<StreamMessage<String, String>> changes = redis.await(redis.blocking().xread(
                        XReadArgs.Builder.block(Duration.ofMillis(BLOCK_MILLIS)).count(BATCH), XReadArgs.StreamOffset.from(LOG_STREAM, applied)), "XREAD");
                for (StreamMessage<String, String> m : changes) {
                    long seq = sequence(m);
                    if (seq != 0 && lastSeq != 0 && seq != lastSeq + 1) throw new Gap(lastSeq + 1, seq);
                    apply(m.getBody().getOrDefault("id", ""), m.getBody().getOrDefault("json", ""));
                    applied = m.getId();
                    lastSeq = seq;
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
                    } catch (InterruptedException interrupted) {
                        return;
                    } catch (RuntimeException again) {
                        // Redis is still away (or answers what cannot be loaded): this node stays
                        // not current, refusing to authenticate, until a reload succeeds
                    }
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        Background.stop(follower, 3000);
        local.close();
    }
}
