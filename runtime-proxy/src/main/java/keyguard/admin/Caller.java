package keyguard.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import keyguard.identity.Directory;
import keyguard.identity.Names;
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
 * next request, whatever their token says) and a deactivated user is refused outright.
 * Once the directory holds anyone (SCIM is in use), a person it does not know — never
 * provisioned, or deleted — is nobody here: no member, no groups, whatever their token
 * says; only before that do a token's groups count. A service account's keys are its
 * group's only while bound to the account's policy (an older key whose free-text owner
 * happens to read {@code service:<name>} is not). Names compare as {@link Names} says.
 * Built once per request: the directory is read here and nowhere else on the admin path.
 */
public final class Caller {
    private final AdminPrincipal who;
    /** {@code user:<userName>} as the directory spells it (or as the token does, when the directory does not know it); null for the bootstrap token. */
    private final String user;
    /** Whether the caller may act as a person: the directory knows them, or it is not in use. */
    private final boolean person;
    /** Whether the directory knows the caller's user. */
    private final boolean known;
    private final boolean deactivated;
    /** Folded ({@link Names#fold}). */
    private final Set<String> groups;
    /** Service accounts owned by one of {@link #groups}: folded name to the account's policy. */
    private final Map<String, String> serviceAccounts;
    /** The same accounts as the directory holds them, in its order (for the console's choices). */
    private final List<ObjectNode> accounts;
    private final Map<String, SelfService.Allowance> allowances;
    private final SelfService selfService;

    private Caller(AdminPrincipal who, String user, boolean person, boolean known, boolean deactivated, Set<String> groups,
                   Map<String, String> serviceAccounts, List<ObjectNode> accounts, SelfService selfService) {
        this.known = known;
        this.accounts = accounts;
        this.who = who;
        this.user = user;
        this.person = person;
        this.deactivated = deactivated;
        this.groups = groups;
        this.serviceAccounts = serviceAccounts;
        this.allowances = selfService.allowances(groups);
        this.selfService = selfService;
    }

    public static Caller of(AdminPrincipal who, Directory directory, SelfService selfService) {
        String user = null;
        boolean person = false;
        boolean deactivated = false;
        boolean inDirectory = false;
        Set<String> groups = new HashSet<>();
        if (who.userName() != null) {
            ObjectNode known = directory.userNamed(who.userName());
            if (known != null) {
                user = "user:" + known.path("userName").asText();
                person = true;
                inDirectory = true;
                deactivated = !known.path("active").asBoolean(true);
                for (String g : directory.groupsOf(known.path("id").asText())) groups.add(Names.fold(g));
            } else {
                user = "user:" + who.userName();
                person = !directory.hasUsers(); // SCIM in use: someone it does not know is nobody
                if (person) for (String g : who.groups()) groups.add(Names.fold(g));
            }
        }
        Map<String, String> accounts = new HashMap<>();
        List<ObjectNode> owned = new java.util.ArrayList<>();
        if (!groups.isEmpty()) {
            for (ObjectNode a : directory.serviceAccounts()) {
                if (!groups.contains(Names.fold(a.path("group").asText()))) continue;
                accounts.put(Names.fold(a.path("name").asText()), a.path("policy").asText());
                owned.add(a);
            }
        }
        return new Caller(who, user, person, inDirectory, deactivated, Set.copyOf(groups), Map.copyOf(accounts), List.copyOf(owned), selfService);
    }

    public AdminPrincipal who() { return who; }

    /** The caller as a key's owner ({@code user:<userName>}), or null for the bootstrap token. */
    public String user() { return user; }

    /** Whether the SCIM directory knows the caller's user (then a key owned by them stands or falls with that entry). */
    public boolean inDirectory() { return known; }

    /** Whether the directory knows the caller's user as deactivated (then every request is refused). */
    public boolean deactivated() { return deactivated; }

    public Set<String> groups() { return groups; }

    /** The service accounts of the caller's groups, whose keys the caller may issue (empty for a deactivated or unknown person). */
    public List<ObjectNode> accounts() { return person && !deactivated ? accounts : List.of(); }

    /** Per policy, what the caller may issue to themselves (empty without self-service or without a grant). */
    public Map<String, SelfService.Allowance> allowances() { return allowances; }

    /**
     * Whether the caller may use the admin API at all: with a role, yes; without one, with
     * self-service on, as a person the directory knows and has not deactivated (or, while
     * SCIM is not in use, any person the identity provider signed in for this gateway).
     */
    public boolean member() {
        return who.hasRole() || (selfService.enabled() && person && !deactivated);
    }

    /**
     * What the caller may self-issue for {@code policy} to {@code owner}: to themselves, the
     * most generous grant among their groups; to one of their groups, that group's own grant
     * (a group that holds none gets no self-issued key); to anyone else, nothing (null).
     */
    public SelfService.Allowance allowance(String policy, String owner) {
        if (!person || deactivated) return null;
        if (Names.same(owner, user)) return allowances.get(policy);
        if (owner.startsWith("group:") && groups.contains(Names.fold(owner.substring(6)))) {
            return selfService.allowances(List.of(owner.substring(6))).get(policy);
        }
        return null;
    }

    /** Whether {@code owner} names a service account of one of the caller's groups. */
    public boolean ownsAccount(String owner) {
        return person && !deactivated && owner.startsWith("service:") && serviceAccounts.containsKey(Names.fold(owner.substring(8)));
    }

    /** Whether the key is the caller's: theirs, one of their groups', or one of their groups' service accounts' (of the account's policy). */
    private boolean owns(KeyRecord k) {
        String owner = k.owner();
        if (owner == null || owner.isEmpty() || user == null || !person || deactivated) return false;
        if (Names.same(owner, user)) return true;
        if (owner.startsWith("group:")) return groups.contains(Names.fold(owner.substring(6)));
        if (owner.startsWith("service:")) return k.policy().equals(serviceAccounts.get(Names.fold(owner.substring(8))));
        return false;
    }

    public boolean reads(KeyRecord k) {
        return who.readsKeysOf(k.policy()) || owns(k);
    }

    /** May revoke and rotate the key. */
    public boolean manages(KeyRecord k) {
        return who.managesKeysOf(k.policy()) || owns(k);
    }

    /** May read (and, for admins and team admins of its policy, manage) this service account. */
    public boolean reads(JsonNode account) {
        return who.readsKeysOf(account.path("policy").asText()) || (person && !deactivated && serviceAccounts.containsKey(Names.fold(account.path("name").asText())));
    }

    /** The service accounts the caller may read, of {@code all}. */
    public List<ObjectNode> readable(List<ObjectNode> all) {
        return all.stream().filter(this::reads).toList();
    }
}
