package keyguard.admin;

import static keyguard.admin.AdminRequests.MAX_NAME;
import static keyguard.admin.AdminRequests.require;
import static keyguard.admin.AdminRequests.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.undertow.server.HttpServerExchange;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import keyguard.audit.AuditLog;
import keyguard.audit.SpendIndex;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeyRecordJson;
import keyguard.keys.KeySecrets;
import keyguard.keys.KeyState;
import keyguard.keys.KeyStore;
import keyguard.policy.Durations;
import keyguard.revision.LoadedPolicies;
import keyguard.wire.Responses;

/**
 * {@code /admin/keys}: create, list, show, revoke and rotate keys, and read a key's usage.
 * Who may do what is {@link Caller}'s answer; this class applies it to keys.
 *
 * <p>Invariants: a key change is written, and in a fleet confirmed by every live node,
 * before it is answered ({@link #confirm}); a change that could not be written is a 503 and
 * changed nothing; responses never contain a key's hash, and a secret only in the create and
 * rotate responses; an owner taken from the directory is checked again under the lock that
 * writes the key.
 */
final class KeysApi {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final KeyStore keys;
    private final KeySecrets secrets;
    private final Supplier<LoadedPolicies> policies;
    private final Clock clock;
    private final AuditLog audit;
    /** The fleet this gateway is in, or null for a single node. */
    private final keyguard.fleet.Fleet fleet;
    private final keyguard.identity.Directory directory;
    private final keyguard.counters.Enforcer enforcer;

    KeysApi(KeyStore keys, KeySecrets secrets, Supplier<LoadedPolicies> policies, Clock clock, AuditLog audit, keyguard.fleet.Fleet fleet,
            keyguard.identity.Directory directory, keyguard.counters.Enforcer enforcer) {
        this.keys = keys;
        this.secrets = secrets;
        this.policies = policies;
        this.clock = clock;
        this.audit = audit;
        this.fleet = fleet;
        this.directory = directory;
        this.enforcer = enforcer;
    }

    /** {@code GET /admin/keys}: the keys the caller may read, oldest first. */
    void list(HttpServerExchange exchange, Caller caller) {
        ArrayNode list = JSON.createArrayNode();
        keys.all().stream().filter(caller::reads)
                .sorted(Comparator.comparing(KeyRecord::createdAt).thenComparing(KeyRecord::id)).forEach(k -> list.add(view(k, caller)));
        ObjectNode root = JSON.createObjectNode();
        root.set("keys", list);
        Responses.json(exchange, 200, root.toString());
    }

    /** {@code GET /admin/keys/ID}. */
    void show(HttpServerExchange exchange, String id, Caller caller) throws BadAdminRequest {
        KeyRecord k = keys.get(id);
        if (k != null) require(caller.reads(k), caller.who(), "read key `" + k.id() + "`");
        if (k == null) throw new BadAdminRequest(404, "no key `" + keyguard.audit.UntrustedText.quote(id, 64) + "`");
        Responses.json(exchange, 200, view(k, caller).toString());
    }

    /**
     * {@code GET /admin/keys/ID/usage}: each limit and budget of the key's policy with what
     * is used now (the numbers of the {@code x-ratelimit-*} headers), and for budgets the
     * period, the share used and, at the period's rate so far, when the cap would be
     * reached (null when not within the period); then the key's requests and spend over the
     * last 30 days and the last day it was used, from the spend index.
     */
    void usage(HttpServerExchange exchange, String id, Caller caller) throws BadAdminRequest {
        KeyRecord k = keys.get(id);
        if (k != null) require(caller.reads(k), caller.who(), "read key `" + k.id() + "`");
        if (k == null) throw new BadAdminRequest(404, "no key `" + keyguard.audit.UntrustedText.quote(id, 64) + "`");
        LoadedPolicies lp = policies.get();
        keyguard.policy.Policy policy = lp.set().policy(k.policy());
        ObjectNode out = JSON.createObjectNode().put("key", k.id()).put("policy", k.policy()).put("revision", lp.set().revision());
        ArrayNode list = out.putArray("limits");
        long now = clock.millis();
        keyguard.policy.OrgChart.Team team = k.team(lp.set().org());
        if (team != null) out.put("team", team.name());
        if (team != null && team.unit() != null) out.put("org", team.unitName());
        keyguard.counters.KeyCounters counters = null;
        if (policy != null) {
            try {
                counters = keyguard.delegation.CarveOuts.counters(enforcer, k, lp.set().org(), policy); // a sub-key's are its root's, or its carve-out's
            } catch (keyguard.counters.OutsideOrganisation e) {
                out.put("refused", "this key " + e.reason()); // every request of the key is refused: nothing is counted
            }
        }
        if (counters != null && counters.countsEndUsers()) {
            // Each end user has counters of its own (`by user`); the limits below are those of requests naming none.
            out.putObject("end_users").put("max", policy.endUsers().max()).put("places", enforcer.endUsersTracked(counters))
                    .put("overflow", policy.endUsers().overflowShared() ? "shared" : "refuse");
        }
        if (counters != null) {
            for (keyguard.counters.KeyCounters.Usage u : counters.usage(now)) {
                ObjectNode o = list.addObject().put("id", u.limit().id()).put("counter", u.limit().counter().toString())
                        .put("metric", u.limit().counter().metric().word()).put("scope", u.limit().counter().scope().word())
                        .put("origin", u.limit().origin());
                long cap = u.limit().amount();
                if (u.period() == null) {
                    o.put("kind", "limit").put("window", u.limit().counter().window()).put("limit", cap).put("used", u.used())
                            .put("remaining", Math.max(0, cap - u.used())).put("reset", keyguard.counters.KeyCounters.formatDuration(u.millisUntilEmpty()));
                } else {
                    keyguard.policy.BudgetSpec b = (keyguard.policy.BudgetSpec) u.limit();
                    o.put("kind", "budget").put("hard", b.hard()).put("period", u.limit().counter().window()).put("zone", u.zone().getId())
                            .put("period_start", Instant.ofEpochMilli(u.period().startMillis()).toString())
                            .put("period_end", Instant.ofEpochMilli(u.period().endMillis()).toString())
                            .put("cap_micros", cap).put("cap_usd", keyguard.policy.Money.format(cap))
                            .put("used_micros", u.used()).put("used_usd", keyguard.policy.Money.format(u.used()))
                            .put("used_percent", cap == 0 ? 100.0 : Math.round(u.used() * 1000.0 / cap) / 10.0);
                    long elapsed = now - u.period().startMillis();
                    if (u.used() >= cap) {
                        o.put("projected_exhaustion", "reached");
                    } else if (u.used() > 0 && elapsed > 0) {
                        long at = now + (long) ((cap - u.used()) * (double) elapsed / u.used());
                        if (at < u.period().endMillis()) o.put("projected_exhaustion", Instant.ofEpochMilli(at).toString());
                        else o.putNull("projected_exhaustion");
                    } else {
                        o.putNull("projected_exhaustion");
                    }
                }
            }
        }
        java.time.LocalDate today = java.time.LocalDate.ofInstant(clock.instant(), java.time.ZoneOffset.UTC);
        List<SpendIndex.Row> days = SpendIndex.regroup(audit.spend().query(List.of("key", "day"), today.minusDays(29), today),
                List.of("day"), g -> k.id().equals(g.get("key")));
        long cost = 0;
        long requests = 0;
        String lastDay = null;
        for (SpendIndex.Row r : days) {
            cost += r.costMicros();
            requests += r.requests();
            if (r.requests() > 0) lastDay = r.group().get("day");
        }
        out.putObject("last_30_days").put("requests", requests).put("cost_micros", cost).put("cost_usd", keyguard.policy.Money.format(cost))
                .put("scope", fleet == null ? "node" : "node (this gateway's audit log)");
        if (lastDay == null) out.putNull("last_used_day");
        else out.put("last_used_day", lastDay);
        Responses.json(exchange, 200, out.toString());
    }

    /** How long a revocation waits for every live node of a fleet to acknowledge it. */
    private static final java.time.Duration ACK_WAIT = java.time.Duration.ofSeconds(2);

    /**
     * Revokes a key: its next request is refused with 401, on every node of a fleet once
     * this answers. In a fleet it waits up to 2 s for every live node to acknowledge; the
     * answer lists those that did not (they refuse all authentication once their proof of
     * being current is older than the fleet's lease). Revoking twice is fine.
     */
    void revoke(HttpServerExchange exchange, String id, Caller caller) throws BadAdminRequest {
        AdminPrincipal who = caller.who();
        KeyRecord k;
        List<String> unacknowledged = List.of();
        List<String> subKeys;
        synchronized (keys) { // with its sub-keys, under the lock a sub-key's mint takes: none is minted below it meanwhile
            k = keys.get(id);
            if (k == null) throw new BadAdminRequest(404, "no key `" + keyguard.audit.UntrustedText.quote(id, 64) + "`");
            require(caller.manages(k), who, "revoke key `" + k.id() + "`");
            k = k.withState(KeyState.REVOKED);
            unacknowledged = confirm(k);
            subKeys = keys.revokeSubKeys(k); // already refused at authentication; recorded on each (their carve-outs return at the next sweep)
        }
        audit.recordAdmin(who.subject(), "keys.revoke", id, (unacknowledged.isEmpty() ? "revoked" : "revoked; not acknowledged by " + unacknowledged)
                + (subKeys.isEmpty() ? "" : "; with its sub-keys " + subKeys));
        ObjectNode out = view(k, caller);
        if (fleet != null) acknowledgements(out, unacknowledged);
        Responses.json(exchange, 200, out.toString());
    }

    /**
     * Writes a key change and waits until every live node of a fleet has applied it (a key
     * created on one node works on all once the call answers; a revoked one fails on all);
     * returns the nodes that did not in time. A store that cannot be written is a 503, and
     * nothing changed.
     */
    List<String> confirm(KeyRecord k) throws BadAdminRequest {
        try {
            return keys.putAndConfirm(k, ACK_WAIT);
        } catch (keyguard.keys.KeyStoreUnavailable e) {
            throw new BadAdminRequest(503, e.getMessage());
        } catch (keyguard.keys.KeyStoreConflict e) {
            throw new BadAdminRequest(409, e.getMessage());
        }
    }

    private void acknowledgements(ObjectNode out, List<String> unacknowledged) {
        ObjectNode fleetOut = out.putObject("fleet");
        fleetOut.put("acknowledged", unacknowledged.isEmpty());
        var missing = fleetOut.putArray("unacknowledged_nodes");
        unacknowledged.forEach(missing::add);
        if (unacknowledged.equals(List.of(keyguard.fleet.FleetNodes.UNCONFIRMED))) {
            fleetOut.put("note", "the change is written, but Redis could not be read to confirm that every node applied it; each node"
                    + " refuses all authentication once it has been out of touch with Redis for its lease, until it catches up");
        } else if (!unacknowledged.isEmpty()) {
            fleetOut.put("note", "these nodes did not confirm within 2 s; each refuses all authentication once it has been out of touch with "
                    + "Redis for its lease (" + fleet.config().lease().toMillis() / 1000.0 + " s here), until it catches up");
        }
    }

    /**
     * Rotates a key: a new secret now; every replaced secret keeps working until its own
     * grace ends ({@code grace}, default none). With a {@code request_id}, the new secret is
     * derived from it, so a retry with the same id (a lost response) returns the same secret
     * and mints nothing new; the id of an earlier rotation is refused (409), so a replay never
     * brings back a replaced secret.
     */
    void rotate(HttpServerExchange exchange, String id, JsonNode body, Caller caller) throws BadAdminRequest {
        AdminPrincipal who = caller.who();
        String requestId = text(body, "request_id", false, MAX_REQUEST_ID);
        String grace = text(body, "grace", false, 32);
        long graceSeconds = grace.isEmpty() ? 0 : Durations.parseSeconds(grace);
        if (graceSeconds < 0 || (!grace.isEmpty() && graceSeconds == 0 && !grace.equals("0s")) || graceSeconds > MAX_GRACE_SECONDS) {
            throw new BadAdminRequest(400, "`grace` must be a duration from `0s` to `365d`, such as `1h` or `7d`");
        }
        Instant now = clock.instant();
        String secret;
        KeyRecord k;
        int status = 200;
        List<String> unacknowledged = List.of();
        synchronized (keys) {
            k = keys.get(id);
            if (k == null) throw new BadAdminRequest(404, "no key `" + keyguard.audit.UntrustedText.quote(id, 64) + "`");
            require(caller.manages(k), who, "rotate key `" + k.id() + "`");
            if (k.state() == KeyState.REVOKED) throw new BadAdminRequest(409, "key `" + id + "` is revoked; create a new key instead");
            KeyRecord.Rotation last = k.rotation();
            if (!requestId.isEmpty() && last != null && requestId.equals(last.requestId())) {
                secret = secrets.derive(id, requestId, last.generation()); // the same rotation, retried: same answer
            } else if (!requestId.isEmpty() && last != null && last.earlierRequests().contains(requestId)) {
                throw new BadAdminRequest(409, "`request_id` " + requestId + " belongs to an earlier rotation of key `" + id
                        + "`; a rotation is retried only until the next one");
            } else {
                long generation = last == null ? 1 : last.generation() + 1;
                secret = requestId.isEmpty() ? "kg-" + id + "-" + KeySecrets.generate().secret().substring(16) : secrets.derive(id, requestId, generation);
                k = k.rotated(secrets.hash(secret), now, now.plusSeconds(graceSeconds), requestId);
                // Every node has the new secret before the answer (and, without grace, has dropped the old one).
                unacknowledged = confirm(k);
                status = 201;
            }
        }
        audit.recordAdmin(who.subject(), "keys.rotate", id, status == 201 ? "rotated" : "retried");
        ObjectNode out = view(k, caller);
        out.put("secret", secret);
        if (fleet != null && status == 201) acknowledgements(out, unacknowledged);
        Responses.json(exchange, status, out.toString());
    }

    /** A key as the admin API shows it, with whether this caller may revoke and rotate it. */
    static ObjectNode view(KeyRecord k, Caller caller) {
        return KeyRecordJson.view(k).put("manageable", caller.manages(k));
    }

    /**
     * {@code POST /admin/keys}. Who may: an admin or a team admin of the policy (any owner);
     * a member of the group owning the service account named as {@code owner} (a key of the
     * account's policy); or, by self-service, a member whose groups grant the policy: then
     * the key is owned by the caller or by one of their groups, lives at most the grant's
     * lifetime (its lifetime when none is asked for), and the owner holds at most the grant's
     * number of active keys of the policy. Without an {@code owner} the key is the caller's
     * ({@code user:<userName>}), or the operator's for the bootstrap token.
     */
    void create(HttpServerExchange exchange, JsonNode body, Caller caller) throws BadAdminRequest {
        AdminPrincipal who = caller.who();
        String policy = text(body, "policy", true, 128);
        String name = text(body, "name", true, MAX_NAME);
        String asked = text(body, "owner", false, MAX_NAME);
        // The caller as owner needs no directory entry: their identity provider vouched for them.
        boolean callerOwns = asked.isEmpty() || keyguard.identity.Names.same(asked, caller.user());
        String owner = callerOwns ? (caller.user() != null ? caller.user() : "operator") : owner(asked);
        // An owner taken from the directory stands or falls with its entry, checked again under the lock below.
        boolean fromDirectory = callerOwns ? caller.inDirectory() : owner.startsWith("user:") || owner.startsWith("group:") || owner.startsWith("service:");
        keyguard.identity.SelfService.Allowance self = null;
        if (!who.managesKeysOf(policy)) {
            boolean ownAccount = caller.ownsAccount(owner);
            require(ownAccount || caller.allowances().containsKey(policy), who, "create keys for policy `" + policy + "`"
                    + (caller.allowances().isEmpty() ? "" : " (self-service allows " + caller.allowances().keySet() + ")"));
            if (ownAccount) { // a member issuing their group's account a key: within the limits an admin gave the account
                ObjectNode account = directory.serviceAccount(owner.substring(8));
                if (account == null) throw new BadAdminRequest(409, "service account `" + owner.substring(8) + "` was deleted meanwhile");
                self = ServiceAccountsApi.allowance(account, policy);
            } else {
                self = caller.allowance(policy, owner);
            }
            require(self != null, who, "issue a key of policy `" + policy + "` owned by `" + owner
                    + "` (self-service keys are owned by you, or by one of your groups that is granted the policy)");
        }
        keyguard.policy.PolicySet set = policies.get().set();
        if (set.policy(policy) == null) {
            throw new BadAdminRequest(400, "no policy `" + policy + "` in revision " + set.revision() + "; policies are " + set.policies().keySet());
        }
        // The key's team: one an admin names, else its service account's group's (fixed now: an account's keys outlive
        // its members), else whatever team holds its owning group at each request (KeyRecord#team).
        String team = text(body, "team", false, 64);
        if (!team.isEmpty()) {
            require(who.admin(), who, "put a key in a team (a key owned by a team's group is in the team)");
            if (set.org().team(team) == null) {
                throw new BadAdminRequest(400, "no team `" + keyguard.audit.UntrustedText.quote(team, 64) + "` in revision " + set.revision()
                        + "; teams are " + new java.util.TreeSet<>(set.org().teams().keySet()));
            }
        }
        if (owner.startsWith("service:")) {
            ObjectNode account = directory.serviceAccount(owner.substring(8));
            if (account == null) throw new BadAdminRequest(409, "service account `" + owner.substring(8) + "` was deleted meanwhile");
            String bound = account.path("policy").asText();
            if (!bound.equals(policy)) throw new BadAdminRequest(400, "service account `" + owner.substring(8) + "` is bound to policy `" + bound + "`, not `" + policy + "`");
            keyguard.policy.OrgChart.Team accountTeam = set.org().teamOfGroup(account.path("group").asText());
            if (team.isEmpty() && accountTeam != null) team = accountTeam.name();
        }
        // A key owned by a team's group is in that team, fixed now; it charges the team's budgets, so only an admin or a
        // member of the group issues one (a team admin of the policy may not book its spend on another team).
        keyguard.policy.OrgChart.Team ownerTeam = owner.startsWith("group:") ? set.org().teamOfGroup(owner.substring(6)) : null;
        if (team.isEmpty() && ownerTeam != null) {
            require(who.admin() || caller.groups().contains(keyguard.identity.Names.fold(owner.substring(6))), who,
                    "issue a key owned by `" + owner + "`, a group of team `" + ownerTeam.name() + "` you are not in");
            team = ownerTeam.name();
        }
        Map<String, String> labels = new LinkedHashMap<>();
        JsonNode l = body.get("labels");
        if (l != null && !l.isNull()) {
            if (!l.isObject()) throw new BadAdminRequest(400, "`labels` must be an object of strings");
            if (l.size() > MAX_LABELS) throw new BadAdminRequest(400, "a key has at most " + MAX_LABELS + " labels");
            for (var e : l.properties()) {
                String label = e.getKey();
                if (!e.getValue().isTextual()) throw new BadAdminRequest(400, "label `" + keyguard.audit.UntrustedText.quote(label, 64) + "` must be a string");
                if (!label.matches("[a-z][a-z0-9_]{0,63}")) {
                    throw new BadAdminRequest(400, "label names are lower-case letters, digits and `_`, at most 64: not `" + keyguard.audit.UntrustedText.quote(label, 64) + "`");
                }
                String value = e.getValue().asText();
                if (value.length() > MAX_LABEL_VALUE || keyguard.audit.UntrustedText.hasControl(value)) {
                    throw new BadAdminRequest(400, "label `" + label + "` must be at most " + MAX_LABEL_VALUE + " characters without control characters");
                }
                keyguard.policy.LabelSpec declared = set.labels().get(label);
                if (declared != null) {
                    // Rules trust declared labels: an operator's label is set by admins only.
                    require(who.admin() || declared.setByTeam(), who, "set label `" + label + "` (declared `set_by operator`)");
                    if (!declared.accepts(value)) {
                        throw new BadAdminRequest(400, "label `" + label + "` takes " + declared.values() + ", not `" + keyguard.audit.UntrustedText.quote(value, 64) + "`");
                    }
                }
                labels.put(label, value);
            }
        }
        Instant now = clock.instant();
        Instant expires = null;
        String expiresAt = text(body, "expires_at", false, 64);
        String expiresIn = text(body, "expires_in", false, 32);
        if (!expiresAt.isEmpty()) {
            try {
                expires = java.time.OffsetDateTime.parse(expiresAt).toInstant();
            } catch (DateTimeParseException e) {
                throw new BadAdminRequest(400, "`expires_at` must be an ISO-8601 instant");
            }
            if (expires.isAfter(now.plusSeconds(MAX_LIFETIME_SECONDS))) {
                throw new BadAdminRequest(400, "`expires_at` must lie within the next 10 years");
            }
        } else if (!expiresIn.isEmpty()) {
            long seconds = Durations.parseSeconds(expiresIn);
            if (seconds <= 0 || seconds > MAX_LIFETIME_SECONDS) {
                throw new BadAdminRequest(400, "`expires_in` must be a duration of at most 10 years, such as `30d` or `12h`");
            }
            expires = now.plusSeconds(seconds);
        }
        if (self != null) {
            Instant latest = now.plusSeconds(self.maxLifetimeSeconds());
            if (expires == null) expires = latest;
            if (expires.isAfter(latest)) {
                throw new BadAdminRequest(400, "a self-service key for policy `" + policy + "` lives at most " + Durations.format(self.maxLifetimeSeconds()));
            }
        }
        KeySecrets.NewSecret secret = KeySecrets.generate();
        KeyRecord record = new KeyRecord(secret.id(), name, owner, policy, Map.copyOf(labels), now, expires, KeyState.ACTIVE,
                secrets.hash(secret.secret()), null, who.admin(), team);
        List<String> unacknowledged;
        synchronized (keys) { // the count and the write together: two requests at once cannot both take the last place
            // The owner again, now: a deactivation or deletion that landed since the checks above wins.
            if (fromDirectory && !ownerStands(owner)) throw new BadAdminRequest(409, "`" + owner + "` was deactivated or deleted meanwhile; no key was created");
            if (self != null) {
                String o = owner;
                long held = keys.all().stream().filter(k -> k.state() == KeyState.ACTIVE && k.policy().equals(policy) && keyguard.identity.Names.same(k.owner(), o)
                        && (k.expiresAt() == null || k.expiresAt().isAfter(now))).count();
                if (held >= self.maxKeys()) {
                    throw new BadAdminRequest(409, "`" + owner + "` holds " + held + " active keys of policy `" + policy + "`, the most self-service allows; revoke one first");
                }
            }
            unacknowledged = confirm(record); // usable on every node once this answers
        }
        audit.recordAdmin(who.subject(), "keys.create", record.id(), "created for policy " + policy + " owned by " + owner
                + (self != null ? " (self-service)" : ""));
        ObjectNode out = view(record, caller);
        out.put("secret", secret.secret());
        if (fleet != null) acknowledgements(out, unacknowledged);
        Responses.json(exchange, 201, out.toString());
    }

    /** Whether a directory owner (user, group, service account) still exists, and a user is active. */
    private boolean ownerStands(String owner) {
        if (owner.startsWith("user:")) {
            ObjectNode u = directory.userNamed(owner.substring(5));
            return u != null && u.path("active").asBoolean(true);
        }
        if (owner.startsWith("group:")) return directory.groupNamed(owner.substring(6)) != null;
        if (owner.startsWith("service:")) return directory.serviceAccount(owner.substring(8)) != null;
        return true;
    }

    /**
     * A key's owner as stored: {@code user:<userName>} for a user and {@code group:<displayName>}
     * for a group of the SCIM directory (which must be there, and a user active: their keys
     * are revoked when the identity provider deactivates or deletes them), spelled as the
     * directory spells them; {@code service:<name>} for a service account; any other text as
     * given (a team or service name, unmanaged).
     */
    String owner(String owner) throws BadAdminRequest {
        String lower = owner.toLowerCase(java.util.Locale.ROOT);
        if (lower.startsWith("service:")) {
            ObjectNode a = directory.serviceAccount(owner.substring(8));
            if (a == null) throw new BadAdminRequest(400, "no service account `" + keyguard.audit.UntrustedText.quote(owner.substring(8), 128) + "` (POST /admin/service-accounts)");
            return "service:" + a.path("name").asText();
        }
        if (lower.startsWith("user:")) {
            ObjectNode u = directory.userNamed(owner.substring(5));
            if (u == null) throw new BadAdminRequest(400, "no user `" + keyguard.audit.UntrustedText.quote(owner.substring(5), 128) + "` in the directory (users come from the identity provider over SCIM)");
            if (!u.path("active").asBoolean(true)) throw new BadAdminRequest(400, "user `" + u.path("userName").asText() + "` is deactivated");
            return "user:" + u.path("userName").asText();
        }
        if (lower.startsWith("group:")) {
            ObjectNode g = directory.groupNamed(owner.substring(6));
            if (g == null) throw new BadAdminRequest(400, "no group `" + keyguard.audit.UntrustedText.quote(owner.substring(6), 128) + "` in the directory (groups come from the identity provider over SCIM)");
            return "group:" + g.path("displayName").asText();
        }
        return owner;
    }

    private static final int MAX_LABELS = 32;
    private static final int MAX_LABEL_VALUE = 256;
    private static final int MAX_REQUEST_ID = 128;
    private static final long MAX_GRACE_SECONDS = 365L * 86_400;
    private static final long MAX_LIFETIME_SECONDS = 10L * 366 * 86_400;
}
