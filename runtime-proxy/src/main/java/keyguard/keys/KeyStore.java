package keyguard.keys;

import java.util.Collection;

/**
 * Where virtual keys live. Lookups are on the request path: no I/O, one hash probe.
 * Writes (create, revoke) are on the admin path.
 */
public interface KeyStore extends AutoCloseable {
    /** The record of a key id, or null. */
    KeyRecord get(String id);

    Collection<KeyRecord> all();

    /** Inserts or replaces a record, durably. */
    void put(KeyRecord record);

    @Override
    void close();
}
