package keyguard.counters;

/**
 * What one request in flight has reserved, written to shared memory before each counter is
 * touched, so that whoever finds the lease abandoned (a reaper after the expiry, or any
 * process after this one died) can release exactly that.
 *
 * <p>Words: {@code STATE} (0 free, 1 active, 2 being released or released by a reaper,
 * 3 being released after its owner died), the owner's pid and start time, the expiry, the
 * entry count, then per entry {@code id<<3|kind}, the bucket or period it went to, and the
 * amount. Leases are pooled per process and reused: claiming and settling one allocates
 * nothing.
 */
public final class Lease implements Admission {
    static final int STATE = 0;
    static final int PID = 1;
    static final int PID_START = 2;
    static final int EXPIRES = 3;
    static final int COUNT = 4;
    static final int FIRST_ENTRY = 8;
    public static final int MAX_ENTRIES = (LeaseWords.WORDS - FIRST_ENTRY) / 3;

    static final long FREE = 0;
    static final long ACTIVE = 1;
    static final long RELEASING = 2;
    static final long REAPING = 3;

    /** Entry kinds. */
    public static final int REQUESTS = 0;
    public static final int TOKENS = 1;
    public static final int CONCURRENT = 2;
    public static final int SPEND = 3;
    /**
     * Or'ed into an entry's kind in the shared words: the counter is this node's alone (an end
     * user's, {@link Ledger.Spec#local}), so whoever releases the lease after a crash gives
     * its units back to the row, not to a fleet's slice. {@link #KIND_MASK} takes it off.
     */
    public static final int LOCAL = 4;
    public static final int KIND_MASK = 3;

    /**
     * Java-side state, padded by 128 bytes on each side: leases are used by different
     * threads at once, and neighbours sharing a cache line halved reserve + settle
     * throughput on two threads. {@code [PAD]} is the in-use flag, {@code [PAD+1]} the entry
     * count, then per entry the counter's index in the owner's plan, the tag and the amount
     * (a mirror of the shared words, for settling without reading them back).
     */
    private static final int PAD = 16;
    private static final java.lang.invoke.VarHandle LONGS = java.lang.invoke.MethodHandles.arrayElementVarHandle(long[].class);
    private final long[] mirror = new long[PAD + 2 + 3 * MAX_ENTRIES + PAD];
    private final Object[] ownerSlot = new Object[2 * PAD + 1];

    final long words;

    Lease(long words) { this.words = words; }

    /** The key's counters this lease reserved on. */
    public KeyCounters owner() { return (KeyCounters) ownerSlot[PAD]; }

    void owner(KeyCounters kc) { ownerSlot[PAD] = kc; }

    boolean tryUse() {
        return mirror[PAD] == 0 && LONGS.compareAndSet(mirror, PAD, 0L, 1L);
    }

    boolean inUse() { return mirror[PAD] != 0; }

    void unuse() {
        ownerSlot[PAD] = null;
        LONGS.setRelease(mirror, PAD, 0L);
    }

    int count() { return (int) mirror[PAD + 1]; }

    /** Entry {@code k}: the counter's index in the owner's plan, its tag and its amount. */
    int counter(int k) { return (int) mirror[PAD + 2 + 3 * k]; }

    long tag(int k) { return mirror[PAD + 3 + 3 * k]; }

    long amount(int k) { return mirror[PAD + 4 + 3 * k]; }

    void open(long expiresAtMillis) {
        mirror[PAD + 1] = 0;
        Cell.setRelease(words, COUNT, 0);
        Cell.setRelease(words, EXPIRES, expiresAtMillis);
        Cell.setRelease(words, STATE, ACTIVE);
    }

    /** Records an entry for counter {@code index} of the owner, before the counter is touched. */
    void record(int index, long id, int kind, long tag, long amount) {
        int k = count();
        if (k == MAX_ENTRIES) throw new IllegalStateException("a request touches more than " + MAX_ENTRIES + " counters");
        mirror[PAD + 2 + 3 * k] = index;
        mirror[PAD + 3 + 3 * k] = tag;
        mirror[PAD + 4 + 3 * k] = amount;
        int base = FIRST_ENTRY + 3 * k;
        // Ordered stores: the entry is in memory before the count that exposes it, and both
        // before the CAS on the counter that follows (x86 keeps stores in order; the CAS is a fence).
        Cell.setRelease(words, base, (id << 3) | kind);
        Cell.setRelease(words, base + 1, tag);
        Cell.setRelease(words, base + 2, amount);
        mirror[PAD + 1] = k + 1;
        Cell.setRelease(words, COUNT, k + 1);
    }

    /** Forgets the last entry (its counter refused the amount, or it was settled). */
    void dropLast() {
        long n = --mirror[PAD + 1];
        Cell.setRelease(words, COUNT, n);
    }

    /** Takes the lease from active to being released; false if a reaper already released it. */
    boolean take() {
        return Cell.cas(words, STATE, ACTIVE, RELEASING);
    }

    /** Releases the reservation recorded at {@code words}: the reaper's and recovery's path. */
    static void releaseRecorded(long words, CounterStore store, Ledger ledger) {
        // Last entry first, shrinking the count as it goes: a release cut short by another
        // crash leaves exactly the entries it did not reach.
        for (int k = (int) Math.min(Cell.get(words, COUNT), MAX_ENTRIES) - 1; k >= 0; k--) {
            int base = FIRST_ENTRY + 3 * k;
            long head = Cell.get(words, base);
            long id = head >>> 3;
            ledger.give(id, store.row(id), (int) (head & 7), Cell.get(words, base + 1), Cell.get(words, base + 2), false);
            Cell.set(words, COUNT, k);
        }
    }
}
