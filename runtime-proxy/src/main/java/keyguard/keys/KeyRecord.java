package keyguard.keys;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import keyguard.policy.OrgChart;

/**
 * A virtual key as stored: everything but the secret, which exists only as
 * {@code secretHash} (HMAC-SHA-256 with the server secret, hex). {@code expiresAt} is null
 * for a key that does not expire; {@code rotation} is null for a key never rotated.
 * {@code labelsByAdmin} says whether an admin set its labels (a team admin otherwise): a
 * label the policies declare {@code set_by operator} counts only then. {@code team} is the
 * team an admin (or the key's service account) put the key in, empty for none: then the key
 * is its owning group's team ({@link #team(OrgChart)}).
 */
public record KeyRecord(String id, String name, String owner, String policy, Map<String, String> labels,
                        Instant createdAt, Instant expiresAt, KeyState state, String secretHash, Rotation rotation,
                        boolean labelsByAdmin, String team, Delegated delegated) {

    public KeyRecord {
        if (team == null) team = "";
    }

    /**
     * A sub-key's place under the key that minted it ({@code POST /v1/keyguard/keys}):
     * {@code parent} minted it, {@code root} is the key an admin made at the top,
     * {@code depth} 1 for the root's children; {@code models} the subset it may call.
     * It is served only while every key above it is.
     */
    public record Delegated(String parent, String root, int depth, List<String> models, CarveOut carveOut) {
        public Delegated {
            models = List.copyOf(models);
        }

        public Delegated(String parent, String root, int depth, List<String> models) {
            this(parent, root, depth, models, null);
        }
    }

    /**
     * The carve-out a sub-key spends from, in place of its root's budgets by key: its own
     * ({@code holder} is the key itself) or its nearest ancestor's. {@code micros} were
     * reserved at {@code reservedAt} on the holder's parent's budgets by key named
     * {@code budgets} ({@code spend.key.day}...), in periods of which the first ends at
     * {@code ends} (the holder expires by then) and the last at {@code until} (after which
     * nothing is left to return). What the holder did not spend goes back when it ends
     * ({@code keyguard.delegation.CarveOuts}).
     */
    public record CarveOut(String holder, long micros, Instant reservedAt, Instant ends, Instant until, List<String> budgets) {
        public CarveOut {
            budgets = List.copyOf(budgets);
        }
    }

    /** Whether this key holds a carve-out of its own (not one of a key above it). */
    public boolean holdsCarveOut() {
        return delegated != null && delegated.carveOut() != null && delegated.carveOut().holder().equals(id);
    }

    /** The carve-out this key's requests spend from; null when they spend from the root's budgets. */
    public CarveOut carveOut() {
        return delegated == null ? null : delegated.carveOut();
    }

    public KeyRecord(String id, String name, String owner, String policy, Map<String, String> labels,
                     Instant createdAt, Instant expiresAt, KeyState state, String secretHash, Rotation rotation,
                     boolean labelsByAdmin, String team) {
        this(id, name, owner, policy, labels, createdAt, expiresAt, state, secretHash, rotation, labelsByAdmin, team, null);
    }

    public KeyRecord(String id, String name, String owner, String policy, Map<String, String> labels,
                     Instant createdAt, Instant expiresAt, KeyState state, String secretHash, Rotation rotation,
                     boolean labelsByAdmin) {
        this(id, name, owner, policy, labels, createdAt, expiresAt, state, secretHash, rotation, labelsByAdmin, "");
    }

    /** The key whose counters this key's requests use: its root for a sub-key (a family never exceeds its root's limits), else itself. */
    public String counterKey() {
        return delegated == null ? id : delegated.root();
    }

    public KeyRecord(String id, String name, String owner, String policy, Map<String, String> labels,
                     Instant createdAt, Instant expiresAt, KeyState state, String secretHash, Rotation rotation) {
        this(id, name, owner, policy, labels, createdAt, expiresAt, state, secretHash, rotation, true);
    }

    /**
     * The key's team in {@code org}: the team it was put in, else the team holding its owning
     * group ({@code group:NAME}); null for a key outside the organisation (a person's own key,
     * a team no longer declared).
     */
    public OrgChart.Team team(OrgChart org) {
        if (!team.isEmpty()) return org.team(team);
        return owner.startsWith("group:") ? org.teamOfGroup(owner.substring(6)) : null;
    }

    /** At most this many replaced secrets are kept in their grace period; a rotation beyond it ends the oldest grace at once. */
    public static final int MAX_PREVIOUS_SECRETS = 16;
    /** At most this many past rotations' request ids are remembered (a replay of one of them is refused with 409). */
    public static final int MAX_REMEMBERED_REQUESTS = 32;

    /** A secret replaced at {@code replacedAt} that keeps working until {@code validUntil} (its rotation's grace). */
    public record PreviousSecret(String hash, Instant replacedAt, Instant validUntil) {}

    /**
     * The rotations of a key: every replaced secret still in its grace period (oldest first),
     * the latest rotation's request id, time and generation, and the request ids of earlier
     * rotations. The latest request id makes a retried rotation return the same secret
     * instead of minting another; an earlier one is refused, so a replay never revives a
     * replaced secret. {@code generation} counts rotations and salts each derived secret.
     */
    public record Rotation(List<PreviousSecret> previous, String requestId, Instant rotatedAt, long generation,
                           List<String> earlierRequests) {
        public Rotation {
            previous = List.copyOf(previous);
            earlierRequests = List.copyOf(earlierRequests);
        }

        /** The replaced secrets still valid at {@code now}. */
        public List<PreviousSecret> valid(Instant now) {
            return previous.stream().filter(p -> now.isBefore(p.validUntil())).toList();
        }
    }

    public KeyRecord(String id, String name, String owner, String policy, Map<String, String> labels,
                     Instant createdAt, Instant expiresAt, KeyState state, String secretHash) {
        this(id, name, owner, policy, labels, createdAt, expiresAt, state, secretHash, null);
    }

    /**
     * This key after a rotation at {@code now}: {@code newHash} is the secret, the one it
     * replaces joins the previous secrets until {@code validUntil}, those whose grace has
     * ended are dropped (and the oldest beyond {@link #MAX_PREVIOUS_SECRETS}).
     */
    public KeyRecord rotated(String newHash, Instant now, Instant validUntil, String requestId) {
        List<PreviousSecret> previous = new ArrayList<>(rotation == null ? List.of() : rotation.valid(now));
        if (now.isBefore(validUntil)) previous.add(new PreviousSecret(secretHash, now, validUntil));
        while (previous.size() > MAX_PREVIOUS_SECRETS) previous.removeFirst();
        List<String> earlier = new ArrayList<>(rotation == null ? List.of() : rotation.earlierRequests());
        if (rotation != null && !rotation.requestId().isEmpty()) earlier.add(rotation.requestId());
        while (earlier.size() > MAX_REMEMBERED_REQUESTS) earlier.removeFirst();
        long generation = rotation == null ? 1 : rotation.generation() + 1;
        return new KeyRecord(id, name, owner, policy, labels, createdAt, expiresAt, state, newHash,
                new Rotation(previous, requestId, now, generation, earlier), labelsByAdmin, team, delegated);
    }

    /**
     * The labels a decision may trust under {@code declared} (the policy set's labels): a
     * declared label whose value is not among its values is dropped, and one declared
     * {@code set_by operator} is dropped unless an admin set this key's labels. The same map
     * (no copy) when nothing is dropped.
     */
    public Map<String, String> trustedLabels(Map<String, keyguard.policy.LabelSpec> declared) {
        if (declared.isEmpty() || labels.isEmpty()) return labels;
        Map<String, String> out = null;
        for (Map.Entry<String, String> e : labels.entrySet()) {
            keyguard.policy.LabelSpec spec = declared.get(e.getKey());
            boolean trusted = spec == null || (spec.accepts(e.getValue()) && (spec.setByTeam() || labelsByAdmin));
            if (!trusted && out == null) out = new java.util.HashMap<>(labels);
            if (!trusted) out.remove(e.getKey());
        }
        return out == null ? labels : Map.copyOf(out);
    }

    public boolean expired(Instant now) {
        return expiresAt != null && !now.isBefore(expiresAt);
    }

    public KeyRecord withState(KeyState s) {
        return new KeyRecord(id, name, owner, policy, labels, createdAt, expiresAt, s, secretHash, rotation, labelsByAdmin, team, delegated);
    }

    /** The same key with another owner (a user or group renamed at the identity provider). */
    public KeyRecord withOwner(String o) {
        return new KeyRecord(id, name, o, policy, labels, createdAt, expiresAt, state, secretHash, rotation, labelsByAdmin, team, delegated);
    }
}
