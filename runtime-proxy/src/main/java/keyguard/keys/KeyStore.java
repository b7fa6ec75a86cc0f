package keyguard.keys;

import java.time.Duration;
import java.util.Collection;
import java.util.List;

/**
 * Where virtual keys live. Lookups are on the request path: no I/O, one hash probe.
 * Writes (create, revoke) are on the admin path. A store shared by a fleet (Redis) also
 * says whether this node is current, and can wait for every node to have a change.
 */
public interface KeyStore extends AutoCloseable {
    /** The record of a key id, or null. */
    KeyRecord get(String id);

    Collection<KeyRecord> all();

    /** Inserts or replaces a record, durably; throws {@link KeyStoreUnavailable} when the shared store cannot be written. */
    void put(KeyRecord record);

    /**
     * Writes a record and waits up to {@code wait} for every live node of the fleet to have
     * applied it (a revocation); returns the nodes that did not acknowledge in time. A store
     * of one process has nothing to wait for.
     */
    default List<String> putAndConfirm(KeyRecord record, Duration wait) {
        put(record);
        return List.of();
    }

    /**
     * Whether this process can prove it has every change to the keys: always, for a store
     * of its own; for a fleet, only while it has recently caught up with the shared log. A
     * node that is not current refuses to authenticate (it may have missed a revocation).
     */
    default boolean current() {
        return true;
    }

    @Override
    void close();

    /**
     * Records every sub-key below {@code key} as revoked (ids returned), level by level. Their
     * authentication already fails once a key above them is revoked ({@code KeyAuth}); this
     * makes listings and the audit say so too. {@code key} itself is the caller's to revoke.
     */
    default List<String> revokeSubKeys(KeyRecord key) {
        List<String> out = new java.util.ArrayList<>();
        java.util.Set<String> frontier = new java.util.HashSet<>(List.of(key.id()));
        for (int level = 0; level < keyguard.policy.Delegation.MAX_DEPTH && !frontier.isEmpty(); level++) {
            java.util.Set<String> next = new java.util.HashSet<>();
            for (KeyRecord k : all()) {
                if (k.delegated() == null || !frontier.contains(k.delegated().parent())) continue;
                if (k.state() != KeyState.REVOKED) put(k.withState(KeyState.REVOKED));
                out.add(k.id());
                next.add(k.id());
            }
            frontier = next;
        }
        return out;
    }
}
