package keyguard.counters;

/**
 * Where the units of a counter are checked and kept: this process's memory-mapped rows
 * ({@link LocalLedger}, the single-node default), or slices of a fleet-wide counter that
 * Redis arbitrates ({@code keyguard.fleet.FleetLedger}). The {@link Enforcer} reserves and
 * settles through it; what a unit means (a request, a token, a micro-dollar, a slot) and
 * which bucket or period it counts in (the tag) are decided above it.
 *
 * <p>The hot path — {@link #tryTake} — must not block, allocate or leave the process: a
 * fleet ledger answers {@link #MISS} when its local slice cannot take the units, and the
 * caller then asks {@link #acquire} on a thread that may wait for the store.
 */
public interface Ledger extends AutoCloseable {
    int OK = 0;
    /** The counter's cap refuses the units (a 429). */
    int NO_ROOM = 1;
    /** This process cannot tell without the store: call {@link #acquire} off the IO thread. */
    int MISS = 2;
    /** The store cannot be reached and the counter is not {@code fail open} (a 503). */
    int UNAVAILABLE = 3;

    /**
     * What a counter is: its name in the store, kind ({@link Lease#REQUESTS}...), cap, window
     * or calendar, failure mode, and whether it is this node's alone ({@code local}: an end
     * user's counters, which a fleet ledger keeps in the node's rows rather than in Redis).
     */
    record Spec(String name, int kind, long cap, long windowMillis, Calendar calendar, boolean failOpen, boolean local) {
        public Spec(String name, int kind, long cap, long windowMillis, Calendar calendar, boolean failOpen) {
            this(name, kind, cap, windowMillis, calendar, failOpen, false);
        }

        public boolean capped() { return cap != Long.MAX_VALUE; }
    }

    /** Binds counter {@code id} (row {@code row}) to its spec; returns the handle its calls pass. */
    Object bind(long id, long row, Spec spec);

    /** Takes {@code amount} units in {@code tag} if the counter has room: {@link #OK}, {@link #NO_ROOM} or {@link #MISS}. */
    int tryTake(Object handle, long row, long tag, long amount, long now);

    /**
     * Takes {@code amount} units in {@code tag}, waiting for the store if it must:
     * {@link #OK}, {@link #NO_ROOM} or {@link #UNAVAILABLE}. Never on an IO thread.
     */
    int acquire(Object handle, long row, long tag, long amount, long now);

    /**
     * Gives back units taken in {@code tag}: a rolled-back reservation ({@code rollback}), or
     * the part of a settled one that was not used. By counter id too, for leases found
     * abandoned by the reaper.
     */
    void give(long id, long row, int kind, long tag, long amount, boolean rollback);

    /** A reservation taken in {@code tag} is settled (whatever it gave back): a fleet ledger can end past slices. */
    default void settled(Object handle, long tag) { }

    /** Adds usage found after the fact (more than was reserved), without a cap. */
    void addLate(Object handle, long row, long tag, long amount);

    /** Units counted now in {@code tag} (fleet-wide for a fleet ledger, as last known). */
    long used(Object handle, long row, long tag, long now);

    /**
     * Units the counter surely holds in {@code tag}: what a refusal before admission may rely
     * on ({@link keyguard.policy.UsageView#usedForCap}). {@link #used} where this process
     * holds the counter.
     */
    default long usedForCap(Object handle, long row, long tag, long now) {
        return used(handle, row, tag, now);
    }

    /** When the counter would take {@code need} more units (a throttled request's retry-after). */
    long millisUntilFits(Object handle, long row, long now, long need);

    /** When the counter's current units have all left its window (0 for none). */
    long millisUntilEmpty(Object handle, long row, long now);

    /**
     * Whether units one process took can be given back by any other at any later time (the
     * rows are shared by every process on the data directory). A fleet's slices are a node's
     * own, and a slice's units can be given back only while it lasts, by its node: a sub-key's
     * carve-out, returned whenever and wherever it ends, needs this.
     */
    default boolean givesBackAnywhere() { return true; }

    @Override
    default void close() { }
}
