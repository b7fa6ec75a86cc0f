package keyguard.admin;

import static keyguard.admin.AdminRequests.MAX_NAME;
import static keyguard.admin.AdminRequests.body;
import static keyguard.admin.AdminRequests.require;
import static keyguard.admin.AdminRequests.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.Methods;
import java.time.Clock;
import java.util.Comparator;
import java.util.List;
import java.util.function.Supplier;
import keyguard.audit.AuditLog;
import keyguard.identity.Directory;
import keyguard.identity.SelfService;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeyState;
import keyguard.keys.KeyStore;
import keyguard.policy.Durations;
import keyguard.revision.LoadedPolicies;
import keyguard.wire.Responses;

/**
 * {@code /admin/service-accounts}: an identity owned by a group of the directory and bound
 * to one policy, whose keys ({@code owner: service:<name>}) outlive the people who made
 * them and are managed by the group's members. {@code POST} (an admin or a team admin of
 * the policy) with {@code name}, {@code group}, {@code policy} and an optional
 * {@code description}; {@code GET} lists those the caller may read; {@code GET /NAME} shows
 * one with its keys; {@code DELETE /NAME} revokes its keys and deletes it. Deleting the
 * group in the identity provider does the same.
 *
 * <p>Invariants: an account's name is lower-case and never one that keys already carry as
 * a free-text owner; its limits ({@code max_lifetime}, {@code max_keys}) bind the keys the
 * group's members issue it ({@link #allowance}), not an admin's; key writes go through the
 * admin API's (confirmed on every node of a fleet).
 */
final class ServiceAccountsApi {
    /** A service account's limits on the keys its group's members issue it, unless its admin says otherwise. */
    static final long DEFAULT_ACCOUNT_LIFETIME = 90L * 86_400;
    static final int DEFAULT_ACCOUNT_KEYS = 5;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The admin API's key writes and owner names, which accounts share. */
    interface KeyWrites {
        /** Writes a key change, confirmed on every node; the nodes that did not confirm in time. */
        List<String> confirm(KeyRecord k) throws BadAdminRequest;

        /** An owner as stored, checked against the directory. */
        String owner(String owner) throws BadAdminRequest;
    }

    private final Directory directory;
    private final KeyStore keys;
    private final AuditLog audit;
    private final Clock clock;
    private final Supplier<LoadedPolicies> policies;
    private final KeyWrites writes;

    ServiceAccountsApi(Directory directory, KeyStore keys, AuditLog audit, Clock clock, Supplier<LoadedPolicies> policies, KeyWrites writes) {
        this.directory = directory;
        this.keys = keys;
        this.audit = audit;
        this.clock = clock;
        this.policies = policies;
        this.writes = writes;
    }

    /** What a member of the owning group may issue to {@code account} (a key of {@code policy}): its lifetime and count. */
    static SelfService.Allowance allowance(ObjectNode account, String policy) {
        return new SelfService.Allowance(policy, account.path("max_lifetime_seconds").asLong(DEFAULT_ACCOUNT_LIFETIME),
                account.path("max_keys").asInt(DEFAULT_ACCOUNT_KEYS));
    }

    void handle(HttpServerExchange exchange, String rest, Caller caller) throws BadAdminRequest {
        AdminPrincipal who = caller.who();
        boolean get = exchange.getRequestMethod().equals(Methods.GET);
        if (rest.isEmpty() || rest.equals("/")) {
            if (get) {
                ObjectNode root = JSON.createObjectNode();
                ArrayNode list = root.putArray("service_accounts");
                caller.readable(directory.serviceAccounts()).forEach(a -> list.add(accountView(a, false)));
                Responses.json(exchange, 200, root.toString());
                return;
            }
            if (!exchange.getRequestMethod().equals(Methods.POST)) throw new BadAdminRequest(405, "service accounts are listed with GET and created with POST");
            JsonNode body = body(exchange);
            String name = text(body, "name", true, 63);
            String group = text(body, "group", true, MAX_NAME);
            String policy = text(body, "policy", true, 128);
            String description = text(body, "description", false, 512);
            if (!name.matches("[a-z0-9][a-z0-9._-]{0,62}")) throw new BadAdminRequest(400, "a service account's `name` is lower-case letters, digits, `.`, `_` and `-`, at most 63");
            String lifetime = text(body, "max_lifetime", false, 16);
            long maxLifetime = lifetime.isEmpty() ? DEFAULT_ACCOUNT_LIFETIME : Durations.parseSeconds(lifetime);
            if (maxLifetime < 3600 || maxLifetime > 366L * 86_400) throw new BadAdminRequest(400, "`max_lifetime` is a duration from `1h` to `366d`, such as `30d`");
            JsonNode count = body.get("max_keys");
            int maxKeys = count == null || count.isNull() ? DEFAULT_ACCOUNT_KEYS : count.isIntegralNumber() && count.canConvertToInt() ? count.intValue() : -1;
            if (maxKeys < 1 || maxKeys > 1000) throw new BadAdminRequest(400, "`max_keys` is a whole number from 1 to 1000");
            require(who.managesKeysOf(policy), who, "create service accounts for policy `" + policy + "`");
            if (policies.get().set().policy(policy) == null) throw new BadAdminRequest(400, "no policy `" + policy + "` in revision " + policies.get().set().revision());
            String owningGroup = writes.owner(group.regionMatches(true, 0, "group:", 0, 6) ? group : "group:" + group);
            // An account's keys are in its group's team and charge its budgets: a team admin makes accounts for its own groups only.
            keyguard.policy.OrgChart.Team team = policies.get().set().org().teamOfGroup(owningGroup.substring(6));
            require(team == null || who.admin() || caller.groups().contains(keyguard.identity.Names.fold(owningGroup.substring(6))), who,
                    "create a service account of group `" + owningGroup.substring(6) + "`, a group of team `" + (team == null ? "" : team.name()) + "` you are not in");
            ObjectNode account = JSON.createObjectNode().put("name", name).put("group", owningGroup.substring(6)).put("policy", policy)
                    .put("description", description).put("created_by", who.subject()).put("created_at", clock.instant().toString())
                    .put("max_lifetime_seconds", maxLifetime).put("max_keys", maxKeys);
            synchronized (keys) {
                if (directory.serviceAccount(name) != null) throw new BadAdminRequest(409, "service account `" + name + "` exists");
                // An older key whose free-text owner reads `service:<name>` must not fall to the account's group.
                if (keys.all().stream().anyMatch(k -> keyguard.identity.Names.same(k.owner(), "service:" + name))) {
                    throw new BadAdminRequest(409, "keys are owned by `service:" + name + "` already; choose another name");
                }
                try {
                    directory.putServiceAccount(account);
                } catch (IllegalStateException e) {
                    throw new BadAdminRequest(507, e.getMessage());
                } catch (java.io.UncheckedIOException e) {
                    throw new BadAdminRequest(503, "the directory cannot be written; nothing changed");
                }
            }
            audit.recordAdmin(who.subject(), "service_accounts.create", name, "owned by " + owningGroup + ", policy " + policy);
            Responses.json(exchange, 201, accountView(account, false).toString());
            return;
        }
        String name = rest.substring(1);
        ObjectNode account = directory.serviceAccount(name);
        if (account == null) throw new BadAdminRequest(404, "no service account `" + keyguard.audit.UntrustedText.quote(name, 64) + "`");
        if (get) {
            require(caller.reads(account), who, "read service account `" + account.path("name").asText() + "`");
            ObjectNode out = accountView(account, true);
            ArrayNode list = out.putArray("keys");
            String owner = "service:" + account.path("name").asText();
            keys.all().stream().filter(k -> keyguard.identity.Names.same(k.owner(), owner)).sorted(Comparator.comparing(KeyRecord::createdAt))
                    .forEach(k -> list.add(KeysApi.view(k, caller)));
            Responses.json(exchange, 200, out.toString());
        } else if (exchange.getRequestMethod().equals(Methods.DELETE)) {
            require(who.managesKeysOf(account.path("policy").asText()), who, "delete service account `" + account.path("name").asText() + "`");
            String owner = "service:" + account.path("name").asText();
            List<String> revoked = new java.util.ArrayList<>();
            synchronized (keys) {
                for (KeyRecord k : keys.all()) {
                    if (k.state() != KeyState.ACTIVE || !keyguard.identity.Names.same(k.owner(), owner)) continue;
                    writes.confirm(k.withState(KeyState.REVOKED));
                    audit.recordAdmin(who.subject(), "keys.revoke", k.id(), "revoked: service account " + account.path("name").asText() + " deleted");
                    revoked.add(k.id());
                }
                directory.deleteServiceAccount(account.path("name").asText());
            }
            audit.recordAdmin(who.subject(), "service_accounts.delete", account.path("name").asText(), "deleted; keys revoked: " + revoked);
            ObjectNode out = accountView(account, false);
            ArrayNode r = out.putArray("revoked_keys");
            revoked.forEach(r::add);
            Responses.json(exchange, 200, out.toString());
        } else {
            throw new BadAdminRequest(405, "a service account is read with GET and deleted with DELETE");
        }
    }

    private ObjectNode accountView(ObjectNode a, boolean withKeys) {
        ObjectNode out = JSON.createObjectNode().put("name", a.path("name").asText()).put("owner", "service:" + a.path("name").asText())
                .put("group", a.path("group").asText()).put("policy", a.path("policy").asText()).put("description", a.path("description").asText(""))
                .put("created_by", a.path("created_by").asText()).put("created_at", a.path("created_at").asText())
                .put("max_lifetime", Durations.format(a.path("max_lifetime_seconds").asLong(DEFAULT_ACCOUNT_LIFETIME)))
                .put("max_keys", a.path("max_keys").asInt(DEFAULT_ACCOUNT_KEYS));
        if (!withKeys) {
            String owner = "service:" + a.path("name").asText();
            out.put("active_keys", keys.all().stream().filter(k -> k.state() == KeyState.ACTIVE && keyguard.identity.Names.same(k.owner(), owner)).count());
        }
        return out;
    }
}
