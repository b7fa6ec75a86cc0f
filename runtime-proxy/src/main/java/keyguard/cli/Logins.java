package keyguard.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Instant;

/**
 * The sign-ins {@code keyguard login} leaves on an engineer's machine, one per admin URL, in
 * {@code credentials.json} under {@code $KEYGUARD_CONFIG_DIR} (or the {@code keyguard.config.dir}
 * system property, or {@code $XDG_CONFIG_HOME/keyguard}, or {@code ~/.config/keyguard}).
 *
 * <p>Invariants: the file is readable by its owner only (0600) from the moment it exists: it
 * is written to a new file of its own beside it, forced to the disk and moved into place;
 * every read-modify-write (a sign-in saved, removed, renewed) holds a lock on
 * {@code credentials.lock}, so two commands at once neither lose a sign-in nor spend one
 * refresh token twice (which makes some providers revoke the whole family); a sign-in is
 * used while its access token has more than 30 s left, then renewed with its refresh token
 * (and written back), else the engineer is told to sign in again.
 */
final class Logins {
    static final String FILE = "credentials.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One gateway's sign-in. */
    record Login(String admin, String issuer, String tokenEndpoint, String clientId, String accessToken, String refreshToken, Instant expires, String user) {
        ObjectNode json() {
            ObjectNode o = JSON.createObjectNode().put("issuer", issuer).put("token_endpoint", tokenEndpoint).put("client_id", clientId)
                    .put("access_token", accessToken).put("expires_at", expires.toString()).put("user", user);
            if (refreshToken != null) o.put("refresh_token", refreshToken);
            return o;
        }

        static Login of(String admin, JsonNode o) {
            return new Login(admin, o.path("issuer").asText(), o.path("token_endpoint").asText(), o.path("client_id").asText(), o.path("access_token").asText(),
                    o.path("refresh_token").asText(null), Instant.parse(o.path("expires_at").asText("1970-01-01T00:00:00Z")), o.path("user").asText(""));
        }
    }

    private Logins() {}

    static Path file() {
        String dir = System.getenv("KEYGUARD_CONFIG_DIR");
        if (dir == null || dir.isBlank()) dir = System.getProperty("keyguard.config.dir");
        if (dir != null && !dir.isBlank()) return Path.of(dir, FILE);
        String xdg = System.getenv("XDG_CONFIG_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".config");
        return base.resolve("keyguard").resolve(FILE);
    }

    /** The admin URL as sign-ins are keyed: with one trailing slash. */
    static String key(String admin) {
        return admin.endsWith("/") ? admin : admin + "/";
    }

    private static ObjectNode all() throws IOException {
        Path f = file();
        if (!Files.exists(f)) return JSON.createObjectNode();
        JsonNode n = JSON.readTree(Files.readString(f));
        return n instanceof ObjectNode o ? o : JSON.createObjectNode();
    }

    static Login find(String admin) throws IOException {
        JsonNode o = all().get(key(admin));
        return o == null ? null : Login.of(key(admin), o);
    }

    /** Something done while holding the credentials' lock. */
    interface Locked<T> {
        T run() throws IOException, InterruptedException;
    }

    /** Runs {@code body} holding the lock on {@code credentials.lock} (beside the file), across processes. */
    static <T> T locked(Locked<T> body) throws IOException, InterruptedException {
        Path f = file();
        Files.createDirectories(f.getParent());
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f.resolveSibling("credentials.lock"),
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
             java.nio.channels.FileLock ignored = ch.lock()) {
            return body.run();
        }
    }

    static void save(Login login) throws IOException, InterruptedException {
        locked(() -> {
            ObjectNode all = all();
            all.set(key(login.admin()), login.json());
            write(all);
            return null;
        });
    }

    static boolean remove(String admin) throws IOException, InterruptedException {
        return locked(() -> {
            ObjectNode all = all();
            if (all.remove(key(admin)) == null) return false;
            write(all);
            return true;
        });
    }

    private static void write(ObjectNode all) throws IOException {
        Path f = file();
        Path tmp;
        try {
            tmp = Files.createTempFile(f.getParent(), "credentials", ".tmp", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException notPosix) {
            tmp = Files.createTempFile(f.getParent(), "credentials", ".tmp");
        }
        try {
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(all.toPrettyString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
                ch.force(true);
            }
            Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The access token of {@code login}, renewed first when it has 30 s or less left; IOException says to sign in again. */
    static String token(Login found, Clock clock) throws IOException, InterruptedException {
        if (clock.instant().plusSeconds(30).isBefore(found.expires())) return found.accessToken();
        return locked(() -> {
            Login login = find(found.admin()); // another command may have renewed it meanwhile
            if (login == null) throw new IOException("signed out of " + found.admin() + " meanwhile: run `keyguard login` again");
            if (clock.instant().plusSeconds(30).isBefore(login.expires())) return login.accessToken();
            if (login.refreshToken() == null) throw new IOException("the sign-in to " + login.admin() + " has expired: run `keyguard login` again");
            DeviceLogin.Tokens t;
            try {
                t = new DeviceLogin(clock).refresh(login.tokenEndpoint(), login.clientId(), login.refreshToken());
            } catch (DeviceLogin.Failed e) {
                throw new IOException(e.getMessage());
            }
            ObjectNode all = all();
            all.set(key(login.admin()), new Login(login.admin(), login.issuer(), login.tokenEndpoint(), login.clientId(), t.accessToken(), t.refreshToken(),
                    t.expires(), login.user()).json());
            write(all);
            return t.accessToken();
        });
    }
}
