package keyguard.counters;

/**
 * The answer of {@link Enforcer#admit}: a {@link Lease} holding the reservation, a
 * {@link Refused} (a limit or budget said no), or {@link Overloaded} (no room for another
 * reservation in this process).
 */
public sealed interface Admission permits Lease, Refused, Overloaded {}
