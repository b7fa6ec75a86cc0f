package keyguard.counters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import net.openhft.chronicle.bytes.Byteable;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.values.Values;

/**
 * Counters and leases in memory-mapped Chronicle Map files of the data directory:
 * {@code counters.dat} (counter id to a row of {@value CounterWords#WORDS} words),
 * {@code counter-ids.dat} (counter name to id) and {@code leases.dat}. Each counter is
 * bound once: its off-heap address is looked up on first use and kept, and from then on
 * every update is a CAS or atomic add on the mapped memory, with no Java lock and no
 * allocation. Several processes may open the same directory; they see and update the same
 * words. The OS writes the mapped pages back, so a kill -9 loses nothing that was written.
 *
 * <p>Counter 0 is the store's own: word 0 hands out counter ids, word 1 process instances,
 * word 2 holds the store's {@link #salt} (drawn by the first process that asks).
 */
public final class ChronicleCounterStore implements CounterStore {
    private static final System.Logger LOG = System.getLogger("keyguard.counters");
    private static final int POOL_BITS = 20;

    private final ChronicleMap<Long, CounterWords> counters;
    private final ChronicleMap<CharSequence, Long> ids;
    private final ChronicleMap<Long, LeaseWords> leases;
    private final long sequence;
    private final long instance;
    private final long pid = ProcessHandle.current().pid();
    private final long pidStart = startMillis(ProcessHandle.current());
    private final int maxLeases;
    /** Where released reservations are given back: the rows themselves, unless a fleet ledger keeps the units. */
    private volatile Ledger ledger = LocalLedger.INSTANCE;
    private volatile Lease[] pool = new Lease[0];
    private final AtomicInteger cursor = new AtomicInteger();
    private final ThreadLocal<int[]> lastClaimed = ThreadLocal.withInitial(() -> new int[] {Integer.MAX_VALUE});

    private ChronicleCounterStore(ChronicleMap<Long, CounterWords> counters, ChronicleMap<CharSequence, Long> ids,
                                  ChronicleMap<Long, LeaseWords> leases, int maxLeases) {
        this.counters = counters;
        this.ids = ids;
        this.leases = leases;
        this.maxLeases = maxLeases;
        this.sequence = row(0L);
        this.instance = Cell.getAndAdd(sequence, 1, 1) + 1;
    }

    /**
     * Opens (or creates) the store in {@code dir}, sized for {@code maxCounters} counters
     * and {@code maxLeases} requests in flight per process, then releases the leases of
     * processes that are gone.
     */
    public static ChronicleCounterStore open(Path dir, long maxCounters, int maxLeases) {
        if (maxLeases < 1 || maxLeases > (1 << POOL_BITS)) throw new IllegalArgumentException("maxLeases must be 1.." + (1 << POOL_BITS));
        ChronicleMap<Long, CounterWords> counters = null;
        ChronicleMap<CharSequence, Long> ids = null;
        try {
            counters = ChronicleMap.of(Long.class, CounterWords.class)
                    .name("keyguard-counters").entries(maxCounters + 1)
                    .entryAndValueOffsetAlignment(8).checksumEntries(false)
                    .createPersistedTo(dir.resolve("counters.dat").toFile());
            ids = ChronicleMap.of(CharSequence.class, Long.class)
                    .name("keyguard-counter-ids").entries(maxCounters + 1)
                    .averageKey("k/0123456789ab/tokens.policy.1d")
                    .createPersistedTo(dir.resolve("counter-ids.dat").toFile());
            ChronicleMap<Long, LeaseWords> leases = ChronicleMap.of(Long.class, LeaseWords.class)
                    .name("keyguard-leases").entries(Math.max(1024, 4L * maxLeases))
                    .entryAndValueOffsetAlignment(8).checksumEntries(false)
                    .createPersistedTo(dir.resolve("leases.dat").toFile());
            ChronicleCounterStore store = new ChronicleCounterStore(counters, ids, leases, maxLeases);
            int released = store.reap(System.currentTimeMillis());
            if (released > 0) LOG.log(System.Logger.Level.INFO, "released " + released + " reservations left by processes that are gone");
            return store;
        } catch (IOException e) {
            if (counters != null) counters.close();
            if (ids != null) ids.close();
            throw new UncheckedIOException("cannot open the counters in " + dir + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void ledger(Ledger ledger) {
        this.ledger = ledger;
    }

    @Override
    public long id(String name) {
        Long id = ids.get(name);
        if (id != null) return id;
        long fresh = Cell.getAndAdd(sequence, 0, 1) + 1;
        Long raced = ids.putIfAbsent(name, fresh);
        return raced != null ? raced : fresh;
    }

    @Override
    public long salt() {
        while (true) {
            long s = Cell.get(sequence, 2);
            if (s != 0) return s;
            long fresh = new java.security.SecureRandom().nextLong() | 1;
            if (Cell.cas(sequence, 2, 0, fresh)) return fresh;
        }
    }

    @Override
    public long row(long id) {
        CounterWords ref = Values.newNativeReference(CounterWords.class);
        counters.acquireUsing(id, ref);
        return address((Byteable) ref);
    }

    private static long address(Byteable ref) {
        long address = ref.bytesStore().addressForRead(ref.offset());
        if ((address & 7) != 0) throw new IllegalStateException("counter words are not 8-byte aligned");
        return address;
    }

    @Override
    public Lease claim(long expiresAtMillis) {
        int[] hint = lastClaimed.get();
        while (true) {
            Lease[] p = pool;
            int n = p.length;
            // A thread first tries the lease it used last (free again once its request
            // settled), so threads do not meet on a shared cursor or on each other's leases.
            int start = hint[0] < n ? hint[0] : Math.floorMod(cursor.getAndIncrement(), Math.max(1, n));
            for (int tries = 0; tries < n; tries++) {
                int i = start + tries < n ? start + tries : start + tries - n;
                Lease lease = p[i];
                if (lease.tryUse()) {
                    hint[0] = i;
                    lease.open(expiresAtMillis);
                    return lease;
                }
            }
            hint[0] = Integer.MAX_VALUE;
            if (!grow(n)) return null;
        }
    }

    /** Grows the pool past {@code seen} leases; false when it is at its maximum. */
    private synchronized boolean grow(int seen) {
        Lease[] p = pool;
        if (p.length != seen) return true;
        if (p.length >= maxLeases) return false;
        int size = Math.min(maxLeases, Math.max(64, p.length * 2));
        Lease[] bigger = java.util.Arrays.copyOf(p, size);
        for (int i = p.length; i < size; i++) {
            LeaseWords ref = Values.newNativeReference(LeaseWords.class);
            leases.acquireUsing((instance << POOL_BITS) | i, ref);
            long words = address((Byteable) ref);
            Cell.set(words, Lease.STATE, Lease.FREE);
            Cell.set(words, Lease.PID, pid);
            Cell.set(words, Lease.PID_START, pidStart);
            bigger[i] = new Lease(words);
        }
        pool = bigger;
        return true;
    }

    @Override
    public void free(Lease lease) {
        Cell.setRelease(lease.words, Lease.STATE, Lease.FREE);
        lease.unuse();
    }

    @Override
    public int leasesInUse() {
        int n = 0;
        for (Lease lease : pool) if (lease.inUse()) n++;
        return n;
    }

    @Override
    public synchronized int reap(long nowMillis) {
        int released = 0;
        List<Long> gone = new ArrayList<>();
        LeaseWords ref = Values.newNativeReference(LeaseWords.class);
        for (Long key : leases.keySet()) {
            boolean mine = (key >>> POOL_BITS) == instance;
            leases.acquireUsing(key, ref);
            long words = address((Byteable) ref);
            long state = Cell.get(words, Lease.STATE);
            if (!mine && !alive(Cell.get(words, Lease.PID), Cell.get(words, Lease.PID_START))) {
                // The owner is gone: release what it had not settled, then drop the lease.
                if ((state == Lease.ACTIVE || state == Lease.RELEASING) && Cell.cas(words, Lease.STATE, state, Lease.REAPING)) {
                    Lease.releaseRecorded(words, this, ledger);
                    Cell.set(words, Lease.STATE, Lease.FREE);
                    released++;
                }
                if (Cell.get(words, Lease.STATE) == Lease.FREE) gone.add(key);
            } else if (state == Lease.ACTIVE && Cell.get(words, Lease.EXPIRES) <= nowMillis
                    && Cell.cas(words, Lease.STATE, Lease.ACTIVE, Lease.RELEASING)) {
                // Expired: release it and leave it RELEASING, so its owner, if it ever settles, knows.
                Lease.releaseRecorded(words, this, ledger);
                released++;
            }
        }
        for (Long key : gone) leases.remove(key);
        return released;
    }

    private static boolean alive(long pid, long startMillis) {
        return ProcessHandle.of(pid).map(h -> startMillis(h) == startMillis).orElse(false);
    }

    private static long startMillis(ProcessHandle h) {
        return h.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
    }

    /** Releases this process's unsettled reservations (their requests are abandoned), then unmaps the files. */
    @Override
    public void close() {
        for (Lease lease : pool) {
            if (lease.inUse() && lease.take()) Lease.releaseRecorded(lease.words, this, ledger);
            if (lease.inUse()) Cell.setRelease(lease.words, Lease.STATE, Lease.FREE);
        }
        leases.close();
        ids.close();
        counters.close();
    }
}
