package keyguard.identity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The users and groups an identity provider pushes over SCIM (RFC 7643), as the SCIM
 * resources it sent, with the ids and {@code meta} this gateway gave them; and the service
 * accounts admins create (an identity owned by a group, bound to one policy, whose keys
 * outlive the people who made them).
 *
 * <p>Invariants: a {@code userName} names one user and a group's {@code displayName} one
 * group, compared without case (both are case-insensitive in SCIM); ids are assigned here
 * and never change; every change is written to the {@link DirectoryStore} (durably, and in
 * a fleet for every node) before it is applied here and answered; every read and write
 * first takes in what other nodes changed (one round trip to Redis in a fleet: SCIM calls
 * behind a load balancer land on any node, and the next may land elsewhere). When the
 * store cannot be read, reads answer from what this node holds (and say so in the log);
 * writes fail. At most {@link #MAX_USERS} users, {@link #MAX_GROUPS} groups and
 * {@link #MAX_MEMBERS} members per group; a service account's name (lower case) names one
 * account, at most {@link #MAX_SERVICE_ACCOUNTS}. All methods are synchronized: SCIM and
 * admin traffic, not the request path.
 */
public final class Directory implements AutoCloseable {
    public static final int MAX_USERS = 200_000;
    public static final int MAX_GROUPS = 20_000;
    public static final int MAX_MEMBERS = 50_000;
    public static final int MAX_SERVICE_ACCOUNTS = 10_000;
    private static final System.Logger LOG = System.getLogger("keyguard.identity");
    static final String USER = "user";
    static final String GROUP = "group";
    static final String SERVICE_ACCOUNT = "service_account";

    private final DirectoryStore store;
    private final Map<String, ObjectNode> users = new LinkedHashMap<>();
    private final Map<String, ObjectNode> groups = new LinkedHashMap<>();
    /** By name; the resource's {@code id} is its name. */
    private final Map<String, ObjectNode> serviceAccounts = new LinkedHashMap<>();
    /** Whether the last pull failed (logged once per outage). */
    private boolean stale;

    private Directory(DirectoryStore store) {
        this.store = store;
    }

    /** A single gateway's directory: the journal at {@code file}. */
    public static Directory open(Path file) {
        return open(FileDirectoryStore.open(file));
    }

    /** The directory kept in {@code store}, read whole now; UncheckedIOException when it cannot be read. */
    public static Directory open(DirectoryStore store) {
        Directory d = new Directory(store);
        d.apply(store.pull());
        return d;
    }

    private Map<String, ObjectNode> map(String kind) {
        return switch (kind) {
            case GROUP -> groups;
            case SERVICE_ACCOUNT -> serviceAccounts;
            default -> users;
        };
    }

    private void apply(DirectoryStore.Pull p) {
        if (p.snapshot()) {
            users.clear();
            groups.clear();
            serviceAccounts.clear();
        }
        for (DirectoryStore.Change c : p.changes()) apply(c);
    }

    private void apply(DirectoryStore.Change c) {
        if (c.op().equals("delete")) map(c.kind()).remove(c.id());
        else map(c.kind()).put(c.id(), c.resource().deepCopy());
    }

    /** Takes in what changed elsewhere; on failure, carries on with what is held. */
    private void refresh() {
        try {
            apply(store.pull());
            if (stale) LOG.log(System.Logger.Level.INFO, "the directory store " + store.describe() + " can be read again");
            stale = false;
        } catch (UncheckedIOException | IllegalStateException e) {
            if (!stale) LOG.log(System.Logger.Level.WARNING, "the directory store " + store.describe() + " cannot be read (" + e.getMessage()
                    + "); answering from this node's copy, and refusing changes, until it can");
            stale = true;
        }
    }

    /** Takes in what changed elsewhere, or fails: a change is made only on the current state. */
    private void refreshForWrite() {
        apply(store.pull());
        stale = false;
    }

    private void write(String op, String kind, String id, ObjectNode resource) {
        DirectoryStore.Change c = new DirectoryStore.Change(op, kind, id, resource == null ? null : resource.deepCopy());
        store.write(c);
        apply(c);
    }

    /** A change to a resource computed from the resource as it is ({@link #updateUser}, {@link #updateGroup}). */
    public interface Edit<E extends Exception> {
        ObjectNode apply(ObjectNode current) throws E;
    }

    /** A resource before and after an update. */
    public record Updated(ObjectNode before, ObjectNode after) {}

    /** How often an update is tried again when another node changed the resource first. */
    static final int UPDATE_ATTEMPTS = 20;

    /**
     * Changes a user by {@code edit} applied to the user as it is now (every node's changes
     * taken in), written only if nobody changed it meanwhile, else applied again to the newer
     * user: two identity-provider calls on two nodes cannot lose one another's change. Null
     * when there is no such user; {@link DirectoryStore.Conflict} after
     * {@value #UPDATE_ATTEMPTS} collisions; as {@link #putUser} otherwise.
     */
    public synchronized <E extends Exception> Updated updateUser(String id, Edit<E> edit) throws E {
        return update(USER, id, edit);
    }

    /** As {@link #updateUser}, for a group. */
    public synchronized <E extends Exception> Updated updateGroup(String id, Edit<E> edit) throws E {
        return update(GROUP, id, edit);
    }

    private <E extends Exception> Updated update(String kind, String id, Edit<E> edit) throws E {
        for (int attempt = 1; ; attempt++) {
            refreshForWrite();
            ObjectNode before = map(kind).get(id);
            if (before == null) return null;
            ObjectNode after = edit.apply(before.deepCopy());
            after.put("id", id);
            if (kind.equals(USER)) checkUser(after);
            else checkGroup(after);
            DirectoryStore.Change c = new DirectoryStore.Change("put", kind, id, after.deepCopy());
            try {
                store.write(c, before);
            } catch (DirectoryStore.Conflict e) {
                if (attempt == UPDATE_ATTEMPTS) throw e;
                try { // the other node is writing: let it finish before reading again
                    Thread.sleep(java.util.concurrent.ThreadLocalRandom.current().nextInt(1, 2 + attempt));
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                continue;
            }
            apply(c);
            return new Updated(before.deepCopy(), after);
        }
    }

    private void checkUser(ObjectNode u) {
        String id = u.path("id").asText();
        if (userNamedExcept(u.path("userName").asText(), id) != null) throw new IllegalArgumentException("userName `" + u.path("userName").asText() + "` is taken");
        if (!users.containsKey(id) && users.size() >= MAX_USERS) throw new IllegalStateException("the directory holds " + MAX_USERS + " users, its most");
    }

    private void checkGroup(ObjectNode g) {
        String id = g.path("id").asText();
        for (ObjectNode o : groups.values()) {
            if (!o.path("id").asText().equals(id) && Names.same(o.path("displayName").asText(), g.path("displayName").asText())) {
                throw new IllegalArgumentException("displayName `" + g.path("displayName").asText() + "` is taken");
            }
        }
        if (!groups.containsKey(id) && groups.size() >= MAX_GROUPS) throw new IllegalStateException("the directory holds " + MAX_GROUPS + " groups, its most");
        if (g.path("members").size() > MAX_MEMBERS) throw new IllegalStateException("a group holds at most " + MAX_MEMBERS + " members");
    }

    public synchronized ObjectNode user(String id) {
        refresh();
        ObjectNode u = users.get(id);
        return u == null ? null : u.deepCopy();
    }

    public synchronized ObjectNode group(String id) {
        refresh();
        ObjectNode g = groups.get(id);
        return g == null ? null : g.deepCopy();
    }

    /** The user with this {@code userName} (any case), or null. */
    public synchronized ObjectNode userNamed(String userName) {
        refresh();
        ObjectNode u = userNamedExcept(userName, null);
        return u == null ? null : u.deepCopy();
    }

    /** The group with this {@code displayName} (any case), or null. */
    public synchronized ObjectNode groupNamed(String displayName) {
        refresh();
        for (ObjectNode g : groups.values()) if (Names.same(g.path("displayName").asText(), displayName)) return g.deepCopy();
        return null;
    }

    /** Whether any user has been provisioned (SCIM is in use). */
    public synchronized boolean hasUsers() {
        refresh();
        return !users.isEmpty();
    }

    public synchronized List<ObjectNode> users() {
        refresh();
        List<ObjectNode> out = new ArrayList<>(users.size());
        users.values().forEach(u -> out.add(u.deepCopy()));
        return out;
    }

    public synchronized List<ObjectNode> groups() {
        refresh();
        List<ObjectNode> out = new ArrayList<>(groups.size());
        groups.values().forEach(g -> out.add(g.deepCopy()));
        return out;
    }

    /** Stores a user (new or changed), durably; IllegalStateException when the directory is full, IllegalArgumentException for a taken userName. */
    public synchronized void putUser(ObjectNode u) {
        refreshForWrite();
        checkUser(u);
        write("put", USER, u.path("id").asText(), u);
    }

    public synchronized void putGroup(ObjectNode g) {
        refreshForWrite();
        checkGroup(g);
        write("put", GROUP, g.path("id").asText(), g);
    }

    /** Deletes a user and its memberships; the user as it was, or null. */
    public synchronized ObjectNode deleteUser(String id) {
        refreshForWrite();
        ObjectNode u = users.get(id);
        if (u == null) return null;
        for (ObjectNode g : new ArrayList<>(groups.values())) {
            ObjectNode changed = g.deepCopy();
            var members = changed.withArray("members");
            boolean removed = false;
            for (int i = members.size() - 1; i >= 0; i--) {
                if (id.equals(members.get(i).path("value").asText())) {
                    members.remove(i);
                    removed = true;
                }
            }
            if (removed) write("put", GROUP, changed.path("id").asText(), changed);
        }
        write("delete", USER, id, null);
        return u;
    }

    public synchronized ObjectNode deleteGroup(String id) {
        refreshForWrite();
        ObjectNode g = groups.get(id);
        if (g == null) return null;
        write("delete", GROUP, id, null);
        return g;
    }

    /** The service account named {@code name} (any case), or null. */
    public synchronized ObjectNode serviceAccount(String name) {
        refresh();
        ObjectNode a = serviceAccounts.get(Names.fold(name));
        return a == null ? null : a.deepCopy();
    }

    public synchronized List<ObjectNode> serviceAccounts() {
        refresh();
        List<ObjectNode> out = new ArrayList<>(serviceAccounts.size());
        serviceAccounts.values().forEach(a -> out.add(a.deepCopy()));
        return out;
    }

    /** Stores a service account (its {@code name} lower case), durably; IllegalStateException when there are too many. */
    public synchronized void putServiceAccount(ObjectNode a) {
        refreshForWrite();
        String name = Names.fold(a.path("name").asText());
        a = a.deepCopy().put("name", name).put("id", name);
        if (!serviceAccounts.containsKey(name) && serviceAccounts.size() >= MAX_SERVICE_ACCOUNTS) {
            throw new IllegalStateException("the directory holds " + MAX_SERVICE_ACCOUNTS + " service accounts, its most");
        }
        write("put", SERVICE_ACCOUNT, name, a);
    }

    /** Deletes a service account; it as it was, or null. */
    public synchronized ObjectNode deleteServiceAccount(String name) {
        refreshForWrite();
        String id = Names.fold(name);
        ObjectNode a = serviceAccounts.get(id);
        if (a == null) return null;
        write("delete", SERVICE_ACCOUNT, id, null);
        return a;
    }

    /** The groups a user is a member of, by displayName. */
    public synchronized List<String> groupsOf(String userId) {
        refresh();
        List<String> out = new ArrayList<>();
        for (ObjectNode g : groups.values()) {
            for (JsonNode m : g.path("members")) if (userId.equals(m.path("value").asText())) out.add(g.path("displayName").asText());
        }
        return out;
    }

    private ObjectNode userNamedExcept(String userName, String id) {
        for (ObjectNode u : users.values()) {
            if (!u.path("id").asText().equals(id) && Names.same(u.path("userName").asText(), userName)) return u;
        }
        return null;
    }

    @Override
    public synchronized void close() {
        store.close();
    }
}
