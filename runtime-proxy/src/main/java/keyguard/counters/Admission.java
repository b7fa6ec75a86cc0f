package keyguard.counters;

/**
 * The answer of {@link Enforcer#admit}: a {@link Lease} holding the reservation, a
 * {@link Refused} (a limit or budget said no), {@link Overloaded} (no room for another
 * reservation in this process), {@link NeedsStore} (ask again, waiting for a fleet's store)
 * or {@link StoreUnavailable} (the fleet's store cannot be reached and a hard cap's slice is
 * spent).
 */
public sealed interface Admission permits Lease, Refused, Overloaded, NeedsStore, StoreUnavailable {}
