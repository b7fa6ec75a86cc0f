package keyguard.keys;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Collection;
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
    private final ChronicleMap<CharSequence, CharSequence> map;
    private final Map<String, KeyRecord> byId = new ConcurrentHashMap<>();

    private ChronicleKeyStore(ChronicleMap<CharSequence, CharSequence> map) {
        this.map = map;
        map.forEach((id, json) -> byId.put(id.toString(), KeyRecordJson.parse(json.toString())));
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
        map.put(record.id(), KeyRecordJson.stored(record));
        byId.put(record.id(), record);
    }

    @Override
    public void close() {
        map.close();
    }
}
