package keyguard.keys;

import java.time.Instant;
import java.util.Map;

/**
 * A virtual key as stored: everything but the secret, which exists only as
 * {@code secretHash} (HMAC-SHA-256 with the server secret, hex). {@code expiresAt} is null
 * for a key that does not expire.
 */
public record KeyRecord(String id, String name, String owner, String policy, Map<String, String> labels,
                        Instant createdAt, Instant expiresAt, KeyState state, String secretHash) {

    public boolean expired(Instant now) {
        return expiresAt != null && !now.isBefore(expiresAt);
    }

    public KeyRecord withState(KeyState s) {
        return new KeyRecord(id, name, owner, policy, labels, createdAt, expiresAt, s, secretHash);
    }
}
