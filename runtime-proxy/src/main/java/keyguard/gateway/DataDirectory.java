package keyguard.gateway;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
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

    public byte[] serverSecret() {
        return HexFormat.of().parseHex(readOrCreate(root.resolve("server.secret"), () -> HexFormat.of().formatHex(KeySecrets.newServerSecret())));
    }

    /** The bootstrap admin token: the given one, or the token file's (created on first start). */
    public String adminToken(String fromEnvironment) {
        if (fromEnvironment != null && !fromEnvironment.isBlank()) return fromEnvironment.strip();
        return readOrCreate(adminTokenFile(), () -> "kga-" + HexFormat.of().formatHex(KeySecrets.newServerSecret()));
    }

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
            Files.writeString(tmp, value + "\n", StandardCharsets.UTF_8);
            try {
                Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException raced) {
                Files.deleteIfExists(tmp);
            }
            return Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create " + file + ": " + e.getMessage(), e);
        }
    }
}
