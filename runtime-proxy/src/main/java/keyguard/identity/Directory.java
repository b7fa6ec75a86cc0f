package keyguard.identity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The users and groups an identity provider pushes over SCIM (RFC 7643), as the SCIM
 * resources it sent, with the ids and {@code meta} this gateway gave them; and the service
 * accounts admins create (an identity owned by a group, bound to one policy, whose keys
 * outlive the people who made them).
 *
 * <p>Invariants: a {@code userName} names one user and a group's {@code displayName} one
 * group, compared without case (both are case-insensitive in SCIM); ids are assigned here
 * and never change; every change is appended to a journal and forced to the disk before
 * it is answered, and the journal is compacted to one line per resource at open; at most
 * {@link #MAX_USERS} users, {@link #MAX_GROUPS} groups and {@link #MAX_MEMBERS} members per
 * group; a service account's name (lower case) names one account, at most
 * {@link #MAX_SERVICE_ACCOUNTS}. All methods are synchronized: SCIM traffic is provisioning, not the request path.
 */
public final class Directory implements AutoCloseable {
    public static final int MAX_USERS = 200_000;
    public static final int MAX_GROUPS = 20_000;
    public static final int MAX_MEMBERS = 50_000;
    public static final int MAX_SERVICE_ACCOUNTS = 10_000;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final Map<String, ObjectNode> users = new LinkedHashMap<>();
    private final Map<String, ObjectNode> groups = new LinkedHashMap<>();
    /** By name; the resource's {@code id} is its name. */
    private final Map<String, ObjectNode> serviceAccounts = new LinkedHashMap<>();
    private FileChannel journal;

    private Directory(Path file) {
        this.file = file;
    }

    /** Opens (and compacts) the journal at {@code file}, creating it when absent. */
    public static Directory open(Path file) {
        Directory d = new Directory(file);
        try {
            if (Files.exists(file)) {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) continue;
                    JsonNode e;
                    try {
                        e = JSON.readTree(line);
                    } catch (IOException torn) {
                        continue; // a line torn by a crash mid-append: its change was never answered
                    }
                    Map<String, ObjectNode> into = switch (e.path("kind").asText()) {
                        case "group" -> d.groups;
                        case SERVICE_ACCOUNT -> d.serviceAccounts;
                        default -> d.users;
                    };
                    if ("delete".equals(e.path("op").asText())) into.remove(e.path("id").asText());
                    else if (e.get("resource") instanceof ObjectNode r) into.put(r.path("id").asText(), r);
                }
            }
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                for (ObjectNode u : d.users.values()) ch.write(line("put", "user", u));
                for (ObjectNode g : d.groups.values()) ch.write(line("put", "group", g));
                for (ObjectNode a : d.serviceAccounts.values()) ch.write(line("put", SERVICE_ACCOUNT, a));
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            d.journal = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the SCIM directory " + file + ": " + e.getMessage(), e);
        }
    }

    private static final String SERVICE_ACCOUNT = "service_account";

    private static ByteBuffer line(String op, String kind, ObjectNode resource) {
        ObjectNode e = JSON.createObjectNode().put("op", op).put("kind", kind);
        e.set("resource", resource);
        return ByteBuffer.wrap((e.toString() + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private void append(ByteBuffer b) {
        try {
            while (b.hasRemaining()) journal.write(b);
            journal.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the SCIM directory " + file + ": " + e.getMessage(), e);
        }
    }

    public synchronized ObjectNode user(String id) {
        ObjectNode u = users.get(id);
        return u == null ? null : u.deepCopy();
    }

    public synchronized ObjectNode group(String id) {
        ObjectNode g = groups.get(id);
        return g == null ? null : g.deepCopy();
    }

    /** The user with this {@code userName} (any case), or null. */
    public synchronized ObjectNode userNamed(String userName) {
        for (ObjectNode u : users.values()) if (u.path("userName").asText().equalsIgnoreCase(userName)) return u.deepCopy();
        return null;
    }

    /** The group with this {@code displayName} (any case), or null. */
    public synchronized ObjectNode groupNamed(String displayName) {
        for (ObjectNode g : groups.values()) if (g.path("displayName").asText().equalsIgnoreCase(displayName)) return g.deepCopy();
        return null;
    }

    public synchronized List<ObjectNode> users() {
        List<ObjectNode> out = new ArrayList<>(users.size());
        users.values().forEach(u -> out.add(u.deepCopy()));
        return out;
    }

    public synchronized List<ObjectNode> groups() {
        List<ObjectNode> out = new ArrayList<>(groups.size());
        groups.values().forEach(g -> out.add(g.deepCopy()));
        return out;
    }

    /** Stores a user (new or changed), durably; IllegalStateException when the directory is full, IllegalArgumentException for a taken userName. */
    public synchronized void putUser(ObjectNode u) {
        String id = u.path("id").asText();
        ObjectNode other = userNamedExcept(u.path("userName").asText(), id);
        if (other != null) throw new IllegalArgumentException("userName `" + u.path("userName").asText() + "` is taken");
        if (!users.containsKey(id) && users.size() >= MAX_USERS) throw new IllegalStateException("the directory holds " + MAX_USERS + " users, its most");
        append(line("put", "user", u));
        users.put(id, u.deepCopy());
    }

    public synchronized void putGroup(ObjectNode g) {
        String id = g.path("id").asText();
        for (ObjectNode o : groups.values()) {
            if (!o.path("id").asText().equals(id) && o.path("displayName").asText().equalsIgnoreCase(g.path("displayName").asText())) {
                throw new IllegalArgumentException("displayName `" + g.path("displayName").asText() + "` is taken");
            }
        }
        if (!groups.containsKey(id) && groups.size() >= MAX_GROUPS) throw new IllegalStateException("the directory holds " + MAX_GROUPS + " groups, its most");
        if (g.path("members").size() > MAX_MEMBERS) throw new IllegalStateException("a group holds at most " + MAX_MEMBERS + " members");
        append(line("put", "group", g));
        groups.put(id, g.deepCopy());
    }

    /** Deletes a user and its memberships; the user as it was, or null. */
    public synchronized ObjectNode deleteUser(String id) {
        ObjectNode u = users.get(id);
        if (u == null) return null;
        for (ObjectNode g : new ArrayList<>(groups.values())) {
            var members = g.withArray("members");
            boolean changed = false;
            for (int i = members.size() - 1; i >= 0; i--) {
                if (id.equals(members.get(i).path("value").asText())) {
                    members.remove(i);
                    changed = true;
                }
            }
            if (changed) append(line("put", "group", g));
        }
        appendDelete("user", id);
        users.remove(id);
        return u;
    }

    public synchronized ObjectNode deleteGroup(String id) {
        ObjectNode g = groups.get(id);
        if (g == null) return null;
        appendDelete("group", id);
        groups.remove(id);
        return g;
    }

    private void appendDelete(String kind, String id) {
        ObjectNode gone = JSON.createObjectNode().put("op", "delete").put("kind", kind).put("id", id);
        append(ByteBuffer.wrap((gone + "\n").getBytes(StandardCharsets.UTF_8)));
    }

    /** The service account named {@code name} (any case), or null. */
    public synchronized ObjectNode serviceAccount(String name) {
        ObjectNode a = serviceAccounts.get(name.toLowerCase(Locale.ROOT));
        return a == null ? null : a.deepCopy();
    }

    public synchronized List<ObjectNode> serviceAccounts() {
        List<ObjectNode> out = new ArrayList<>(serviceAccounts.size());
        serviceAccounts.values().forEach(a -> out.add(a.deepCopy()));
        return out;
    }

    /** Stores a service account (its {@code name} lower case), durably; IllegalStateException when there are too many. */
    public synchronized void putServiceAccount(ObjectNode a) {
        String name = a.path("name").asText().toLowerCase(Locale.ROOT);
        a = a.deepCopy().put("name", name).put("id", name);
        if (!serviceAccounts.containsKey(name) && serviceAccounts.size() >= MAX_SERVICE_ACCOUNTS) {
            throw new IllegalStateException("the directory holds " + MAX_SERVICE_ACCOUNTS + " service accounts, its most");
        }
        append(line("put", SERVICE_ACCOUNT, a));
        serviceAccounts.put(name, a);
    }

    /** Deletes a service account; it as it was, or null. */
    public synchronized ObjectNode deleteServiceAccount(String name) {
        String id = name.toLowerCase(Locale.ROOT);
        ObjectNode a = serviceAccounts.get(id);
        if (a == null) return null;
        appendDelete(SERVICE_ACCOUNT, id);
        serviceAccounts.remove(id);
        return a;
    }

    /** The groups a user is a member of, by displayName. */
    public synchronized List<String> groupsOf(String userId) {
        List<String> out = new ArrayList<>();
        for (ObjectNode g : groups.values()) {
            for (JsonNode m : g.path("members")) if (userId.equals(m.path("value").asText())) out.add(g.path("displayName").asText());
        }
        return out;
    }

    private ObjectNode userNamedExcept(String userName, String id) {
        for (ObjectNode u : users.values()) {
            if (!u.path("id").asText().equals(id) && u.path("userName").asText().toLowerCase(Locale.ROOT).equals(userName.toLowerCase(Locale.ROOT))) return u;
        }
        return null;
    }

    @Override
    public synchronized void close() {
        try {
            if (journal != null) journal.close();
        } catch (IOException ignored) {
            // closing: nothing is lost, every change was forced when made
        }
    }
}
