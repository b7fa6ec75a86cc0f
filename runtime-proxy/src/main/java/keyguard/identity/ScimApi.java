package keyguard.identity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.unboundid.scim2.common.exceptions.ScimException;
import com.unboundid.scim2.common.filters.Filter;
import com.unboundid.scim2.common.messages.PatchOpType;
import com.unboundid.scim2.common.messages.PatchOperation;
import com.unboundid.scim2.common.utils.FilterEvaluator;
import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.Headers;
import io.undertow.util.Methods;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import keyguard.audit.AuditLog;
import keyguard.audit.UntrustedText;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeyState;
import keyguard.keys.KeyStore;

/**
 * A SCIM 2.0 service provider (RFC 7643/7644) at {@code /scim/v2} on the admin listener,
 * so that Okta, Entra ID or Keycloak push users and groups: {@code Users} and
 * {@code Groups} with create, read, filter ({@code userName eq "…"},
 * {@code displayName eq "…"}, any SCIM filter), pagination, replace, PATCH and delete, and
 * the {@code ServiceProviderConfig}, {@code ResourceTypes} and {@code Schemas} endpoints.
 *
 * <p>Invariants: every call needs the SCIM bearer token (its own, not the admin token);
 * bodies are at most 256 KiB; a user who becomes inactive or is deleted has every key it
 * owns ({@code user:<userName>}) revoked before the answer, and a deleted group every key
 * owned by {@code group:<displayName>}; a renamed user or group keeps its keys (their
 * owner is renamed), and so does a service account owned by a renamed group; a deleted
 * group's service accounts are deleted with their keys revoked; a deactivated or deleted
 * user's console sessions end. Each of these is an admin audit event with actor {@code scim} naming
 * the SCIM request. What the identity provider sends is stored as sent, apart from
 * {@code id} and {@code meta}, which are this gateway's.
 */
public final class ScimApi implements HttpHandler {
    static final String USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
    static final String GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
    static final String LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    static final String ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
    static final String PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    static final int MAX_BODY = 256 * 1024;
    static final int MAX_PAGE = 200;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final byte[] token;
    private final Directory directory;
    private final KeyStore keys;
    private final AuditLog audit;
    private final Clock clock;
    /** Told the userName of a user deactivated or deleted (to end their console sessions). */
    private final java.util.function.Consumer<String> userGone;

    public ScimApi(String token, Directory directory, KeyStore keys, AuditLog audit, Clock clock, java.util.function.Consumer<String> userGone) {
        this.userGone = userGone;
        this.token = token.getBytes(StandardCharsets.UTF_8);
        this.directory = directory;
        this.keys = keys;
        this.audit = audit;
        this.clock = clock;
    }

    /** A SCIM error: status, optional {@code scimType}, detail (safe to show). */
    static final class ScimError extends Exception {
        final int status;
        final String scimType;

        ScimError(int status, String scimType, String detail) {
            super(detail, null, false, false);
            this.status = status;
            this.scimType = scimType;
        }
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) {
        if (exchange.isInIoThread()) {
            exchange.dispatch(this);
            return;
        }
        String auth = exchange.getRequestHeaders().getFirst(Headers.AUTHORIZATION);
        String presented = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) ? auth.substring(7).strip() : "";
        try {
            if (presented.isEmpty() || !MessageDigest.isEqual(presented.getBytes(StandardCharsets.UTF_8), token)) {
                throw new ScimError(401, null, "send `Authorization: Bearer <SCIM token>` (KEYGUARD_SCIM_TOKEN or data/scim.token)");
            }
            if (!exchange.getRequestMethod().equals(Methods.GET) && !audit.writable()) {
                throw new ScimError(503, null, "the audit log cannot be written; provisioning is refused until it can");
            }
            route(exchange, exchange.getRelativePath());
        } catch (ScimError e) {
            ObjectNode err = JSON.createObjectNode();
            err.putArray("schemas").add(ERROR_SCHEMA);
            err.put("status", Integer.toString(e.status));
            if (e.scimType != null) err.put("scimType", e.scimType);
            err.put("detail", e.getMessage());
            send(exchange, e.status, err);
        }
    }

    private void route(HttpServerExchange exchange, String path) throws ScimError {
        String method = exchange.getRequestMethod().toString();
        String p = path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path;
        switch (p) {
            case "/ServiceProviderConfig" -> send(exchange, 200, Schemas.serviceProviderConfig());
            case "/ResourceTypes" -> send(exchange, 200, Schemas.resourceTypes());
            case "/Schemas" -> send(exchange, 200, Schemas.schemas());
            case "/Users" -> {
                if (method.equals("GET")) list(exchange, directory.users(), "User");
                else if (method.equals("POST")) createUser(exchange, body(exchange));
                else throw new ScimError(405, null, method + " is not supported on /Users");
            }
            case "/Groups" -> {
                if (method.equals("GET")) list(exchange, directory.groups(), "Group");
                else if (method.equals("POST")) createGroup(exchange, body(exchange));
                else throw new ScimError(405, null, method + " is not supported on /Groups");
            }
            default -> {
                if (p.startsWith("/Users/")) user(exchange, method, p.substring("/Users/".length()));
                else if (p.startsWith("/Groups/")) group(exchange, method, p.substring("/Groups/".length()));
                else if (p.startsWith("/Schemas/") || p.startsWith("/ResourceTypes/")) one(exchange, p);
                else throw new ScimError(404, null, "no SCIM endpoint " + UntrustedText.quote(p, 64));
            }
        }
    }

    private void one(HttpServerExchange exchange, String p) throws ScimError {
        String id = p.substring(p.indexOf('/', 1) + 1);
        JsonNode all = p.startsWith("/Schemas/") ? Schemas.schemas() : Schemas.resourceTypes();
        for (JsonNode r : all.path("Resources")) if (r.path("id").asText().equals(id)) {
            send(exchange, 200, r);
            return;
        }
        throw new ScimError(404, null, "no such schema or resource type");
    }

    // ---- users ------------------------------------------------------------------------------

    private void createUser(HttpServerExchange exchange, ObjectNode u) throws ScimError {
        String userName = u.path("userName").asText("").strip();
        if (userName.isEmpty() || userName.length() > 256 || UntrustedText.hasControl(userName)) {
            throw new ScimError(400, "invalidValue", "`userName` is required: at most 256 characters without control characters");
        }
        if (directory.userNamed(userName) != null) throw new ScimError(409, "uniqueness", "a user with userName `" + userName + "` exists");
        u.put("id", UUID.randomUUID().toString());
        if (!u.has("active")) u.put("active", true);
        normaliseActive(u);
        stamp(u, "User", null);
        store(() -> directory.putUser(u));
        audit.recordAdmin("scim", "scim.users.create", u.path("id").asText(), "user " + UntrustedText.quote(userName, 128) + " provisioned");
        exchange.getResponseHeaders().put(Headers.LOCATION, location(exchange, "Users", u.path("id").asText()));
        send(exchange, 201, u);
    }

    private void user(HttpServerExchange exchange, String method, String id) throws ScimError {
        ObjectNode before = directory.user(id);
        if (before == null) throw new ScimError(404, null, "no user " + UntrustedText.quote(id, 64));
        switch (method) {
            case "GET" -> send(exchange, 200, before);
            case "DELETE" -> {
                // Keys first, the user last: a revocation that fails (503) leaves the user in place, so the retry finds it.
                String name = before.path("userName").asText();
                List<String> revoked = revokeOwnedBy("user:" + name, "SCIM DELETE /Users/" + id + " (user deleted)");
                store(() -> directory.deleteUser(id));
                revoked.addAll(revokeOwnedBy("user:" + name, "SCIM DELETE /Users/" + id + " (user deleted)")); // one made meanwhile
                userGone.accept(name);
                deleted(exchange, "scim.users.delete", id, "user " + UntrustedText.quote(name, 128) + " deleted; keys revoked: " + revoked);
            }
            case "PUT", "PATCH" -> {
                ObjectNode body = body(exchange);
                // Applied to the user as it is now, and again if another node changed it first.
                Directory.Updated u = update(() -> directory.updateUser(id, current -> {
                    ObjectNode after = method.equals("PUT") ? body.deepCopy() : patched(current, body);
                    after.put("id", id);
                    normaliseActive(after);
                    String userName = after.path("userName").asText("").strip();
                    if (userName.isEmpty() || userName.length() > 256 || UntrustedText.hasControl(userName)) {
                        throw new ScimError(400, "invalidValue", "`userName` is required: at most 256 characters without control characters");
                    }
                    if (!after.has("active")) after.put("active", true);
                    stamp(after, "User", current);
                    return after;
                }));
                if (u == null) throw new ScimError(404, null, "no user " + UntrustedText.quote(id, 64));
                ObjectNode after = u.after();
                String userName = after.path("userName").asText();
                String request = "SCIM " + method + " /Users/" + id;
                String oldName = u.before().path("userName").asText();
                if (!Names.same(oldName, userName)) {
                    renameOwner("user:" + oldName, "user:" + userName, request);
                }
                if (!after.path("active").asBoolean(true)) {
                    // Every time the user is inactive, not only when it becomes so: a retry after a failed revocation finishes it.
                    List<String> revoked = revokeOwnedBy("user:" + userName, request + " (user deactivated)");
                    userGone.accept(userName);
                    audit.recordAdmin("scim", "scim.users.deactivate", id, "user " + UntrustedText.quote(userName, 128) + " "
                            + (u.before().path("active").asBoolean(true) ? "deactivated" : "inactive") + "; keys revoked: " + revoked);
                } else {
                    audit.recordAdmin("scim", "scim.users.update", id, "user " + UntrustedText.quote(userName, 128) + " updated");
                }
                send(exchange, 200, after);
            }
            default -> throw new ScimError(405, null, method + " is not supported on a user");
        }
    }

    /**
     * {@code active} as a boolean: Entra ID sends {@code "False"} and {@code "True"} as
     * strings in PATCH operations, which would otherwise count as truthy.
     */
    private static void normaliseActive(ObjectNode u) throws ScimError {
        JsonNode a = u.get("active");
        if (a == null || a.isBoolean()) return;
        if (a.isTextual() && (a.asText().equalsIgnoreCase("true") || a.asText().equalsIgnoreCase("false"))) {
            u.put("active", a.asText().equalsIgnoreCase("true"));
        } else {
            throw new ScimError(400, "invalidValue", "`active` is true or false");
        }
    }

    // ---- groups -----------------------------------------------------------------------------

    private void createGroup(HttpServerExchange exchange, ObjectNode g) throws ScimError {
        String name = displayName(g);
        if (directory.groupNamed(name) != null) throw new ScimError(409, "uniqueness", "a group with displayName `" + name + "` exists");
        g.put("id", UUID.randomUUID().toString());
        members(g);
        stamp(g, "Group", null);
        store(() -> directory.putGroup(g));
        audit.recordAdmin("scim", "scim.groups.create", g.path("id").asText(), "group " + UntrustedText.quote(name, 128) + " provisioned with "
                + g.path("members").size() + " members");
        exchange.getResponseHeaders().put(Headers.LOCATION, location(exchange, "Groups", g.path("id").asText()));
        send(exchange, 201, g);
    }

    private void group(HttpServerExchange exchange, String method, String id) throws ScimError {
        ObjectNode before = directory.group(id);
        if (before == null) throw new ScimError(404, null, "no group " + UntrustedText.quote(id, 64));
        switch (method) {
            case "GET" -> send(exchange, 200, withoutMembersIfAsked(exchange, before));
            case "DELETE" -> {
                // Keys and accounts first, the group last: a failure (503) leaves the group in place, so the retry finds it.
                String name = before.path("displayName").asText();
                String request = "SCIM DELETE /Groups/" + id + " (group deleted)";
                List<String> revoked = revokeOwnedBy("group:" + name, request);
                for (ObjectNode account : directory.serviceAccounts()) {
                    if (!Names.same(account.path("group").asText(), name)) continue;
                    String accountName = account.path("name").asText();
                    revoked.addAll(revokeOwnedBy("service:" + accountName, request + " (owner of service account " + accountName + ")"));
                    store(() -> directory.deleteServiceAccount(accountName));
                    audit.recordAdmin("scim", "service_accounts.delete", accountName, "its owning group " + UntrustedText.quote(name, 128) + " was deleted");
                }
                store(() -> directory.deleteGroup(id));
                revoked.addAll(revokeOwnedBy("group:" + name, request)); // one made meanwhile
                deleted(exchange, "scim.groups.delete", id, "group " + UntrustedText.quote(name, 128) + " deleted; keys revoked: " + revoked);
            }
            case "PUT", "PATCH" -> {
                ObjectNode body = body(exchange);
                Directory.Updated u = update(() -> directory.updateGroup(id, current -> {
                    ObjectNode after = method.equals("PUT") ? body.deepCopy() : patched(current, body);
                    after.put("id", id);
                    displayName(after);
                    members(after);
                    stamp(after, "Group", current);
                    return after;
                }));
                if (u == null) throw new ScimError(404, null, "no group " + UntrustedText.quote(id, 64));
                ObjectNode after = u.after();
                String name = displayName(after);
                String oldName = u.before().path("displayName").asText();
                if (!Names.same(oldName, name)) {
                    renameOwner("group:" + oldName, "group:" + name, "SCIM " + method + " /Groups/" + id);
                    for (ObjectNode account : directory.serviceAccounts()) {
                        if (!Names.same(account.path("group").asText(), oldName)) continue;
                        store(() -> directory.putServiceAccount(account.put("group", name)));
                        audit.recordAdmin("scim", "service_accounts.owner", account.path("name").asText(), "owning group "
                                + UntrustedText.quote(oldName, 128) + " renamed to " + UntrustedText.quote(name, 128));
                    }
                }
                audit.recordAdmin("scim", "scim.groups.update", id, "group " + UntrustedText.quote(name, 128) + " now has "
                        + after.path("members").size() + " members");
                // Okta and Entra ignore the body of a PATCH answer; 204 would do, 200 with the group is what RFC 7644 3.5.2 prefers.
                send(exchange, 200, after);
            }
            default -> throw new ScimError(405, null, method + " is not supported on a group");
        }
    }

    private static String displayName(ObjectNode g) throws ScimError {
        String name = g.path("displayName").asText("").strip();
        if (name.isEmpty() || name.length() > 256 || UntrustedText.hasControl(name)) {
            throw new ScimError(400, "invalidValue", "`displayName` is required: at most 256 characters without control characters");
        }
        return name;
    }

    /** Members as an array of {@code {"value": <user id>, …}}, each naming a user of the directory. */
    private void members(ObjectNode g) throws ScimError {
        JsonNode m = g.get("members");
        if (m == null || m.isNull()) {
            g.putArray("members");
            return;
        }
        if (!m.isArray()) throw new ScimError(400, "invalidSyntax", "`members` is an array");
        java.util.Set<String> seen = new java.util.HashSet<>();
        ArrayNode clean = JSON.createArrayNode();
        for (JsonNode member : m) {
            String value = member.path("value").asText("");
            if (directory.user(value) == null) throw new ScimError(400, "invalidValue", "member " + UntrustedText.quote(value, 64) + " is no user of this directory");
            if (seen.add(value)) clean.add(member);
        }
        g.set("members", clean);
    }

    private static JsonNode withoutMembersIfAsked(HttpServerExchange exchange, ObjectNode g) {
        var excluded = exchange.getQueryParameters().get("excludedAttributes");
        if (excluded != null && excluded.getFirst().toLowerCase(Locale.ROOT).contains("members")) g.remove("members");
        return g;
    }

    // ---- shared -----------------------------------------------------------------------------

    /**
     * A resource after the PATCH operations of a request, applied in order with UnboundID's
     * SDK. The op names are taken in any case (Entra ID writes {@code Replace}), and a
     * remove of {@code members} with a value array (Entra ID's form) becomes one filtered
     * remove per member.
     */
    private ObjectNode patched(ObjectNode before, ObjectNode request) throws ScimError {
        JsonNode ops = request.get("Operations");
        if (ops == null || !ops.isArray() || ops.isEmpty()) throw new ScimError(400, "invalidSyntax", "a PATCH needs `Operations`");
        if (ops.size() > 1000) throw new ScimError(400, "tooMany", "at most 1000 operations per PATCH");
        ObjectNode node = before.deepCopy();
        for (JsonNode op : ops) {
            String name = op.path("op").asText("").toLowerCase(Locale.ROOT);
            PatchOpType type = switch (name) {
                case "add" -> PatchOpType.ADD;
                case "remove" -> PatchOpType.REMOVE;
                case "replace" -> PatchOpType.REPLACE;
                default -> throw new ScimError(400, "invalidSyntax", "unknown PATCH op " + UntrustedText.quote(name, 16));
            };
            String path = op.hasNonNull("path") ? op.get("path").asText() : null;
            JsonNode value = op.get("value");
            try {
                if (type == PatchOpType.REMOVE && "members".equalsIgnoreCase(path) && value != null && value.isArray()) {
                    for (JsonNode member : value) {
                        String v = member.path("value").asText("").replace("\\", "\\\\").replace("\"", "\\\"");
                        PatchOperation.create(PatchOpType.REMOVE, "members[value eq \"" + v + "\"]", null).apply(node);
                    }
                } else if (type == PatchOpType.REMOVE) {
                    PatchOperation.create(type, path, null).apply(node);
                } else {
                    PatchOperation.create(type, path, value).apply(node);
                }
            } catch (ScimException e) {
                throw new ScimError(400, e.getScimError().getScimType() != null ? e.getScimError().getScimType() : "invalidValue",
                        "PATCH " + name + " " + UntrustedText.quote(String.valueOf(path), 128) + ": " + UntrustedText.quote(String.valueOf(e.getMessage()), 200));
            } catch (IllegalArgumentException | NullPointerException e) {
                throw new ScimError(400, "invalidValue", "PATCH " + name + " " + UntrustedText.quote(String.valueOf(path), 128) + " cannot be applied");
            }
        }
        return node;
    }

    /** {@code GET /Users} or {@code /Groups}: filtered (any SCIM filter), paginated from {@code startIndex} (1-based) by {@code count}. */
    private void list(HttpServerExchange exchange, List<ObjectNode> all, String type) throws ScimError {
        Map<String, java.util.Deque<String>> q = exchange.getQueryParameters();
        Filter filter = null;
        if (q.containsKey("filter")) {
            String f = q.get("filter").getFirst();
            if (f.length() > 1024) throw new ScimError(400, "invalidFilter", "a filter is at most 1024 characters");
            try {
                filter = Filter.fromString(f);
            } catch (ScimException e) {
                throw new ScimError(400, "invalidFilter", "the filter does not parse: " + UntrustedText.quote(String.valueOf(e.getMessage()), 200));
            }
        }
        int start = intParam(q, "startIndex", 1);
        int count = Math.min(MAX_PAGE, intParam(q, "count", 100));
        List<ObjectNode> matched = new ArrayList<>();
        for (ObjectNode r : all) {
            try {
                if (filter == null || FilterEvaluator.evaluate(filter, r)) matched.add(r);
            } catch (ScimException e) {
                throw new ScimError(400, "invalidFilter", "the filter cannot be evaluated: " + UntrustedText.quote(String.valueOf(e.getMessage()), 200));
            }
        }
        ObjectNode out = JSON.createObjectNode();
        out.putArray("schemas").add(LIST_SCHEMA);
        out.put("totalResults", matched.size());
        ArrayNode page = out.putArray("Resources");
        for (int i = Math.max(1, start) - 1; i < matched.size() && page.size() < count; i++) {
            page.add("Group".equals(type) ? withoutMembersIfAsked(exchange, matched.get(i)) : matched.get(i));
        }
        out.put("startIndex", Math.max(1, start));
        out.put("itemsPerPage", page.size());
        send(exchange, 200, out);
    }

    private static int intParam(Map<String, java.util.Deque<String>> q, String name, int dflt) throws ScimError {
        if (!q.containsKey(name)) return dflt;
        try {
            return Math.max(0, Integer.parseInt(q.get(name).getFirst()));
        } catch (NumberFormatException e) {
            throw new ScimError(400, "invalidValue", "`" + name + "` is a number");
        }
    }

    /** This gateway's {@code id}-independent part: {@code schemas} and {@code meta}. */
    private void stamp(ObjectNode r, String type, ObjectNode before) {
        if (!r.has("schemas")) r.putArray("schemas").add("User".equals(type) ? USER_SCHEMA : GROUP_SCHEMA);
        String now = clock.instant().toString();
        ObjectNode meta = JSON.createObjectNode().put("resourceType", type)
                .put("created", before == null ? now : before.path("meta").path("created").asText(now)).put("lastModified", now);
        long version = before == null ? 1 : before.path("meta").path("version").asText("W/\"0\"").replaceAll("\\D", "").isEmpty() ? 1
                : Long.parseLong(before.path("meta").path("version").asText().replaceAll("\\D", "")) + 1;
        meta.put("version", "W/\"" + version + "\"");
        meta.put("location", "/scim/v2/" + type + "s/" + r.path("id").asText());
        r.set("meta", meta);
    }

    private interface Change {
        void run();
    }

    private interface Update {
        Directory.Updated run() throws ScimError;
    }

    /** A read-modify-write of the directory, its store's failures answered as {@link #store} answers them. */
    private static Directory.Updated update(Update u) throws ScimError {
        Directory.Updated[] out = new Directory.Updated[1];
        ScimError[] refused = new ScimError[1];
        store(() -> {
            try {
                out[0] = u.run();
            } catch (ScimError e) {
                refused[0] = e;
            }
        });
        if (refused[0] != null) throw refused[0];
        return out[0];
    }

    private static void store(Change c) throws ScimError {
        try {
            c.run();
        } catch (DirectoryStore.Conflict e) {
            throw new ScimError(409, null, e.getMessage() + "; retry the request");
        } catch (IllegalArgumentException e) {
            throw new ScimError(409, "uniqueness", e.getMessage());
        } catch (IllegalStateException e) {
            throw new ScimError(507, null, e.getMessage());
        } catch (java.io.UncheckedIOException e) {
            throw new ScimError(503, null, "the directory cannot be written; nothing changed");
        }
    }

    /**
     * Revokes every active key owned by {@code owner}, each written (and in a fleet confirmed)
     * before the answer, each an admin audit event naming the SCIM request; the ids revoked.
     */
    private List<String> revokeOwnedBy(String owner, String request) throws ScimError {
        List<String> revoked = new ArrayList<>();
        synchronized (keys) {
            for (KeyRecord k : keys.all()) {
                if (k.state() != KeyState.ACTIVE || !Names.same(owner, k.owner())) continue;
                try {
                    keys.putAndConfirm(k.withState(KeyState.REVOKED), java.time.Duration.ofSeconds(2));
                } catch (RuntimeException e) {
                    throw new ScimError(503, null, "the key store cannot be written; revoked so far: " + revoked + " (retry the request)");
                }
                audit.recordAdmin("scim", "keys.revoke", k.id(), "revoked: " + request);
                revoked.add(k.id());
            }
        }
        return revoked;
    }

    /** Answers a DELETE: the audit event, then 204. */
    private void deleted(HttpServerExchange exchange, String action, String id, String detail) {
        audit.recordAdmin("scim", action, id, detail);
        exchange.setStatusCode(204);
        exchange.endExchange();
    }

    /** Renames the owner of every key owned by {@code from} (a user's userName or a group's displayName changed). */
    private void renameOwner(String from, String to, String request) throws ScimError {
        synchronized (keys) {
            for (KeyRecord k : keys.all()) {
                if (!Names.same(from, k.owner())) continue;
                try {
                    keys.putAndConfirm(k.withOwner(to), java.time.Duration.ofSeconds(2));
                } catch (RuntimeException e) {
                    throw new ScimError(503, null, "the key store cannot be written (retry the request)");
                }
                audit.recordAdmin("scim", "keys.owner", k.id(), "owner " + UntrustedText.quote(from, 128) + " renamed to "
                        + UntrustedText.quote(to, 128) + ": " + request);
            }
        }
    }

    private static String location(HttpServerExchange exchange, String type, String id) {
        return exchange.getRequestScheme() + "://" + exchange.getHostAndPort() + "/scim/v2/" + type + "/" + id;
    }

    private static ObjectNode body(HttpServerExchange exchange) throws ScimError {
        exchange.startBlocking();
        byte[] bytes;
        try {
            bytes = exchange.getInputStream().readNBytes(MAX_BODY + 1);
        } catch (IOException e) {
            throw new ScimError(400, "invalidSyntax", "the request body could not be read");
        }
        if (bytes.length > MAX_BODY) throw new ScimError(413, null, "a SCIM request body is at most " + MAX_BODY / 1024 + " KiB");
        try {
            JsonNode n = JSON.readTree(bytes);
            if (n instanceof ObjectNode o) return o;
        } catch (IOException e) {
            // below
        }
        throw new ScimError(400, "invalidSyntax", "the request body is not a JSON object");
    }

    private static void send(HttpServerExchange exchange, int status, JsonNode body) {
        exchange.setStatusCode(status);
        exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/scim+json");
        exchange.getResponseHeaders().put(Headers.CACHE_CONTROL, "no-store");
        exchange.getResponseSender().send(body.toString());
    }
}
