package keyguard.counters;

import keyguard.policy.Limit;

/**
 * The counter store (a fleet's Redis) cannot be reached and {@code limit}'s slice on this
 * node is spent: a limit or budget with a hard cap refuses (503
 * {@code counter_store_unavailable}) rather than admit past what it knows. Nothing is held.
 */
public record StoreUnavailable(Limit limit) implements Admission {}
