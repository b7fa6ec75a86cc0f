package keyguard.admin;

import java.util.Set;

/**
 * Who is calling the admin API and what their credential says they may do: an admin (the
 * bootstrap token, or an admin group), a team admin of some policies, an auditor (read
 * only), or, with self-service on, a member with none of these (who manages their own keys
 * and their groups' keys: {@link Caller}). {@code expires} is when the credential it came
 * with stops being valid (an identity-provider token's expiry), or null; {@code userName}
 * is the identity provider's name for a person (matched against the SCIM directory's
 * {@code userName}), or null for the bootstrap token; {@code groups} are the groups the
 * token named (the directory's membership wins when it knows the user).
 */
public record AdminPrincipal(String subject, boolean admin, boolean auditor, Set<String> teamPolicies, java.time.Instant expires,
                             String userName, Set<String> groups) {
    public AdminPrincipal(String subject, boolean admin, boolean auditor, Set<String> teamPolicies, java.time.Instant expires) {
        this(subject, admin, auditor, teamPolicies, expires, null, Set.of());
    }

    /** The bootstrap admin token's holder; its credential does not expire. */
    public static AdminPrincipal bootstrap() {
        return new AdminPrincipal("bootstrap-token", true, false, Set.of(), null);
    }

    /** {@code admin}, {@code auditor}, {@code team admin}, {@code member}: the role as people read it. */
    public String role() {
        return admin ? "admin" : auditor ? "auditor" : !teamPolicies.isEmpty() ? "team admin" : "member";
    }

    /** Whether the credential carries an admin, auditor or team-admin role (a member's carries none). */
    public boolean hasRole() {
        return admin || auditor || !teamPolicies.isEmpty();
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
