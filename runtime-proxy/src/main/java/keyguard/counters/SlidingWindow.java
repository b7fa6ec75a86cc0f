package keyguard.counters;

/**
 * A sliding-window counter in one {@link Cell}: the window is cut into {@value #BUCKETS}
 * buckets and the cell keeps {@value #SLOTS} of them, so what it counts always covers the
 * last full window (plus at most one bucket). An admitted unit therefore leaves the window
 * between {@code W} and {@code W + W/10} after it was counted: the limit is never exceeded
 * in any window of length {@code W}, and a caller may wait up to a tenth of a window longer
 * than an exact sliding log would make it wait. See {@code docs/spec/counters.md}.
 *
 * <p>Words: {@code TOTAL} is the sum of the live buckets and the only word admission
 * decides on (one CAS: check and add are a single step); {@code LAST} is the newest bucket
 * epoch seen; then one word per slot, {@code tag:24 | count:40}, where the tag is the
 * bucket's epoch modulo 2^24. The total is never below the sum of the live buckets at any
 * instant (adds go to the total first, removals leave the bucket first), so a race can only
 * make admission stricter for a few nanoseconds, never looser.
 */
final class SlidingWindow {
    static final int BUCKETS = 10;
    static final int SLOTS = BUCKETS + 1;
    static final int TOTAL = 0;
    static final int LAST = 1;
    static final int FIRST_SLOT = 2;

    private static final int TAG_BITS = 24;
    private static final long TAG_MASK = (1L << TAG_BITS) - 1;
    private static final long COUNT_MASK = (1L << (64 - TAG_BITS)) - 1;
    /** Beyond this many idle buckets the 24-bit tags could alias: every bucket is then stale. */
    private static final long ALIAS_GAP = 1L << (TAG_BITS - 1);

    private SlidingWindow() {}

    static long bucketMillis(long windowMillis) {
        return Math.max(1, windowMillis / BUCKETS);
    }

    static long epoch(long nowMillis, long windowMillis) {
        return Math.floorDiv(nowMillis, bucketMillis(windowMillis));
    }

    /** Units counted in the window ending now (expiring buckets that left it). */
    static long used(long c, long epoch) {
        refresh(c, epoch);
        return Math.max(0, Cell.get(c, TOTAL));
    }

    /**
     * Adds {@code amount} if the window would stay within {@code cap}; false (and nothing
     * added) otherwise. Check and add are one CAS on the total.
     */
    static boolean tryAdd(long c, long epoch, long amount, long cap) {
        refresh(c, epoch);
        while (true) {
            long total = Cell.get(c, TOTAL);
            if (amount > cap - Math.max(0, total)) return false;
            if (Cell.cas(c, TOTAL, total, total + amount)) break;
        }
        addToBucket(c, epoch, amount);
        return true;
    }

    /** Adds without a cap (usage found after the fact: a response longer than reserved). */
    static void add(long c, long epoch, long amount) {
        refresh(c, epoch);
        Cell.getAndAdd(c, TOTAL, amount);
        addToBucket(c, epoch, amount);
    }

    /**
     * Takes back up to {@code amount} units that were added in bucket {@code epoch}. If the
     * bucket has left the window, its units already left the total and nothing is done.
     */
    static void remove(long c, long epoch, long amount) {
        int slot = FIRST_SLOT + (int) Math.floorMod(epoch, (long) SLOTS);
        while (true) {
            long w = Cell.get(c, slot);
            long count = w & COUNT_MASK;
            if (count == 0 || tag(w) != (epoch & TAG_MASK)) return;
            long taken = Math.min(count, amount);
            if (Cell.cas(c, slot, w, w - taken)) {
                Cell.subtractFloorZero(c, TOTAL, taken);
                return;
            }
        }
    }

    /**
     * Milliseconds until {@code need} more units would fit under {@code cap}, as buckets
     * leave the window; -1 when they never can ({@code need > cap}).
     */
    static long millisUntilFits(long c, long nowMillis, long windowMillis, long need, long cap) {
        if (need > cap) return -1;
        long bucket = bucketMillis(windowMillis);
        long epoch = Math.floorDiv(nowMillis, bucket);
        refresh(c, epoch);
        long excess = Math.max(0, Cell.get(c, TOTAL)) + need - cap;
        if (excess <= 0) return 0;
        long[] ages = new long[SLOTS];
        long[] counts = new long[SLOTS];
        for (int i = 0; i < SLOTS; i++) {
            long w = Cell.get(c, FIRST_SLOT + i);
            counts[i] = w & COUNT_MASK;
            ages[i] = age(epoch, w);
        }
        // Oldest first: the bucket of age a leaves the window when the epoch reaches epoch + SLOTS - a.
        for (long age = SLOTS - 1; age >= 0; age--) {
            for (int i = 0; i < SLOTS; i++) {
                if (counts[i] == 0 || ages[i] != age) continue;
                excess -= counts[i];
                if (excess <= 0) return Math.max(1, (epoch + SLOTS - age) * bucket - nowMillis);
            }
        }
        return Math.max(1, (epoch + SLOTS) * bucket - nowMillis);
    }

    /** Milliseconds until every unit counted now has left the window (0 when empty). */
    static long millisUntilEmpty(long c, long nowMillis, long windowMillis) {
        long bucket = bucketMillis(windowMillis);
        long epoch = Math.floorDiv(nowMillis, bucket);
        long youngest = -1;
        for (int i = 0; i < SLOTS; i++) {
            long w = Cell.get(c, FIRST_SLOT + i);
            if ((w & COUNT_MASK) == 0) continue;
            long age = age(epoch, w);
            if (age >= 0 && age < SLOTS && (youngest < 0 || age < youngest)) youngest = age;
        }
        return youngest < 0 ? 0 : Math.max(1, (epoch + SLOTS - youngest) * bucket - nowMillis);
    }

    private static void addToBucket(long c, long epoch, long amount) {
        int slot = FIRST_SLOT + (int) Math.floorMod(epoch, (long) SLOTS);
        long tag = epoch & TAG_MASK;
        while (true) {
            long w = Cell.get(c, slot);
            long count = w & COUNT_MASK;
            if (count == 0) {
                if (Cell.cas(c, slot, w, pack(tag, amount))) return;
            } else if (tag(w) == tag || age(epoch, w) < 0) {
                // This bucket, or a newer one written by a thread whose clock is ahead of ours:
                // counting there only makes the unit leave the window a little later.
                if (Cell.cas(c, slot, w, w + amount)) return;
            } else if (Cell.cas(c, slot, w, pack(tag, amount))) {
                // The slot held a bucket that left the window: recycle it.
                Cell.subtractFloorZero(c, TOTAL, count);
                return;
            }
        }
    }

    /**
     * Removes buckets that left the window from the total. Only the thread that moves
     * {@code LAST} to a new bucket scans: within one bucket nothing more can expire, and a
     * scan still in progress elsewhere only leaves the total high for a moment.
     */
    private static void refresh(long c, long epoch) {
        boolean allStale;
        while (true) {
            long last = Cell.get(c, LAST);
            if (epoch <= last) return;
            if (Cell.cas(c, LAST, last, epoch)) {
                allStale = last != 0 && epoch - last >= ALIAS_GAP;
                break;
            }
        }
        for (int i = 0; i < SLOTS; i++) {
            int slot = FIRST_SLOT + i;
            long w = Cell.get(c, slot);
            long count = w & COUNT_MASK;
            if (count == 0) continue;
            long age = age(epoch, w);
            if (!allStale && age > -SLOTS && age < SLOTS) continue;
            if (Cell.cas(c, slot, w, 0)) Cell.subtractFloorZero(c, TOTAL, count);
        }
    }

    /** How many buckets older than {@code epoch} the slot's bucket is (negative: newer). */
    private static long age(long epoch, long w) {
        long d = ((epoch & TAG_MASK) - tag(w)) & TAG_MASK;
        return d >= ALIAS_GAP ? d - (1L << TAG_BITS) : d;
    }

    private static long tag(long w) { return w >>> (64 - TAG_BITS); }

    private static long pack(long tag, long count) {
        return (tag << (64 - TAG_BITS)) | Math.min(count, COUNT_MASK);
    }
}
