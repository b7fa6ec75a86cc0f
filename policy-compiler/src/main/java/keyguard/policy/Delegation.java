package keyguard.policy;

/**
 * {@code delegate max N depth D}: a key of the policy may mint sub-keys
 * ({@code POST /v1/keyguard/keys}), at most {@code maxChildren} active ones per key, at most
 * {@code maxDepth} levels below the key an admin made. A sub-key has its parent's policy,
 * team and counters, a subset of its models and a lifetime within its parent's: it can only
 * narrow. A policy without the statement allows none.
 */
public record Delegation(int maxChildren, int maxDepth) {
    public static final int MAX_CHILDREN = 1_000;
    public static final int MAX_DEPTH = 5;

    public Delegation {
        if (maxChildren < 1 || maxChildren > MAX_CHILDREN || maxDepth < 1 || maxDepth > MAX_DEPTH) {
            throw new IllegalArgumentException("delegate max 1.." + MAX_CHILDREN + " depth 1.." + MAX_DEPTH);
        }
    }
}
