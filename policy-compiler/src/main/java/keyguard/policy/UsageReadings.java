package keyguard.policy;

import java.util.function.BiConsumer;

/**
 * The counter values one decision read, kept. A {@link UsageView} over the live counters
 * that reads each counter at most once per kind ({@link #used} and {@link #usedForCap}) and
 * remembers what it read, so that one decision sees one value per counter and its audit
 * event carries exactly the values the decision was made on ({@code keyguard replay}
 * decides again from them).
 *
 * <p>Invariants: {@code refs[0..size)} are distinct; a slot's {@code used} or
 * {@code forCap} is {@link #UNREAD} until that kind was read once, and never changes after.
 * One per request, used by one thread at a time.
 */
public final class UsageReadings implements UsageView {
    private static final long UNREAD = Long.MIN_VALUE;

    private final UsageView live;
    private CounterRef[] refs;
    private long[] used;
    private long[] forCap;
    private int size;

    /** Reads through {@code live}; {@code expected} counters are room for that many without growing. */
    public UsageReadings(UsageView live, int expected) {
        this.live = live;
        int n = Math.max(2, expected);
        refs = new CounterRef[n];
        used = new long[n];
        forCap = new long[n];
    }

    @Override
    public long used(CounterRef counter) {
        int i = slot(counter);
        if (used[i] == UNREAD) used[i] = live.used(counter);
        return used[i];
    }

    @Override
    public long used(CounterRef counter, long nowMillis) {
        int i = slot(counter);
        if (used[i] == UNREAD) used[i] = live.used(counter, nowMillis);
        return used[i];
    }

    @Override
    public long usedForCap(CounterRef counter, long nowMillis) {
        int i = slot(counter);
        if (forCap[i] == UNREAD) forCap[i] = live.usedForCap(counter, nowMillis);
        return forCap[i];
    }

    /**
     * Reads, as of {@code nowMillis}, every counter of {@code counters} the decision did not
     * read: a refused request's event then still says where each of its counters stood.
     */
    public void readAll(CounterRef[] counters, long nowMillis) {
        for (CounterRef c : counters) used(c, nowMillis);
    }

    /** How many counters were read. */
    public int size() { return size; }

    /** The {@code i}-th counter read. */
    public CounterRef counter(int i) { return refs[i]; }

    /** Its value ({@link #used}, or the value for caps when only that was read). */
    public long value(int i) { return used[i] != UNREAD ? used[i] : forCap[i]; }

    /** Its value for caps when that was read and differs from {@link #value}, else {@code Long.MIN_VALUE}. */
    public long forCapIfDifferent(int i) {
        return forCap[i] != UNREAD && used[i] != UNREAD && forCap[i] != used[i] ? forCap[i] : Long.MIN_VALUE;
    }

    /** Each counter read, with its value ({@link #used}, or the value for caps when only that was read). */
    public void forEachUsed(BiConsumer<CounterRef, Long> out) {
        for (int i = 0; i < size; i++) out.accept(refs[i], used[i] != UNREAD ? used[i] : forCap[i]);
    }

    /**
     * The counters whose value for caps was read and differs from {@link #used} (in a fleet:
     * this node's own part of a fleet-wide counter), with that value.
     */
    public void forEachForCap(BiConsumer<CounterRef, Long> out) {
        for (int i = 0; i < size; i++) if (forCap[i] != UNREAD && used[i] != UNREAD && forCap[i] != used[i]) out.accept(refs[i], forCap[i]);
    }

    private int slot(CounterRef c) {
        for (int i = 0; i < size; i++) if (refs[i] == c) return i; // compiled policies pass their own CounterRef objects
        for (int i = 0; i < size; i++) if (refs[i].equals(c)) return i;
        if (size == refs.length) {
            refs = java.util.Arrays.copyOf(refs, size * 2);
            used = java.util.Arrays.copyOf(used, size * 2);
            forCap = java.util.Arrays.copyOf(forCap, size * 2);
        }
        refs[size] = c;
        used[size] = UNREAD;
        forCap[size] = UNREAD;
        return size++;
    }
}
