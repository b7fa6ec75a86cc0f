package keyguard.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import keyguard.identity.Directory;
import keyguard.identity.SelfService;
import keyguard.keys.KeyRecord;

/**
 * One admin request's caller and what they may do with keys and service accounts: the one
 * place that decides it. A key may be read and managed (revoked, rotated) by an admin or a
 * team admin of its policy (auditors read), by the user who owns it ({@code user:<userName>}),
 * by the members of the group that owns it ({@code group:<name>}) and by the members of the
 * group that owns its service account ({@code service:<name>}).
 *
 * <p>Invariants: when the SCIM directory knows the caller's user, its membership is the
 * truth (so removing a user from a group ends their access to the group's keys on their
 * next request, whatever their token says) and a deactivated user is refused outright;
 * otherwise the groups are those the caller's token named. Names compare without case, as
 * SCIM's {@code userName} and {@code displayName} do. Built once per request: the directory
 * is read here and nowhere else on the admin path.
 */
public final class Caller {
    private final AdminPrincipal who;
    /** {@code user:<userName>} as the directory spells it (or as the token does, when the directory does not know it); null for the bootstrap token. */
    private final String user;
    private final boolean deactivated;
    /** Lower case. */
    private final Set<String> groups;
    /** Service accounts (lower-case names) owned by one of {@link #groups}. */
    private final Set<String> serviceAccounts;
    private final Map<String, SelfService.Allowance> allowances;
    private final SelfService selfService;

    private Caller(AdminPrincipal who, String user, boolean deactivated, Set<String> groups, Set<String> serviceAccounts,
                   Map<String, SelfService.Allowance> allowances, SelfService selfService) {
        this.who = who;
        this.user = user;
        this.deactivated = deactivated;
        this.groups = groups;
        this.serviceAccounts = serviceAccounts;
        this.allowances = allowances;
        this.selfService = selfService;
    }

    public static Caller of(AdminPrincipal who, Directory directory, SelfService selfService) {
        String user = null;
        boolean deactivated = false;
        Set<String> groups = new HashSet<>();
        if (who.userName() != null) {
            ObjectNode known = directory.userNamed(who.userName());
            if (known != null) {
                user = "user:" + known.path("userName").asText();
                deactivated = !known.path("active").asBoolean(true);
                for (String g : directory.groupsOf(known.path("id").asText())) groups.add(g.toLowerCase(Locale.ROOT));
            } else {
                user = "user:" + who.userName();
                for (String g : who.groups()) groups.add(g.toLowerCase(Locale.ROOT));
            }
        }
        Set<String> accounts = new HashSet<>();
        if (!groups.isEmpty()) {
            for (ObjectNode a : directory.serviceAccounts()) {
                if (groups.contains(a.path("group").asText().toLowerCase(Locale.ROOT))) accounts.add(a.path("name").asText().toLowerCase(Locale.ROOT));
            }
        }
        return new Caller(who, user, deactivated, Set.copyOf(groups), Set.copyOf(accounts), selfService.allowances(groups), selfService);
    }

    public AdminPrincipal who() { return who; }

    /** The caller as a key's owner ({@code user:<userName>}), or null for the bootstrap token. */
    public String user() { return user; }

    /** Whether the directory knows the caller's user as deactivated (then every request is refused). */
    public boolean deactivated() { return deactivated; }

    public Set<String> groups() { return groups; }

    /** Per policy, what the caller may issue to themselves (empty without self-service or without a grant). */
    public Map<String, SelfService.Allowance> allowances() { return allowances; }

    /**
     * Whether a caller without an admin, auditor or team-admin role may use the admin API
     * at all: with self-service on, any person the identity provider signed in for this
     * gateway's audience (who then sees their own keys and their groups', and issues keys
     * where a grant allows), unless the directory knows them as deactivated.
     */
    public boolean member() {
        return who.hasRole() || (selfService.enabled() && user != null && !deactivated);
    }

    /**
     * What the caller may self-issue for {@code policy} to {@code owner}: to themselves, the
     * most generous grant among their groups; to one of their groups, that group's own grant
     * (a group that holds none gets no self-issued key); to anyone else, nothing (null).
     */
    public SelfService.Allowance allowance(String policy, String owner) {
        if (user != null && owner.equalsIgnoreCase(user)) return allowances.get(policy);
        if (owner.regionMatches(true, 0, "group:", 0, 6) && owns(owner)) return selfService.allowances(List.of(owner.substring(6))).get(policy);
        return null;
    }

    /** Whether {@code owner} (a key's) is the caller, one of their groups, or a service account of one of their groups. */
    public boolean owns(String owner) {
        if (owner == null || owner.isEmpty() || user == null) return false;
        String o = owner.toLowerCase(Locale.ROOT);
        if (o.equals(user.toLowerCase(Locale.ROOT))) return true;
        if (o.startsWith("group:")) return groups.contains(o.substring(6));
        if (o.startsWith("service:")) return serviceAccounts.contains(o.substring(8));
        return false;
    }

    public boolean reads(KeyRecord k) {
        return who.readsKeysOf(k.policy()) || owns(k.owner());
    }

    /** May revoke and rotate the key. */
    public boolean manages(KeyRecord k) {
        return who.managesKeysOf(k.policy()) || owns(k.owner());
    }

    /** May read (and, for admins and team admins of its policy, manage) this service account. */
    public boolean reads(JsonNode account) {
        return who.readsKeysOf(account.path("policy").asText()) || serviceAccounts.contains(account.path("name").asText().toLowerCase(Locale.ROOT));
    }

    /** The service accounts the caller may read, of {@code all}. */
    public List<ObjectNode> readable(List<ObjectNode> all) {
        return all.stream().filter(this::reads).toList();
    }
}
