package keyguard.fleet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import keyguard.audit.AuditLog;
import keyguard.audit.SpendIndex;
import net.openhft.chronicle.queue.ChronicleQueue;
import net.openhft.chronicle.queue.ExcerptTailer;

/**
 * Spend and requests of the whole fleet, per UTC day and key, policy, model and tag set,
 * in Redis ({@code kg:spend:<day>:cost} and {@code :n}, one field per group).
 *
 * <p>Each node feeds them from its own audit log, exactly once: Redis keeps, per node, the
 * audit-log position up to which its events are counted ({@code kg:spend:applied}, by the
 * identity of the node's data directory, so renaming a node sends nothing twice); the
 * node reads its events from there, sums them, and sends the sums with the span they cover.
 * A batch applies only if Redis is exactly where the batch starts — a retried batch, or
 * one sent again after Redis lost writes, cannot count twice — and the node otherwise
 * restarts from where Redis is. A node that was down sends its events when it is back.
 */
public final class FleetSpend implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("keyguard.fleet");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final FleetRedis.Script SPEND = FleetRedis.Script.load("spend");
    private static final int MAX_EVENTS = 5_000;

    private final FleetRedis redis;
    /** The data directory's identity: a renamed node goes on where it was, a copied directory cannot run twice (claimed). */
    private final String source;
    private final ChronicleQueue queue;
    private final long intervalMillis;
    private final Thread feeder;
    private volatile boolean closed;
    /** The next audit index to count, as Redis last confirmed it; -1: from the start. */
    private long position = Long.MIN_VALUE;

    FleetSpend(FleetRedis redis, String source, ChronicleQueue queue, long intervalMillis) {
        this.redis = redis;
        this.source = source;
        this.queue = queue;
        this.intervalMillis = intervalMillis;
        this.feeder = Thread.ofPlatform().daemon().name("keyguard-fleet-spend").start(this::loop);
    }

    private void loop() {
        try (ExcerptTailer t = queue.createTailer()) {
            tailer = t;
            while (!closed) {
                try {
                    Thread.sleep(intervalMillis);
                } catch (InterruptedException e) {
                    break;
                }
                drain();
            }
            Thread.interrupted(); // the stop's interrupt must not fail the last round trips
            drain(); // the last events, as the node stops
        }
    }

    private void drain() {
        try {
            while (feed() == MAX_EVENTS) { /* a backlog: keep going */ }
        } catch (FleetRedis.Unavailable e) {
            position = Long.MIN_VALUE; // ask Redis where it is once it is back
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "feeding fleet spend failed", e);
            position = Long.MIN_VALUE;
        }
    }

    /** The feeder's own tailer (Chronicle tailers belong to one thread). */
    private ExcerptTailer tailer;

    /** Puts the tailer at audit index {@code index} (-1: the start), reading forward when the index is not an excerpt. */
    private void reposition(long index) {
        ExcerptTailer t = tailer;
        if (index < 0) {
            t.toStart();
        } else if (!t.moveToIndex(index)) {
            // The index is where the next event will go (no excerpt yet): stand on the one
            // before and step over it; else (a day file's first index) read up to it.
            if (!(t.moveToIndex(index - 1) && AuditLog.readEvent(t) != null && t.index() == index)) {
                t.toStart();
                while (t.index() < index && AuditLog.readEvent(t) != null) { /* skip */ }
            }
        }
        position = index;
    }

    /** Counts the events after the confirmed position into one batch; returns how many were read. */
    int feed() throws FleetRedis.Unavailable {
        if (position == Long.MIN_VALUE) {
            String seen = redis.await(redis.async().hget("kg:spend:applied", source), "HGET spend position");
            reposition(seen == null ? -1 : Long.parseLong(seen));
        }
        Map<SpendIndex.Cell, long[]> sums = new LinkedHashMap<>();
        int read = 0;
        String line;
        while (read < MAX_EVENTS && (line = AuditLog.readEvent(tailer)) != null) {
            read++;
            add(sums, line);
        }
        if (read == 0) return 0;
        long next = tailer.index();
        List<String> args = new ArrayList<>();
        args.add(source);
        args.add(Long.toString(position));
        args.add(Long.toString(next));
        args.add(Integer.toString(sums.size()));
        for (Map.Entry<SpendIndex.Cell, long[]> e : sums.entrySet()) {
            args.add(e.getKey().day());
            args.add(field(e.getKey()));
            args.add(Long.toString(e.getValue()[0]));
            args.add(Long.toString(e.getValue()[1]));
        }
        List<Object> r;
        try {
            r = redis.script(SPEND, new String[0], args.toArray(String[]::new));
        } catch (FleetRedis.Unavailable e) {
            reposition(position); // not sent: read these events again next time
            throw e;
        }
        if (((Number) r.get(0)).longValue() == 1) {
            position = next;
            return read;
        }
        reposition(Long.parseLong(String.valueOf(r.get(1)))); // Redis is elsewhere: start from there
        return MAX_EVENTS; // and go again at once
    }

    private static void add(Map<SpendIndex.Cell, long[]> sums, String line) {
        SpendIndex.Cell c;
        JsonNode e;
        try {
            e = JSON.readTree(line);
            c = SpendIndex.Cell.of(e);
        } catch (java.io.IOException bad) {
            return;
        }
        if (c == null) return;
        long[] s = sums.computeIfAbsent(c, k -> new long[2]);
        s[0] += e.path("cost_micros").asLong();
        s[1]++;
    }

    /** The hash field of a cell in its day's hashes: a JSON array, whatever characters a model name has. */
    private static String field(SpendIndex.Cell c) {
        var f = JSON.createArrayNode().add(c.key()).add(c.policy()).add(c.model()).add(c.tags()).add(c.owner());
        if (!c.team().isEmpty() || !c.org().isEmpty() || !c.rootKey().equals(c.key())) {
            f.add(c.team()).add(c.org()).add(c.rootKey()); // the field of an earlier version otherwise
        }
        return f.toString();
    }

    /** Sums over UTC days {@code from..to}, grouped as {@link SpendIndex#query} groups them, for the whole fleet. */
    public List<SpendIndex.Row> query(List<String> groupBy, LocalDate from, LocalDate to) throws FleetRedis.Unavailable {
        Map<SpendIndex.Cell, long[]> cells = new java.util.HashMap<>();
        for (LocalDate d = from; !d.isAfter(to); d = d.plusDays(1)) {
            String day = d.toString();
            Map<String, String> cost = redis.await(redis.async().hgetall("kg:spend:" + day + ":cost"), "HGETALL spend");
            if (cost.isEmpty()) continue;
            Map<String, String> n = redis.await(redis.async().hgetall("kg:spend:" + day + ":n"), "HGETALL spend");
            for (Map.Entry<String, String> e : cost.entrySet()) {
                JsonNode f;
                try {
                    f = JSON.readTree(e.getKey());
                } catch (java.io.IOException bad) {
                    continue; // not a field this version writes
                }
                // 4: written before owners were kept, 5: before teams and sub-keys (7: teams, before sub-keys)
                if (f.size() != 4 && f.size() != 5 && f.size() != 7 && f.size() != 8) continue;
                cells.put(new SpendIndex.Cell(day, f.get(0).asText(), f.get(1).asText(), f.get(2).asText(), f.get(3).asText(),
                                f.size() >= 5 ? f.get(4).asText() : "", f.size() >= 7 ? f.get(5).asText() : "", f.size() >= 7 ? f.get(6).asText() : "",
                                f.size() == 8 ? f.get(7).asText() : f.get(0).asText()),
                        new long[] {Long.parseLong(e.getValue()), Long.parseLong(n.getOrDefault(e.getKey(), "0"))});
            }
        }
        return SpendIndex.group(cells, groupBy);
    }

    @Override
    public void close() {
        closed = true;
        Background.stop(feeder, 5000);
    }
}
