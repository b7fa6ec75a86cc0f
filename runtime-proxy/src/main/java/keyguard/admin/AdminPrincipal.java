package keyguard.admin;

import java.util.Set;

/**
 * Who is calling the admin API and what they may do: an admin (the bootstrap token, or an
 * admin group), a team admin of some policies, an auditor (read only). {@code expires} is when
 * the credential it came with stops being valid (an identity-provider token's expiry), or null.
 */
public record AdminPrincipal(String subject, boolean admin, boolean auditor, Set<String> teamPolicies, java.time.Instant expires) {
    /** The bootstrap admin token's holder; its credential does not expire. */
    public static AdminPrincipal bootstrap() {
        return new AdminPrincipal("bootstrap-token", true, false, Set.of(), null);
    }

    /** {@code admin}, {@code auditor}, {@code team admin}: the role as people read it. */
    public String role() {
        return admin ? "admin" : auditor ? "auditor" : "team admin";
    }

    /** May create, revoke and rotate keys bound to {@code policy}. */
    public boolean managesKeysOf(String policy) {
        return admin || teamPolicies.contains(policy);
    }

    /** May read keys bound to {@code policy}. */
    public boolean readsKeysOf(String policy) {
        return admin || auditor || teamPolicies.contains(policy);
    }

    public boolean readsEverything() {
        return admin || auditor;
    }
}
