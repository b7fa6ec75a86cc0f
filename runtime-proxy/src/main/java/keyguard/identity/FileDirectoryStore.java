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
import java.util.Map;

/**
 * A single gateway's directory: a journal of changes in the data directory, one JSON line
 * each, forced to the disk before a change is answered, compacted to one line per resource
 * at open. The first pull is everything; this gateway being the only writer, later pulls
 * are empty.
 */
public final class FileDirectoryStore implements DirectoryStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private final FileChannel journal;
    private List<Change> opened;

    private FileDirectoryStore(Path file, List<Change> opened, FileChannel journal) {
        this.file = file;
        this.opened = opened;
        this.journal = journal;
    }

    /** Opens (and compacts) the journal at {@code file}, creating it when absent. */
    public static FileDirectoryStore open(Path file) {
        try {
            Map<String, Change> current = new LinkedHashMap<>();
            if (Files.exists(file)) {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) continue;
                    JsonNode e;
                    try {
                        e = JSON.readTree(line);
                    } catch (IOException torn) {
                        continue; // a line torn by a crash mid-append: its change was never answered
                    }
                    String kind = e.path("kind").asText();
                    if ("delete".equals(e.path("op").asText())) {
                        current.remove(kind + ":" + e.path("id").asText());
                    } else if (e.get("resource") instanceof ObjectNode r) {
                        current.put(kind + ":" + r.path("id").asText(), new Change("put", kind, r.path("id").asText(), r));
                    }
                }
            }
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                for (Change c : current.values()) write(ch, c);
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return new FileDirectoryStore(file, new ArrayList<>(current.values()), FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the SCIM directory " + file + ": " + e.getMessage(), e);
        }
    }

    private static void write(FileChannel ch, Change c) throws IOException {
        ObjectNode e = JSON.createObjectNode().put("op", c.op()).put("kind", c.kind()).put("id", c.id());
        if (c.resource() != null) e.set("resource", c.resource());
        ByteBuffer b = ByteBuffer.wrap((e + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) ch.write(b);
    }

    @Override
    public synchronized Pull pull() {
        if (opened == null) return new Pull(false, List.of());
        Pull p = new Pull(true, opened);
        opened = null;
        return p;
    }

    @Override
    public synchronized void write(Change change) {
        try {
            write(journal, change);
            journal.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the SCIM directory " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String describe() {
        return file.toString();
    }

    @Override
    public synchronized void close() {
        try {
            journal.close();
        } catch (IOException ignored) {
            // closing: nothing is lost, every change was forced when made
        }
    }
}
