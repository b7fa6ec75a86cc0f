package keyguard.counters;

/** The answer of {@link Enforcer#admit}: a {@link Lease} holding the reservation, or a {@link Refused}. */
public sealed interface Admission permits Lease, Refused {}
