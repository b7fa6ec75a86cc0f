package keyguard.keys;

import java.time.Instant;
import java.util.Map;

/**
 * A virtual key as stored: everything but the secret, which exists only as
 * {@code secretHash} (HMAC-SHA-256 with the server secret, hex). {@code expiresAt} is null
 * for a key that does not expire; {@code rotation} is null for a key never rotated.
 */
public record KeyRecord(String id, String name, String owner, String policy, Map<String, String> labels,
                        Instant createdAt, Instant expiresAt, KeyState state, String secretHash, Rotation rotation) {

    /**
     * The last rotation: the previous secret's hash, which keeps working until
     * {@code previousValidUntil}, and the caller's request id, so that a retried rotation
     * returns the same new secret instead of minting another.
     */
    public record Rotation(String previousHash, Instant previousValidUntil, String requestId, Instant rotatedAt) {}

    public KeyRecord(String id, String name, String owner, String policy, Map<String, String> labels,
                     Instant createdAt, Instant expiresAt, KeyState state, String secretHash) {
        this(id, name, owner, policy, labels, createdAt, expiresAt, state, secretHash, null);
    }

    public KeyRecord rotated(String newHash, Rotation r) {
        return new KeyRecord(id, name, owner, policy, labels, createdAt, expiresAt, state, newHash, r);
    }

    public boolean expired(Instant now) {
        return expiresAt != null && !now.isBefore(expiresAt);
    }

    public KeyRecord withState(KeyState s) {
        return new KeyRecord(id, name, owner, policy, labels, createdAt, expiresAt, s, secretHash, rotation);
    }
}
