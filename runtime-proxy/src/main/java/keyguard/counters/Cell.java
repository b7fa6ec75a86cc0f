package keyguard.counters;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * Atomic access to rows of 64-bit words in shared memory, addressed by the row's absolute
 * address in a memory-mapped file (a counter, or a lease). Every access is a volatile
 * read, a CAS ({@code lock cmpxchg}) or an atomic add ({@code lock xadd}) on that memory,
 * so updates are atomic between threads and between processes that map the same file.
 * A row is held as a bare {@code long}: a million keys' counters cost no objects.
 *
 * <p>Rows must be 8-byte aligned (the maps are built with that alignment); the JDK checks
 * alignment on every atomic access.
 */
public final class Cell {
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    /** The whole address space as one segment, so that a row is just an address. */
    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private Cell() {}

    public static long get(long row, int word) {
        return (long) LONG.getVolatile(ALL, row + 8L * word);
    }

    public static void set(long row, int word, long value) {
        LONG.setVolatile(ALL, row + 8L * word, value);
    }

    /**
     * An ordered store: visible to other threads and processes no later than any store or
     * CAS that follows it, without the full fence of {@link #set}. For lease entries, which
     * must be in memory before the counter update they describe.
     */
    public static void setRelease(long row, int word, long value) {
        LONG.setRelease(ALL, row + 8L * word, value);
    }

    public static boolean cas(long row, int word, long expected, long value) {
        return LONG.compareAndSet(ALL, row + 8L * word, expected, value);
    }

    /** Atomically adds and returns the previous value. */
    public static long getAndAdd(long row, int word, long delta) {
        return (long) LONG.getAndAdd(ALL, row + 8L * word, delta);
    }

    /** Subtracts, never below zero (a release that races a reset must not go negative). */
    public static void subtractFloorZero(long row, int word, long amount) {
        while (true) {
            long v = get(row, word);
            long next = v - amount < 0 ? 0 : v - amount;
            if (v == next || cas(row, word, v, next)) return;
        }
    }
}
