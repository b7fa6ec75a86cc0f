package keyguard.fleet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.lettuce.core.Limit;
import io.lettuce.core.MapScanCursor;
import io.lettuce.core.Range;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XReadArgs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import keyguard.identity.DirectoryStore;

/**
 * The fleet's directory (SCIM users and groups, service accounts) in Redis, so that an
 * identity provider's calls may land on any node: {@code kg:dir} holds every resource
 * ({@code kind:id} to JSON) and {@code kg:dir:log} (a stream) every change, numbered
 * ({@code kg:dir:seq}).
 *
 * <p>Invariants: a write is one script (the resource and its log entry together). A pull
 * reads the log from where this node stopped, without blocking (the directory asks before
 * each read and write, so a change made through one node is seen by the next call on
 * any); the first pull, and any after a gap in the numbers (a log trimmed past this node's
 * position, a Redis that lost writes), reads everything: the log's position first, then
 * the hash, so a change made in between is replayed, not lost.
 */
final class FleetDirectoryStore implements DirectoryStore {
    static final String HASH = "kg:dir";
    static final String LOG_STREAM = "kg:dir:log";
    static final String SEQ = "kg:dir:seq";
    /** Changes the log keeps (about): a node further behind reads everything again. */
    static final int LOG_LENGTH = 10_000;
    private static final int BATCH = 1000;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final FleetRedis.Script PUT = FleetRedis.Script.load("dir_put");

    private final FleetRedis redis;
    /** The log position this node has applied; null before the first pull (or after a gap). */
    private String applied;
    private long lastSeq;

    FleetDirectoryStore(FleetRedis redis) {
        this.redis = redis;
    }

    @Override
    public synchronized Pull pull() {
        try {
            if (applied == null) return snapshot();
            List<Change> out = new ArrayList<>();
            while (true) {
                List<StreamMessage<String, String>> page = redis.await(redis.async().xread(XReadArgs.Builder.count(BATCH),
                        XReadArgs.StreamOffset.from(LOG_STREAM, applied)), "XREAD");
                for (StreamMessage<String, String> m : page) {
                    long seq = sequence(m);
                    if (lastSeq != 0 && seq != lastSeq + 1) { // trimmed past us, or Redis lost writes: start over
                        applied = null;
                        return snapshot();
                    }
                    Map<String, String> b = m.getBody();
                    String op = b.getOrDefault("op", "");
                    out.add(new Change(op, b.getOrDefault("kind", ""), b.getOrDefault("id", ""), op.equals("delete") ? null : parse(b.getOrDefault("json", "{}"))));
                    applied = m.getId();
                    lastSeq = seq;
                }
                if (page.size() < BATCH) return new Pull(false, out);
            }
        } catch (FleetRedis.Unavailable e) {
            throw new UncheckedIOException(new IOException("the fleet's directory (Redis) cannot be read: " + e.getMessage(), e));
        }
    }

    private Pull snapshot() throws FleetRedis.Unavailable {
        List<StreamMessage<String, String>> last = redis.await(redis.async().xrevrange(LOG_STREAM, Range.create("-", "+"), Limit.from(1)), "XREVRANGE");
        String position = last.isEmpty() ? "0-0" : last.getFirst().getId();
        long seq = last.isEmpty() ? 0 : sequence(last.getFirst());
        List<Change> all = new ArrayList<>();
        ScanCursor cursor = ScanCursor.INITIAL;
        do {
            MapScanCursor<String, String> page = redis.await(redis.async().hscan(HASH, cursor, ScanArgs.Builder.limit(1000)), "HSCAN");
            for (Map.Entry<String, String> e : page.getMap().entrySet()) {
                int colon = e.getKey().indexOf(':');
                if (colon < 0) continue;
                all.add(new Change("put", e.getKey().substring(0, colon), e.getKey().substring(colon + 1), parse(e.getValue())));
            }
            cursor = page;
        } while (!cursor.isFinished());
        applied = position;
        lastSeq = seq;
        return new Pull(true, all);
    }

    private static ObjectNode parse(String json) {
        try {
            JsonNode n = JSON.readTree(json);
            if (n instanceof ObjectNode o) return o;
        } catch (IOException e) {
            // below
        }
        throw new IllegalStateException("the fleet's directory holds an entry that is not a JSON object");
    }

    private static long sequence(StreamMessage<String, String> m) {
        try {
            return Long.parseLong(m.getBody().getOrDefault("seq", "0"));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    @Override
    public void write(Change c) {
        write(c, null);
    }

    @Override
    public synchronized void write(Change c, ObjectNode expected) {
        try {
            List<Object> r = redis.script(PUT, new String[] {HASH, LOG_STREAM, SEQ}, c.kind() + ":" + c.id(), c.resource() == null ? "" : c.resource().toString(),
                    Integer.toString(LOG_LENGTH), c.op(), c.kind(), c.id(), expected == null ? "" : expected.toString());
            long seq = ((Number) r.get(0)).longValue();
            if (seq == 0) throw new Conflict(c.kind() + " " + c.id() + " was changed through another node meanwhile");
            // This node's own change: taken as applied when it directly follows what this node had (else the next pull finds it).
            if (applied != null && seq == lastSeq + 1) {
                applied = String.valueOf(r.get(1));
                lastSeq = seq;
            }
        } catch (FleetRedis.Unavailable e) {
            throw new UncheckedIOException(new IOException("the fleet's directory (Redis) cannot be written: " + e.getMessage(), e));
        }
    }

    @Override
    public String describe() {
        return "Redis " + redis.describe() + " (" + HASH + ")";
    }

    @Override
    public void close() {
        // the connection is the fleet's
    }
}
