package keyguard.counters;

/**
 * A budget's spend in one word of a {@link Cell}: {@code period:20 | micro-dollars:44}. A
 * word from an earlier period reads as zero, so a budget resets at the period boundary
 * without anyone resetting it; check-and-add is one CAS. 2^44 micro-dollars is about 17.6
 * million dollars per period and per counter; amounts saturate there.
 */
final class PeriodTotal {
    static final int WORD = 0;
    static final long MAX = (1L << 44) - 1;
    private static final long PERIOD_MASK = (1L << 20) - 1;

    private PeriodTotal() {}

    static long used(long c, long period) {
        long w = Cell.get(c, WORD);
        long age = age(period, w);
        return age == 0 || age < 0 ? w & MAX : 0;
    }

    /** Adds if the period's total stays within {@code cap}; false (nothing added) otherwise. */
    static boolean tryAdd(long c, long period, long amount, long cap) {
        while (true) {
            long w = Cell.get(c, WORD);
            long age = age(period, w);
            // A word from a later period (a thread whose clock is ahead) is added to, not reset.
            long used = age <= 0 ? w & MAX : 0;
            long p = age < 0 ? w >>> 44 : period & PERIOD_MASK;
            if (amount > Math.min(cap, MAX) - used) return false;
            if (Cell.cas(c, WORD, w, (p << 44) | (used + amount))) return true;
        }
    }

    static void add(long c, long period, long amount) {
        tryAdd(c, period, Math.min(amount, MAX), MAX);
    }

    /** Takes back up to {@code amount} added in {@code period}; nothing once the period is over. */
    static void remove(long c, long period, long amount) {
        while (true) {
            long w = Cell.get(c, WORD);
            if (age(period, w) != 0) return;
            long used = w & MAX;
            long next = (w & ~MAX) | Math.max(0, used - amount);
            if (Cell.cas(c, WORD, w, next)) return;
        }
    }

    private static long age(long period, long w) {
        long d = ((period & PERIOD_MASK) - (w >>> 44)) & PERIOD_MASK;
        return d >= (1L << 19) ? d - (1L << 20) : d;
    }
}
