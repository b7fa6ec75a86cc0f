package keyguard.keys;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import net.openhft.chronicle.map.ChronicleMap;

/**
 * Keys persisted in one Chronicle Map file ({@code keys.dat} in the data directory), key id
 * to a JSON record, mirrored in an on-heap map that serves every lookup. The file is the
 * truth across restarts (and a kill -9: Chronicle Map writes go to a memory-mapped file the
 * OS flushes); the heap copy is rebuilt from it at open. Writes go to the file first.
 *
 * <p>One process owns the file. Sharing keys between gateways goes through the admin API
 * (control-plane issue), not through this file.
 */
public final class ChronicleKeyStore implements KeyStore {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ChronicleMap<CharSequence, CharSequence> map;
    private final Map<String, KeyRecord> byId = new ConcurrentHashMap<>();

    private ChronicleKeyStore(ChronicleMap<CharSequence, CharSequence> map) {
        this.map = map;
        map.forEach((id, json) -> byId.put(id.toString(), decode(json.toString())));
    }

    public static ChronicleKeyStore open(Path file, long maxKeys) {
        try {
            ChronicleMap<CharSequence, CharSequence> map = ChronicleMap.of(CharSequence.class, CharSequence.class)
                    .name("keyguard-keys")
                    .entries(maxKeys)
                    .averageKey("abcdefghijkl")
                    .averageValueSize(420)
                    .createPersistedTo(file.toFile());
            try {
                java.nio.file.Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX file system
            }
            return new ChronicleKeyStore(map);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the key store " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public KeyRecord get(String id) {
        return byId.get(id);
    }

    @Override
    public Collection<KeyRecord> all() {
        return List.copyOf(byId.values());
    }

    @Override
    public synchronized void put(KeyRecord record) {
        map.put(record.id(), encode(record));
        byId.put(record.id(), record);
    }

    @Override
    public void close() {
        map.close();
    }

    static String encode(KeyRecord r) {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", r.id());
        o.put("name", r.name());
        o.put("owner", r.owner());
        o.put("policy", r.policy());
        ObjectNode labels = o.putObject("labels");
        r.labels().forEach(labels::put);
        o.put("created_at", r.createdAt().toString());
        if (r.expiresAt() != null) o.put("expires_at", r.expiresAt().toString());
        o.put("state", r.state().name());
        o.put("secret_hash", r.secretHash());
        return o.toString();
    }

    static KeyRecord decode(String json) {
        try {
            JsonNode o = JSON.readTree(json);
            Map<String, String> labels = new LinkedHashMap<>();
            o.path("labels").properties().forEach(e -> labels.put(e.getKey(), e.getValue().asText()));
            return new KeyRecord(o.get("id").asText(), o.get("name").asText(), o.path("owner").asText(""), o.get("policy").asText(),
                    Map.copyOf(labels), Instant.parse(o.get("created_at").asText()),
                    o.hasNonNull("expires_at") ? Instant.parse(o.get("expires_at").asText()) : null,
                    KeyState.valueOf(o.get("state").asText()), o.get("secret_hash").asText());
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt key record: " + e.getMessage(), e);
        }
    }
}
