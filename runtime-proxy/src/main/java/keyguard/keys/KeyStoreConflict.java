package keyguard.keys;

/**
 * A key change refused because the key changed elsewhere first: it was revoked (a
 * revocation is final), or rotated through another node since this change was based on it.
 * Nothing was written; reading the key again shows what it is now.
 */
public final class KeyStoreConflict extends RuntimeException {
    public KeyStoreConflict(String message) {
        super(message, null, false, false);
    }
}
