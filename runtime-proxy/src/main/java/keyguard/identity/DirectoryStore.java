package keyguard.identity;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * Where the {@link Directory} keeps its users, groups and service accounts: a journal in the
 * data directory ({@link FileDirectoryStore}) for one gateway, Redis for a fleet (so that an
 * identity provider's SCIM calls may land on any node).
 */
public interface DirectoryStore extends AutoCloseable {
    /** One change: {@code op} is {@code put} (with the resource) or {@code delete}; {@code kind} is {@code user}, {@code group} or {@code service_account}. */
    record Change(String op, String kind, String id, ObjectNode resource) {}

    /** What changed since the last pull: everything there is ({@code snapshot}: replace what is held), or the changes since, in order. */
    record Pull(boolean snapshot, List<Change> changes) {}

    /** The changes since the last pull; UncheckedIOException when the store cannot be read now. */
    Pull pull();

    /** Stores a change durably, visible to every reader's next pull once this returns; UncheckedIOException when it cannot (nothing changed). */
    void write(Change change);

    /**
     * As {@link #write(Change)}, only if the resource is still {@code expected} (as this
     * writer read it); {@link Conflict} when another writer changed it first. A store with one
     * writer (a single gateway's file) has nothing to compare.
     */
    default void write(Change change, com.fasterxml.jackson.databind.node.ObjectNode expected) {
        write(change);
    }

    /** A conditional write refused: the resource changed since it was read. */
    final class Conflict extends RuntimeException {
        public Conflict(String message) {
            super(message, null, false, false);
        }
    }

    /** Where, for people and logs. */
    String describe();

    @Override
    void close();
}
