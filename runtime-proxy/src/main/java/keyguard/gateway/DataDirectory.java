package keyguard.gateway;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import keyguard.admin.AdminApi;
import keyguard.keys.KeySecrets;

/**
 * The gateway's local state: {@code keys.dat} (the key store), {@code server.secret} (the
 * HMAC key for virtual-key hashes), {@code admin.token} (the bootstrap admin token,
 * unless {@code KEYGUARD_ADMIN_TOKEN} is set), the counters ({@code counters.dat},
 * {@code counter-ids.dat}, {@code leases.dat}) and the audit log ({@code audit/}). Created on first start; the directory is
 * mode 0700 and the secret files 0600.
 */
public final class DataDirectory {
    public static final String ADMIN_TOKEN_FILE = "admin.token";

    private final Path root;

    private DataDirectory(Path root) { this.root = root; }

    public static DataDirectory open(Path root) {
        try {
            Files.createDirectories(root);
            try {
                Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx------"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX file system: permissions are the operator's job
            }
            return new DataDirectory(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the data directory " + root + ": " + e.getMessage(), e);
        }
    }

    public Path root() { return root; }

    public Path keysFile() { return root.resolve("keys.dat"); }

    public Path adminTokenFile() { return root.resolve(ADMIN_TOKEN_FILE); }

    /**
     * The HMAC key of virtual-key hashes: the given one ({@code KEYGUARD_SERVER_SECRET}, the
     * same on every node of a fleet), or the file's, created on first start. A file that exists but does
     * not hold 32 bytes in hex is an error, never silently replaced: every key's hash depends
     * on it.
     */
    public byte[] serverSecret(String fromEnvironment) {
        if (fromEnvironment != null) {
            try {
                byte[] secret = HexFormat.of().parseHex(fromEnvironment.strip());
                if (secret.length >= 32) return secret;
            } catch (IllegalArgumentException e) {
                // reported below
            }
            throw new IllegalStateException("KEYGUARD_SERVER_SECRET is set but does not hold a server secret (at least 64 hex digits)");
        }
        Path file = root.resolve("server.secret");
        String hex = readOrCreate(file, () -> HexFormat.of().formatHex(KeySecrets.newServerSecret()));
        try {
            byte[] secret = HexFormat.of().parseHex(hex);
            if (secret.length >= 32) return secret;
        } catch (IllegalArgumentException e) {
            // reported below
        }
        throw new IllegalStateException(file + " does not hold a server secret (64 hex digits); it was truncated or edited."
                + " Restore it from a backup: every key's hash depends on it (deleting it invalidates every key)");
    }

    /**
     * This data directory's identity in a fleet ({@code fleet.id}, created on first use): the
     * fleet counts a node's audit log by it, so a renamed node goes on where it was, and no two
     * running nodes may share it (a copied directory is refused).
     */
    public String fleetId() {
        Path file = root.resolve("fleet.id");
        String id = readOrCreate(file, () -> HexFormat.of().formatHex(KeySecrets.newServerSecret(), 0, 16));
        if (!id.matches("[0-9a-f]{32}")) {
            throw new IllegalStateException(file + " does not hold 32 hex digits; restore it from a backup (the fleet counts this node's"
                    + " audit log under it: a new one would count the log again)");
        }
        return id;
    }

    /**
     * The bootstrap admin token: the given one (from {@code KEYGUARD_ADMIN_TOKEN}), or the
     * token file's, created on first start. Either must hold at least
     * {@value AdminApi#MIN_TOKEN_CHARS} characters, or the gateway refuses to start: an empty
     * token file (an {@code echo "$T" >} with {@code T} unset, a crash before the write reached
     * the disk) must never mean "no token".
     */
    public String adminToken(String fromEnvironment) {
        if (fromEnvironment != null) {
            String t = fromEnvironment.strip();
            if (t.length() < AdminApi.MIN_TOKEN_CHARS) {
                throw new IllegalStateException("KEYGUARD_ADMIN_TOKEN is set but " + (t.isEmpty() ? "empty" : "only " + t.length()
                        + " characters long") + "; an admin token needs at least " + AdminApi.MIN_TOKEN_CHARS
                        + " characters (unset it to use the generated " + adminTokenFile() + ")");
            }
            return t;
        }
        String t = readOrCreate(adminTokenFile(), () -> "kga-" + HexFormat.of().formatHex(KeySecrets.newServerSecret()));
        if (t.length() < AdminApi.MIN_TOKEN_CHARS) {
            throw new IllegalStateException(adminTokenFile() + " holds " + (t.isEmpty() ? "no token (it is empty)" : "a token of only "
                    + t.length() + " characters") + "; delete the file to have a new token generated at start, or write one of at least "
                    + AdminApi.MIN_TOKEN_CHARS + " characters");
        }
        return t;
    }

    /**
     * The token that opens {@code GET /metrics} (when the configuration asks for one): the
     * given one ({@code KEYGUARD_METRICS_TOKEN}), or {@code metrics.token}, created on first
     * use. The same length rule as the admin token.
     */
    public String metricsToken(String fromEnvironment) {
        Path file = root.resolve("metrics.token");
        String t = fromEnvironment != null ? fromEnvironment.strip()
                : readOrCreate(file, () -> "kgm-" + HexFormat.of().formatHex(KeySecrets.newServerSecret()));
        if (t.length() < AdminApi.MIN_TOKEN_CHARS) {
            throw new IllegalStateException((fromEnvironment != null ? "KEYGUARD_METRICS_TOKEN" : file.toString()) + " holds a token of "
                    + t.length() + " characters; a metrics token needs at least " + AdminApi.MIN_TOKEN_CHARS);
        }
        return t;
    }

    /**
     * The bearer token of the SCIM endpoint ({@code /scim/v2}): the given one
     * ({@code KEYGUARD_SCIM_TOKEN}), or {@code scim.token}, created at first start. The same
     * length rule as the admin token.
     */
    public String scimToken(String fromEnvironment) {
        Path file = root.resolve("scim.token");
        String t = fromEnvironment != null ? fromEnvironment.strip()
                : readOrCreate(file, () -> "kgs-" + HexFormat.of().formatHex(KeySecrets.newServerSecret()));
        if (t.length() < AdminApi.MIN_TOKEN_CHARS) {
            throw new IllegalStateException((fromEnvironment != null ? "KEYGUARD_SCIM_TOKEN" : file.toString()) + " holds a token of "
                    + t.length() + " characters; a SCIM token needs at least " + AdminApi.MIN_TOKEN_CHARS);
        }
        return t;
    }

    /** Where the users and groups provisioned over SCIM are kept. */
    public Path directoryFile() { return root.resolve("directory.jsonl"); }

    /**
     * The file's stripped text; when it does not exist, {@code fresh} written to a temporary
     * file (mode 0600), forced to the disk, renamed into place and the directory forced too,
     * so that a crash leaves either no file or the whole value, never an empty one.
     */
    private static String readOrCreate(Path file, java.util.function.Supplier<String> fresh) {
        try {
            if (Files.exists(file)) return Files.readString(file, StandardCharsets.UTF_8).strip();
            String value = fresh.get();
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.deleteIfExists(tmp);
            try {
                Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException e) {
                Files.createFile(tmp);
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap((value + "\n").getBytes(StandardCharsets.UTF_8)));
                ch.force(true);
            }
            try {
                Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException raced) {
                Files.deleteIfExists(tmp);
            }
            forceDirectory(file.getParent());
            return Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create " + file + ": " + e.getMessage(), e);
        }
    }

    /** Deletes a folder of the data directory and everything in it (the fleet's slice rows at start). */
    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }

    /** Makes a rename in {@code dir} durable (Linux: fsync of the directory). */
    private static void forceDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not supported on this platform (Windows): the rename is as durable as it gets
        }
    }
}
