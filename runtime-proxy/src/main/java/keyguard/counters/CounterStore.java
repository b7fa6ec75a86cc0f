package keyguard.counters;

/**
 * Where counters live: rows of atomic words ({@link Cell}) found by name, and leases that
 * record what each request in flight has reserved, so that a reservation is released even
 * when the process that made it dies. {@link ChronicleCounterStore} keeps both in
 * memory-mapped Chronicle Map files; a store shared by several gateways would implement the
 * same contract. {@link Enforcer} builds limits and budgets on top.
 */
public interface CounterStore extends AutoCloseable {
    /** Where this store gives back the reservations it releases (a reaped lease, a closed store). */
    void ledger(Ledger ledger);

    /** The id of the counter of that name, created (all zero) on first use. */
    long id(String name);

    /**
     * A random number of this store, the same for every process and restart on its files:
     * the key of the hash that places end users ({@link EndUserSlots}), so that nobody who
     * picks end-user ids can aim one at another's place.
     */
    long salt();

    /** The address of a counter's row of {@value CounterWords#WORDS} words; bind once and keep it. */
    long row(long id);

    /**
     * A free lease of this process, marked active and expiring at {@code expiresAtMillis};
     * null when the process already holds its maximum of leases.
     */
    Lease claim(long expiresAtMillis);

    /** Returns a settled lease to this process's pool. */
    void free(Lease lease);

    /** Leases of this process not yet settled: requests in flight. */
    int leasesInUse();

    /**
     * Releases leases that expired, and those of processes that are gone (a kill -9 leaves
     * them behind). Returns how many were released.
     */
    int reap(long nowMillis);

    @Override
    void close();
}
