package keyguard.audit;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import net.openhft.chronicle.queue.ChronicleQueue;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;

/**
 * The audit log: every decision as one JSON event in an append-only Chronicle Queue in
 * {@code data/audit}, memory-mapped, so an event that was appended survives a kill -9 of
 * the gateway. Events are handed to a writer thread (the request's thread never does file
 * work); if its queue is ever full the caller appends itself rather than drop an event.
 * Other processes ({@code keyguard audit tail}) read the same files.
 */
public final class AuditLog implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("keyguard.audit");
    private static final AuditEvent STOP = new AuditEvent("", 0, "", "", "", "", "", java.util.List.of(), "", "", "", 0, 0, 0, 0, "",
            0, 0, 0, "", "", "", java.util.Map.of(), java.util.List.of());

    private final ChronicleQueue queue;
    private record Pending(AuditEvent event, Runnable then) {}

    private final BlockingQueue<Pending> pending = new ArrayBlockingQueue<>(1 << 16);
    private final SpendIndex spend = new SpendIndex();
    private final AtomicLong written = new AtomicLong();
    private final Thread writer;
    private volatile boolean closed;
    private final ThreadLocal<ExcerptAppender> appenders;

    private AuditLog(ChronicleQueue queue) {
        this.queue = queue;
        this.appenders = ThreadLocal.withInitial(queue::createAppender);
        replay();
        writer = Thread.ofPlatform().daemon().name("keyguard-audit").start(this::drain);
    }

    public static AuditLog open(Path dir) {
        return new AuditLog(SingleChronicleQueueBuilder.single(dir.toFile()).build());
    }

    /** Opens a log to read only (the CLI), without a writer thread. */
    public static ChronicleQueue openForReading(Path dir) {
        return SingleChronicleQueueBuilder.single(dir.toFile()).readOnly(true).build();
    }

    public SpendIndex spend() { return spend; }

    public long written() { return written.get(); }

    /** Records an admin action — who, what, on what, how it ended; never a secret. Written at once. */
    public void recordAdmin(String actor, String action, String target, String outcome) {
        com.fasterxml.jackson.databind.node.ObjectNode o = AuditEvent.JSON.createObjectNode();
        o.put("type", "admin").put("time", Instant.now().toString()).put("actor", actor).put("action", action)
                .put("target", target).put("outcome", outcome);
        appenders.get().writeText(o.toString());
    }

    /** Records an event; returns at once. */
    public void record(AuditEvent e) {
        record(e, null);
    }

    /**
     * Records an event and runs {@code then} once it is appended (on the writer thread):
     * the gateway completes a response only then, so no completed response lacks its event.
     */
    public void record(AuditEvent e, Runnable then) {
        if (closed) {
            LOG.log(System.Logger.Level.WARNING, "the audit log is closed; event " + e.decisionId() + " is not recorded");
            if (then != null) then.run();
            return;
        }
        Pending p = new Pending(e, then);
        if (!pending.offer(p)) appendAndRun(p); // never drop: the caller pays for the append instead
    }

    private void drain() {
        try {
            while (true) {
                Pending p = pending.take();
                if (p.event() == STOP) return;
                appendAndRun(p);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void appendAndRun(Pending p) {
        append(p.event());
        if (p.then() != null) {
            try {
                p.then().run();
            } catch (RuntimeException ex) {
                LOG.log(System.Logger.Level.ERROR, "completing a response after its audit event failed", ex);
            }
        }
    }

    private void append(AuditEvent e) {
        try {
            JsonNode json = e.toJson();
            appenders.get().writeText(json.toString());
            spend.add(json);
            written.incrementAndGet();
        } catch (RuntimeException ex) {
            LOG.log(System.Logger.Level.ERROR, "an audit event could not be written: " + e.decisionId(), ex);
        }
    }

    private void replay() {
        try (ExcerptTailer t = queue.createTailer()) {
            String line;
            while ((line = t.readText()) != null) {
                try {
                    spend.add(AuditEvent.JSON.readTree(line));
                } catch (IOException ignored) {
                    // a foreign excerpt: not ours to count
                }
            }
        }
    }

    /** Every event in {@code [since, until)}, oldest first, as JSON text. */
    public static void read(ChronicleQueue queue, Instant since, Instant until, Consumer<String> out) {
        try (ExcerptTailer t = queue.createTailer()) {
            String line;
            while ((line = t.readText()) != null) {
                if (within(line, since, until)) out.accept(line);
            }
        }
    }

    public void read(Instant since, Instant until, Consumer<String> out) {
        read(queue, since, until, out);
    }

    /**
     * A bound of an audit range: a UTC date ({@code 2026-11-27}, its midnight) or an
     * ISO-8601 instant; null for none. Throws {@link java.time.format.DateTimeParseException}.
     */
    public static Instant parseBound(String v) {
        if (v == null || v.isBlank()) return null;
        return v.length() == 10 ? java.time.LocalDate.parse(v).atStartOfDay(java.time.ZoneOffset.UTC).toInstant()
                : java.time.OffsetDateTime.parse(v).toInstant();
    }

    static boolean within(String line, Instant since, Instant until) {
        int at = line.indexOf("\"time\":\"");
        if (at < 0) return false;
        Instant t = Instant.parse(line.substring(at + 8, line.indexOf('"', at + 8)));
        return (since == null || !t.isBefore(since)) && (until == null || t.isBefore(until));
    }

    /** Writes what is pending, then closes the files. */
    @Override
    public void close() {
        closed = true;
        try {
            pending.put(new Pending(STOP, null));
            writer.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Pending left;
        while ((left = pending.poll()) != null) if (left.event() != STOP) appendAndRun(left);
        queue.close();
    }
}
