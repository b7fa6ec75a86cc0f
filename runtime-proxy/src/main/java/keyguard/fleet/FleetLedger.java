package keyguard.fleet;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import keyguard.counters.Cell;
import keyguard.counters.Ledger;

/**
 * Fleet-wide limits and budgets: Redis is the authority, and each node admits requests
 * against <em>slices</em> of each counter's room that it leases from Redis, so the hot path
 * stays a CAS on this process's memory-mapped words.
 *
 * <h2>Slices</h2>
 * A slice is one lease of one counter in one tag (a window's bucket, a budget's period; a
 * concurrency gauge has one tag). Redis grants it room ({@code sync.lua}): never more than
 * the cap leaves after every other lease and the usage already reported, so the sum of what
 * all nodes may admit never passes a hard cap, whatever the interleaving. The node keeps
 * the current slice's remaining room in one word of its row, {@code tag:20 | room:44}, with
 * the slice's local expiry in the next word: admission is one CAS that takes units from the
 * room ({@link #tryTake}), a settle gives the unused part back, and when the room cannot
 * take a request the caller asks again on a worker thread ({@link #acquire}), which syncs
 * that slice with Redis at once.
 *
 * <h2>Sizing</h2>
 * A slice asks for the units it used in the last second (at least what the waiting request
 * needs): far from a cap, one sync per {@code syncInterval} carries every slice of the node
 * in one script call, so Redis sees a small fraction of requests. Near a cap Redis grants a
 * fair share of what is left and, once a request waits, no node hoards: the waiting node
 * marks the counter contended ({@code kg:contended}), every node reads that set each round
 * and gives back the headroom it holds of the counter, and the waiting node retries until
 * it gets it (or every unit is used, and it refuses). A counter idle for a lease time holds
 * no headroom.
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>What a node may still admit on a slice (its room) never exceeds what Redis granted
 *       it less what it committed; room is taken out of reach before a sync gives it back.</li>
 *   <li>A slice's report to Redis is absolute (committed, wanted), never a delta, so a sync
 *       that Redis ran but whose answer was lost corrects itself at the next one.</li>
 *   <li>A current slice never ends while the node runs (a unit taken during its final report
 *       would be lost); past slices end once no request can carry their tag.</li>
 * </ul>
 *
 * <h2>What a crash or an outage does</h2>
 * Syncs renew the leases that hold room or slots in use for {@code leaseMillis} (a lease
 * holding only what was used may lapse: its sum stays). A node that stops renewing
 * (it died, or lost Redis) stops admitting on its slices at its own expiry, which comes
 * before Redis's; in Redis its leases then count as fully used (a sum) — what it may have
 * admitted stays counted, so no cap is passed — or, for concurrency, are released one lease
 * time later. A node that comes back reports what it really used, and the rest returns.
 * While Redis cannot be reached a node spends what it holds; then a hard cap refuses
 * ({@link Ledger#UNAVAILABLE}) and a {@code fail open} limit keeps admitting, its units
 * counted on the slice and reported when Redis is back.
 */
public final class FleetLedger implements Ledger {
    private static final System.Logger LOG = System.getLogger("keyguard.fleet");
    private static final int TAG_BITS = 20;
    private static final long TAG_MASK = (1L << TAG_BITS) - 1;
    private static final long ROOM_MAX = (1L << (64 - TAG_BITS)) - 1;
    /** Words of a fleet counter's row. */
    private static final int SLOT = 0;
    private static final int EXPIRES = 1;
    /** What a windowed counter sums: the last full window plus the current bucket, as the single-node window does. */
    private static final int WINDOW_BUCKETS = 11;
    private static final long UNCAPPED = 1L << 50;
    private static final FleetRedis.Script SYNC = FleetRedis.Script.load("sync");

    private final FleetRedis redis;
    private final String node;
    private final String incarnation = Long.toHexString(System.nanoTime() ^ Double.doubleToLongBits(Math.random()));
    private final long leaseMillis;
    private final long syncMillis;
    /** Until when (System.nanoTime) requests do not ask Redis after it failed to answer; the sync thread keeps trying. */
    private volatile long redisDownUntil = System.nanoTime();
    /** How long a node trusts Redis's "exhausted" (for that many units or more) before asking again: half a sync interval. */
    private final long exhaustedNanos;
    private final java.util.function.IntSupplier liveNodes;
    private final Map<Long, Counter> byId = new ConcurrentHashMap<>();
    private final AtomicLong sequence = new AtomicLong();
    private volatile boolean closed;
    private final Thread syncer;
    /** Round trips the ledger made (syncs and waits), for the benchmark. */
    private final LongAdder roundTrips = new LongAdder();

    FleetLedger(FleetRedis redis, String node, long leaseMillis, long syncMillis, java.util.function.IntSupplier liveNodes) {
        this.redis = redis;
        this.node = node;
        this.leaseMillis = leaseMillis;
        this.syncMillis = syncMillis;
        this.exhaustedNanos = syncMillis * 500_000L;
        this.liveNodes = liveNodes;
        this.syncer = Thread.ofPlatform().daemon().name("keyguard-fleet-sync").start(this::loop);
    }

    long roundTrips() { return roundTrips.sum(); }

    /** One counter of this node: its spec, its slices by tag, the current one, its recent rate. */
    final class Counter {
        final long id;
        final long row;
        volatile Spec spec;
        final Map<Long, Slice> slices = new ConcurrentHashMap<>();
        volatile Slice current;
        final ReentrantLock lock = new ReentrantLock();
        final LongAdder taken = new LongAdder();
        /** When a sync round last saw this counter take units (System.currentTimeMillis); idle counters hold no headroom. */
        volatile long lastActiveMillis = System.currentTimeMillis();
        /** Units per second, smoothed over syncs. */
        volatile double rate;
        volatile long lastFleetUsed;
        volatile boolean contended;
        /** When Redis last answered that no unit is left anywhere (System.nanoTime), and for which tag. */
        volatile long exhaustedAt;
        volatile long exhaustedTag = -1;
        volatile long exhaustedNeed;
        long lastSyncNanos = System.nanoTime();

        Counter(long id, long row, Spec spec) {
            this.id = id;
            this.row = row;
            this.spec = spec;
        }

        boolean windowed() {
            return spec.kind() == keyguard.counters.Lease.REQUESTS || spec.kind() == keyguard.counters.Lease.TOKENS;
        }

        boolean concurrency() { return spec.kind() == keyguard.counters.Lease.CONCURRENT; }
    }

    /** One lease: the room Redis granted this node in one tag. */
    final class Slice {
        final Counter counter;
        final long tag;
        final String lease;
        /** Room granted by Redis (under the counter's lock). */
        long granted;
        /** Room left while this slice is not the row's (a past tag, or before it becomes current). */
        final AtomicLong room = new AtomicLong();
        /** Units admitted beyond the room: fail-open admissions while Redis was away, usage beyond a reservation. */
        final AtomicLong extra = new AtomicLong();
        volatile long othersUsed;
        volatile long expiresAt;
        /** When Redis last renewed this slice's lease (System.currentTimeMillis at the request). */
        volatile long renewedAt;
        volatile boolean ended;
        long reported = -1;

        Slice(Counter counter, long tag) {
            this.counter = counter;
            this.tag = tag;
            this.lease = "kg:l:" + node + ":" + incarnation + ":" + counter.spec.name() + ":" + tag + ":" + sequence.incrementAndGet();
        }

        boolean isCurrent() { return counter.current == this; }

        long roomNow() {
            if (isCurrent()) {
                long w = Cell.get(counter.row, SLOT);
                if ((w >>> (64 - TAG_BITS)) == (tag & TAG_MASK)) return w & ROOM_MAX;
            }
            return room.get();
        }

        /** Units committed on this slice: what was granted less what is left, plus what went beyond. */
        long committed() {
            return Math.max(0, granted - roomNow()) + extra.get();
        }
    }

    /** A counter this node keeps alone ({@link Spec#local}): the local ledger's handle. */
    private record Local(Object inner) {}

    /** Ids of the counters this node keeps alone (end users'), for {@link #give} by id. */
    private final java.util.Set<Long> localIds = ConcurrentHashMap.newKeySet();

    @Override
    public Object bind(long id, long row, Spec spec) {
        if (spec.local()) { // an end user's counters are this node's: kept in its rows, never in Redis
            localIds.add(id);
            return new Local(keyguard.counters.LocalLedger.INSTANCE.bind(id, row, spec));
        }
        Counter c = byId.computeIfAbsent(id, k -> {
            Cell.set(row, SLOT, 0);
            Cell.set(row, EXPIRES, 0);
            return new Counter(id, row, spec);
        });
        c.spec = spec; // a reload may change the cap
        return c;
    }

    private static long pack(long tag, long room) {
        return ((tag & TAG_MASK) << (64 - TAG_BITS)) | Math.min(room, ROOM_MAX);
    }

    @Override
    public int tryTake(Object handle, long row, long tag, long amount, long now) {
        if (handle instanceof Local l) return keyguard.counters.LocalLedger.INSTANCE.tryTake(l.inner(), row, tag, amount, now);
        Counter c = (Counter) handle;
        long want = tag & TAG_MASK;
        while (true) {
            long w = Cell.get(row, SLOT);
            if ((w >>> (64 - TAG_BITS)) != want || now >= Cell.get(row, EXPIRES)) return MISS;
            long room = w & ROOM_MAX;
            if (room < amount) return MISS; // the store may have more
            if (Cell.cas(row, SLOT, w, pack(tag, room - amount))) {
                c.taken.add(amount);
                return OK;
            }
        }
    }

    @Override
    public int acquire(Object handle, long row, long tag, long amount, long now) {
        if (handle instanceof Local l) return keyguard.counters.LocalLedger.INSTANCE.acquire(l.inner(), row, tag, amount, now);
        Counter c = (Counter) handle;
        c.lastActiveMillis = System.currentTimeMillis(); // a request is here: not idle, whatever the last round saw
        long deadline = System.nanoTime() + 3 * syncMillis * 1_000_000L + 200_000_000L;
        while (true) {
            c.lock.lock();
            int status;
            try {
                int r = tryTake(c, row, tag, amount, now);
                if (r == OK) return OK;
                if (c.spec.capped() && c.exhaustedTag == tag && amount >= c.exhaustedNeed && System.nanoTime() - c.exhaustedAt < exhaustedNanos) {
                    return NO_ROOM; // Redis said so a moment ago: a key at its cap does not cost a round trip a request
                }
                Slice s = currentSlice(c, tag);
                if (!c.spec.capped()) {
                    // No cap to ask Redis about: the slice admits everything and reports what it counted.
                    if (s.granted == 0) {
                        s.granted = ROOM_MAX;
                        addRoom(s, ROOM_MAX);
                        s.expiresAt = Long.MAX_VALUE;
                        Cell.setRelease(c.row, EXPIRES, Long.MAX_VALUE);
                    }
                    if (tryTake(c, row, tag, amount, now) == OK) return OK;
                }
                try {
                    if (System.nanoTime() < redisDownUntil) throw new FleetRedis.Unavailable("Redis did not answer a moment ago", null);
                    status = sync(List.of(new Entry(s, s.committed() + amount + headroom(c, System.currentTimeMillis()), amount, false)));
                } catch (FleetRedis.Unavailable e) {
                    // Not again for a while: on a partition every call would wait out its timeout.
                    redisDownUntil = Math.max(redisDownUntil, System.nanoTime() + 1_000_000_000L);
                    if (c.spec.failOpen() && s.committed() + amount <= c.spec.cap()) {
                        // Keep admitting on what this node knows, never more than the cap on this node
                        // alone; the units are reported when Redis is back.
                        s.extra.addAndGet(amount);
                        c.taken.add(amount);
                        return OK;
                    }
                    return c.spec.failOpen() ? NO_ROOM : UNAVAILABLE;
                }
                if (tryTake(c, row, tag, amount, now) == OK) return OK;
            } finally {
                c.lock.unlock();
            }
            if (System.nanoTime() > deadline) return NO_ROOM;
            if (status == STATUS_OK) continue; // granted, but requests on the IO threads took it first: again
            if (status == STATUS_EXHAUSTED) {
                c.exhaustedAt = System.nanoTime();
                c.exhaustedNeed = amount;
                c.exhaustedTag = tag;
                return NO_ROOM;
            }
            try {
                Thread.sleep(Math.max(5, syncMillis / 2)); // contended: others give back the headroom they hold within a round
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return NO_ROOM;
            }
        }
    }

    /** The slice of {@code tag}, made the row's current one (the previous current one keeps its room aside). Under the lock. */
    private Slice currentSlice(Counter c, long tag) {
        Slice cur = c.current;
        if (cur != null && cur.tag == tag && !cur.ended) return cur;
        Slice next = c.slices.get(tag);
        if (next == null || next.ended) {
            next = new Slice(c, tag);
            c.slices.put(tag, next);
        }
        // Stop admissions on the row, move what is left of the old slice aside, then hand the row over.
        Cell.setRelease(c.row, EXPIRES, 0);
        while (true) {
            long w = Cell.get(c.row, SLOT);
            if (Cell.cas(c.row, SLOT, w, pack(tag, 0))) {
                if (cur != null && (w >>> (64 - TAG_BITS)) == (cur.tag & TAG_MASK)) cur.room.addAndGet(w & ROOM_MAX);
                break;
            }
        }
        c.current = next;
        long pending = next.room.getAndSet(0);
        if (pending > 0) addRoom(next, pending);
        if (next.expiresAt > 0) Cell.setRelease(c.row, EXPIRES, next.expiresAt);
        return next;
    }

    /** Adds room to a slice: to the row when it is current, else aside. */
    private void addRoom(Slice s, long units) {
        if (s.isCurrent()) {
            while (true) {
                long w = Cell.get(s.counter.row, SLOT);
                if ((w >>> (64 - TAG_BITS)) != (s.tag & TAG_MASK)) break;
                if (Cell.cas(s.counter.row, SLOT, w, pack(s.tag, (w & ROOM_MAX) + units))) return;
            }
        }
        s.room.addAndGet(units);
    }

    /** Takes up to {@code units} of a slice's room away (a shrink); returns how many. */
    private long takeRoom(Slice s, long units) {
        if (s.isCurrent()) {
            while (true) {
                long w = Cell.get(s.counter.row, SLOT);
                if ((w >>> (64 - TAG_BITS)) != (s.tag & TAG_MASK)) break;
                long take = Math.min(units, w & ROOM_MAX);
                if (Cell.cas(s.counter.row, SLOT, w, pack(s.tag, (w & ROOM_MAX) - take))) return take;
            }
        }
        while (true) {
            long r = s.room.get();
            long take = Math.min(units, r);
            if (s.room.compareAndSet(r, r - take)) return take;
        }
    }

    /** Headroom a slice asks for beyond what it has used: about a second of this counter's traffic. */
    private long headroom(Counter c, long now) {
        if (!c.spec.capped()) return 0;
        if (c.contended) return 0;
        if (now - c.lastActiveMillis > leaseMillis) return 0; // idle: hold nothing, renew nothing
        if (c.lastFleetUsed >= c.spec.cap()) return 0; // at the cap (or over a lowered one): hold nothing beyond use
        long perSecond = (long) Math.ceil(c.rate);
        return Math.max(1, Math.min(perSecond, c.spec.cap() / 4));
    }

    @Override
    public boolean givesBackAnywhere() { return false; }

    @Override
    public void give(long id, long row, int kind, long tag, long amount, boolean rollback) {
        // An end user's counter: known by its binding, or, for a lease a crashed process left behind, by its entry's kind.
        if ((kind & keyguard.counters.Lease.LOCAL) != 0 || localIds.contains(id)) {
            keyguard.counters.LocalLedger.INSTANCE.give(id, row, kind & keyguard.counters.Lease.KIND_MASK, tag, amount, rollback);
            return;
        }
        if (kind == keyguard.counters.Lease.REQUESTS && !rollback) return; // a request made stays counted
        Counter c = byId.get(id);
        if (c == null) return;
        Slice s = c.slices.get(tag);
        if (s == null || s.ended) return;
        long over = s.extra.get();
        if (over > 0) {
            long back = Math.min(over, amount);
            if (s.extra.compareAndSet(over, over - back)) amount -= back;
        }
        if (amount > 0) addRoom(s, amount);
        if (rollback) c.taken.add(-amount);
    }

    @Override
    public void addLate(Object handle, long row, long tag, long amount) {
        if (handle instanceof Local l) {
            keyguard.counters.LocalLedger.INSTANCE.addLate(l.inner(), row, tag, amount);
            return;
        }
        Counter c = (Counter) handle;
        Slice s = c.slices.get(tag);
        if (s == null) s = c.current;
        if (s == null) return;
        long took = takeRoom(s, amount);
        if (took < amount) s.extra.addAndGet(amount - took);
    }

    @Override
    public long used(Object handle, long row, long tag, long now) {
        if (handle instanceof Local l) return keyguard.counters.LocalLedger.INSTANCE.used(l.inner(), row, tag, now);
        Counter c = (Counter) handle;
        Slice s = c.slices.get(tag);
        if (s == null || s.ended) return c.lastFleetUsed;
        return s.othersUsed + s.committed();
    }

    /**
     * This node's own units in {@code tag}: others' usage is known only as last reported, and
     * a refusal before admission must never rest on a number that may have gone down since
     * (a slot freed, a reservation settled lower). The admission asks Redis.
     */
    @Override
    public long usedForCap(Object handle, long row, long tag, long now) {
        if (handle instanceof Local l) return keyguard.counters.LocalLedger.INSTANCE.usedForCap(l.inner(), row, tag, now);
        Slice s = ((Counter) handle).slices.get(tag);
        return s == null || s.ended ? 0 : s.committed();
    }

    @Override
    public long millisUntilFits(Object handle, long row, long now, long need) {
        if (handle instanceof Local l) return keyguard.counters.LocalLedger.INSTANCE.millisUntilFits(l.inner(), row, now, need);
        Counter c = (Counter) handle;
        Spec s = c.spec;
        if (c.concurrency()) return 1000;
        if (!c.windowed()) return s.calendar().at(now).endMillis() - now;
        long bucket = Math.max(1, s.windowMillis() / 10);
        return bucket - Math.floorMod(now, bucket);
    }

    @Override
    public long millisUntilEmpty(Object handle, long row, long now) {
        if (handle instanceof Local l) return keyguard.counters.LocalLedger.INSTANCE.millisUntilEmpty(l.inner(), row, now);
        Counter c = (Counter) handle;
        if (c.concurrency()) return 0;
        if (!c.windowed()) return c.spec.calendar().at(now).endMillis() - now;
        return c.spec.windowMillis();
    }

    // ------------------------------------------------------------------ syncing with Redis

    static final int STATUS_OK = 0;
    static final int STATUS_CONTENDED = 1;
    static final int STATUS_EXHAUSTED = 2;

    /** One slice to sync: what it wants granted in all, the units a request waits for, whether it ends. */
    private record Entry(Slice slice, long want, long need, boolean last) {}

    /**
     * Syncs slices with Redis in one script call and applies the answers; returns the
     * status of the first entry. Callers hold the lock of the first entry's counter.
     */
    private int sync(List<Entry> entries) throws FleetRedis.Unavailable {
        List<String> args = new ArrayList<>(4 + entries.size() * 12);
        args.add(node);
        args.add(Long.toString(leaseMillis));
        args.add(Integer.toString(liveNodes.getAsInt()));
        args.add(Integer.toString(entries.size()));
        long[] committed = new long[entries.size()];
        for (int k = 0; k < entries.size(); k++) {
            Entry e = entries.get(k);
            Slice s = e.slice();
            Counter c = s.counter;
            Spec spec = c.spec;
            long want = e.want();
            if (spec.capped() && want < s.granted) {
                // Give room back: take it out of reach first, so no admission uses what Redis reassigns.
                s.granted -= takeRoom(s, s.granted - want);
            }
            // A node that stops takes its requests in flight with it: their slots are free.
            committed[k] = e.last() && c.concurrency() ? 0 : s.committed();
            args.add(s.lease);
            args.add(counterPrefix(spec));
            args.add(Long.toString(s.tag));
            args.add(Integer.toString(c.windowed() ? WINDOW_BUCKETS : 0));
            args.add(Long.toString(spec.capped() ? spec.cap() : UNCAPPED));
            args.add(Long.toString(committed[k]));
            args.add(Long.toString(spec.capped() ? Math.max(want, committed[k]) : committed[k]));
            args.add(c.concurrency() ? "conc" : "sum");
            args.add(Long.toString(ttlMillis(c, s.tag)));
            args.add(Long.toString(e.need()));
            args.add(e.last() ? "1" : "0");
            args.add(Long.toString(spec.capped() ? s.granted : 0));
        }
        long sentAt = System.currentTimeMillis();
        roundTrips.increment();
        List<Object> out = redis.script(SYNC, new String[0], args.toArray(String[]::new));
        int first = STATUS_OK;
        for (int k = 0; k < entries.size(); k++) {
            Entry e = entries.get(k);
            Slice s = e.slice();
            Counter c = s.counter;
            long granted = ((Number) out.get(1 + 3 * k)).longValue();
            long fleetUsed = ((Number) out.get(2 + 3 * k)).longValue(); // committed fleet-wide, as last reported
            int status = ((Number) out.get(3 + 3 * k)).intValue();
            if (k == 0) first = status;
            s.reported = committed[k];
            s.renewedAt = sentAt;
            s.othersUsed = Math.max(0, fleetUsed - committed[k]);
            c.lastFleetUsed = fleetUsed;
            c.contended = status == STATUS_CONTENDED;
            if (e.last()) {
                end(s);
                continue;
            }
            if (c.spec.capped()) {
                long delta = granted - s.granted;
                if (delta > 0) {
                    s.granted = granted;
                    addRoom(s, delta);
                } else if (delta < 0) {
                    s.granted -= takeRoom(s, -delta); // Redis never grants less than the node held: a safety net
                }
                s.expiresAt = sentAt + leaseMillis * 9 / 10; // before Redis's own expiry, which starts later
                if (s.isCurrent()) Cell.setRelease(c.row, EXPIRES, s.expiresAt);
            }
        }
        markContended(out.get(1 + 3 * entries.size()));
        return first;
    }

    private void end(Slice s) {
        s.ended = true;
        s.counter.slices.remove(s.tag, s);
        if (s.isCurrent()) {
            Cell.setRelease(s.counter.row, EXPIRES, 0);
            s.counter.current = null;
        }
    }

    /** How long Redis keeps a counter's state: its window or period and a margin; a gauge a day. */
    private long ttlMillis(Counter c, long tag) {
        Spec s = c.spec;
        if (c.concurrency()) return 86_400_000L;
        if (c.windowed()) return s.windowMillis() + 3 * Math.max(1, s.windowMillis() / 10) + leaseMillis;
        var span = s.calendar().at(System.currentTimeMillis());
        return 2 * (span.endMillis() - span.startMillis()) + leaseMillis;
    }

    /** Whether a slice's tag can still matter: its bucket within the window, its period not over. */
    private boolean stillCounts(Slice s, long now) {
        Counter c = s.counter;
        if (c.concurrency()) return true;
        if (c.windowed()) {
            long bucket = Math.max(1, c.spec.windowMillis() / 10);
            return s.tag > Math.floorDiv(now, bucket) - WINDOW_BUCKETS;
        }
        return s.tag >= c.spec.calendar().at(now).index();
    }

    private void loop() {
        while (!closed) {
            try {
                Thread.sleep(syncMillis);
            } catch (InterruptedException e) {
                return;
            }
            try {
                if (!syncAll(false)) readContended();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "syncing counter slices failed", e);
            }
        }
    }

    /**
     * Counters on which a request waits (on any node) for room that others hold: this node
     * stops holding headroom on them, so its next sync gives it back. Every sync's answer
     * carries the set; a round without a sync reads it on its own (the set is empty but for
     * counters at their cap).
     */
    private void readContended() {
        roundTrips.increment();
        try {
            markContended(redis.await(redis.async().zrange(CONTENDED, 0, 1023), "ZRANGE contended"));
        } catch (FleetRedis.Unavailable e) {
            // the next round tries again
        }
    }

    private void markContended(Object members) {
        if (!(members instanceof List<?> list) || list.isEmpty()) return;
        java.util.Set<String> hot = new java.util.HashSet<>();
        for (Object m : list) hot.add(String.valueOf(m));
        for (Counter c : byId.values()) {
            Slice s = c.current;
            if (s != null && hot.contains(counterKey(c.spec, s.tag))) c.contended = true;
        }
    }

    static final String CONTENDED = "kg:contended";

    private static String counterKey(Spec spec, long tag) {
        return counterPrefix(spec) + tag;
    }

    private static String counterPrefix(Spec spec) {
        return "kg:c:" + spec.name() + ":";
    }

    /**
     * One round: every slice that changed, needs headroom, is about to expire in Redis, or
     * no longer counts (ended with its final usage), in script calls of up to 256 slices.
     */
    boolean syncAll(boolean ending) {
        long now = System.currentTimeMillis();
        List<Entry> batch = new ArrayList<>();
        List<Counter> locked = new ArrayList<>();
        boolean synced = false;
        for (Counter c : byId.values()) {
            if (c.slices.isEmpty()) continue;
            // The rate first, lock or not: a counter whose requests keep its lock busy is the busiest.
            long nanos = System.nanoTime();
            double seconds = Math.max(0.001, (nanos - c.lastSyncNanos) / 1e9);
            long taken = c.taken.sumThenReset();
            c.rate = 0.5 * c.rate + 0.5 * (taken / seconds);
            c.lastSyncNanos = nanos;
            if (taken != 0) c.lastActiveMillis = now;
            if (!c.lock.tryLock()) continue; // a request is syncing it right now
            locked.add(c);
            for (Slice s : c.slices.values()) {
                if (s.ended) continue;
                long committed = s.committed();
                boolean current = s.isCurrent();
                // Past slices end (no request carries their tag any more); a current one never
                // does while the node runs: a concurrency slot taken just now would be lost.
                boolean last = ending || !stillCounts(s, now);
                long want = !current || last ? committed : committed + headroom(c, now);
                // A lease that holds nothing beyond what was used may lapse in Redis: its sum stays
                // as reported, and the node's next report takes it up again. One that holds room,
                // or slots of requests in flight, is renewed.
                boolean holds = (c.spec.capped() && s.granted > committed) || (c.concurrency() && committed > 0);
                boolean due = holds && now - s.renewedAt > leaseMillis / 3;
                if (last || due || committed != s.reported || (c.spec.capped() && want != s.granted)) {
                    batch.add(new Entry(s, want, 0, last));
                }
            }
            if (batch.size() >= 256) synced |= flush(batch, locked);
        }
        return flush(batch, locked) | synced;
    }

    /** Syncs a batch and unlocks its counters; whether a script call went through. */
    private boolean flush(List<Entry> batch, List<Counter> locked) {
        try {
            if (batch.isEmpty()) return false;
            sync(batch);
            redisDownUntil = System.nanoTime(); // Redis answers again: requests may ask it
            return true;
        } catch (FleetRedis.Unavailable e) {
            return false; // Redis away: slices run down on their own expiry; the next round tries again
        } finally {
            batch.clear();
            for (Counter c : locked) c.lock.unlock();
            locked.clear();
        }
    }

    /** Ends every slice (reports the final usage, returns the rest) and stops syncing. */
    @Override
    public void close() {
        if (closed) return; // the enforcer closes it before its rows go; the fleet again after
        closed = true;
        Background.stop(syncer, 2000);
        try {
            syncAll(true);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "could not return this node's slices; they expire in Redis", e);
        }
    }
}
