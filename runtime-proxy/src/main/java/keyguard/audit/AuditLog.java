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
 * the gateway. Other processes ({@code keyguard audit tail}) read the same files.
 *
 * <p>Events are appended on the request's own thread, just before its response completes
 * ({@link #record(AuditEvent, Then)} runs the completion after the append): no
 * completed response lacks its event, and no thread hop is paid for it. An append is a
 * copy into mapped memory (about 4 µs with the JSON, see {@code AuditAppendBenchmark}) under one lock
 * around one appender. (Not an appender per thread: the common fork-join pool, where some
 * completions run, clears thread locals after every task, and each new appender leaves a
 * close listener on the queue — a per-thread appender there cost 40% of the CPU and grew
 * without bound.)
 */
public final class AuditLog implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("keyguard.audit");

    private final ChronicleQueue queue;
    private final SpendIndex spend = new SpendIndex();
    private final AtomicLong written = new AtomicLong();
    private volatile boolean closed;
    private final ExcerptAppender appender;
    private final Scratch scratch = new Scratch();

    private AuditLog(ChronicleQueue queue) {
        this.queue = queue;
        this.appender = queue.createAppender();
        // Used from any thread, always under the lock on it: Chronicle's own owner check
        // (one thread per appender) would refuse that, so it is turned off here.
        appender.singleThreadedCheckDisabled(true);
        scratch.bytes.singleThreadedCheckDisabled(true);
        replay();
    }

    public static AuditLog open(Path dir) {
        return new AuditLog(SingleChronicleQueueBuilder.single(dir.toFile()).build());
    }

    /** Opens a log to read only (the CLI). */
    public static ChronicleQueue openForReading(Path dir) {
        return SingleChronicleQueueBuilder.single(dir.toFile()).readOnly(true).build();
    }

    public SpendIndex spend() { return spend; }

    /** The queue, for reading pages ({@link #page}, {@link #last}). */
    public ChronicleQueue queue() { return queue; }

    /** The index the next appended event will have: a cursor that follows the log from now on. */
    public long endIndex() {
        try (ExcerptTailer t = queue.createTailer()) {
            return t.toEnd().index();
        }
    }

    public long written() { return written.get(); }

    /**
     * Records an admin action — who, what, on what, how it ended; never a secret. Written at
     * once; false (the event logged in full at ERROR instead, and the log marked unwritable)
     * when it could not be.
     */
    public boolean recordAdmin(String actor, String action, String target, String outcome) {
        com.fasterxml.jackson.databind.node.ObjectNode o = AuditEvent.JSON.createObjectNode();
        o.put("type", "admin").put("time", Instant.now().toString()).put("actor", actor).put("action", action)
                .put("target", target).put("outcome", outcome);
        return appendText("an admin event", o);
    }

    /**
     * Records a shadow event (a live request a shadow revision decides otherwise,
     * {@code keyguard.replay.Shadow}); {@code o} starts with its type and time. Written at
     * once; false when it could not be (logged at ERROR).
     */
    public boolean recordShadow(com.fasterxml.jackson.databind.node.ObjectNode o) {
        return appendText("a shadow event", o, false);
    }

    /**
     * Records an alert event ({@code keyguard.alerts.AlertCenter}); {@code o} starts with its
     * type and time. Written at once; false when it could not be (logged at ERROR). Like a
     * shadow's, its failure never turns requests away.
     */
    public boolean recordAlert(com.fasterxml.jackson.databind.node.ObjectNode o) {
        return appendText("an alert event", o, false);
    }

    private boolean appendText(String what, com.fasterxml.jackson.databind.node.ObjectNode o) {
        return appendText(what, o, true);
    }

    /**
     * @param probes whether the append says if the log is {@link #writable}: a shadow's event
     *     does not, so that a failure of the shadow's own writes never turns live requests away
     */
    private boolean appendText(String what, com.fasterxml.jackson.databind.node.ObjectNode o, boolean probes) {
        try {
            if (closed) throw new IllegalStateException("the audit log is closed");
            synchronized (appender) {
                appender.writeText(o.toString());
            }
            if (probes) writable = true;
            return true;
        } catch (RuntimeException e) {
            if (probes) writable = false;
            LOG.log(System.Logger.Level.ERROR, what + " could not be written: " + o, e);
            return false;
        }
    }

    /** What runs after an append: {@code recorded} tells whether the event is in the log. */
    @FunctionalInterface
    public interface Then {
        void run(boolean recorded);
    }

    /** Records an event (appended on the caller's thread). */
    public void record(AuditEvent e) {
        record(e, null);
    }

    /**
     * Appends an event, then runs {@code then} with whether it was appended (the response's
     * completion): the gateway completes a response normally only after its event is in the
     * log. An event that could not be written is logged in full at ERROR (it holds no prompt
     * and no secret), so it is not lost with the queue.
     */
    public void record(AuditEvent e, Then then) {
        boolean ok;
        if (closed) {
            LOG.log(System.Logger.Level.ERROR, "the audit log is closed; event not recorded: " + json(e));
            ok = false;
            writable = false;
        } else {
            ok = append(e);
        }
        if (then != null) {
            try {
                then.run(ok);
            } catch (RuntimeException ex) {
                LOG.log(System.Logger.Level.ERROR, "completing a response after its audit event failed", ex);
            }
        }
    }

    /**
     * Whether the last append succeeded. After a failure the gateway refuses to forward
     * (fail closed) until an append works again: the event of each refusal is the probe.
     */
    public boolean writable() { return writable && !closed; }

    private volatile boolean writable = true;

    private static String json(AuditEvent e) {
        java.io.StringWriter w = new java.io.StringWriter();
        try (com.fasterxml.jackson.core.JsonGenerator g = AuditEvent.JSON.getFactory().createGenerator(w)) {
            e.writeJson(g);
        } catch (IOException ex) {
            return e.decisionId();
        }
        return w.toString();
    }

    /** Appends on the caller's thread (for benchmarks and tools; {@link #record} does the same). */
    public void appendNow(AuditEvent e) {
        append(e);
    }

    /** The event's UTF-8 JSON is generated into these bytes, then copied into the queue as is (under the append lock). */
    private static final class Scratch {
        final net.openhft.chronicle.bytes.Bytes<byte[]> bytes = net.openhft.chronicle.bytes.Bytes.allocateElasticOnHeap(1024);
        final java.io.OutputStream out = bytes.outputStream();
    }

    private boolean append(AuditEvent e) {
        try {
            synchronized (appender) {
                Scratch s = scratch;
                s.bytes.clear();
                try (com.fasterxml.jackson.core.JsonGenerator g = AuditEvent.JSON.getFactory().createGenerator(s.out)) {
                    g.disable(com.fasterxml.jackson.core.JsonGenerator.Feature.AUTO_CLOSE_TARGET);
                    e.writeJson(g);
                }
                // The JSON's UTF-8 bytes as the excerpt, copied as they are (readEvent reads them back).
                try (net.openhft.chronicle.wire.DocumentContext dc = appender.writingDocument()) {
                    dc.wire().bytes().write(s.bytes);
                }
            }
            spend.add(e);
            written.incrementAndGet();
            writable = true;
            return true;
        } catch (RuntimeException | IOException ex) {
            writable = false;
            LOG.log(System.Logger.Level.ERROR, "an audit event could not be written: " + json(e), ex);
            return false;
        }
    }

    private void replay() {
        try (ExcerptTailer t = queue.createTailer()) {
            String line;
            while ((line = readEvent(t)) != null) {
                try {
                    spend.add(AuditEvent.JSON.readTree(line));
                } catch (IOException ignored) {
                    // a foreign excerpt: not ours to count
                }
            }
        }
    }

    /**
     * The next event as JSON text, or null at the end. Events are excerpts of raw UTF-8 JSON
     * (they start with {@code {}); admin actions and the events of earlier versions are text
     * fields ({@code writeText}), read as such.
     */
    public static String readEvent(ExcerptTailer t) {
        while (true) {
            try (net.openhft.chronicle.wire.DocumentContext dc = t.readingDocument()) {
                if (!dc.isPresent()) return null;
                if (dc.isMetaData()) continue;
                net.openhft.chronicle.bytes.Bytes<?> b = dc.wire().bytes();
                if (b.readRemaining() > 0 && b.peekUnsignedByte() == '{') {
                    byte[] raw = new byte[(int) b.readRemaining()];
                    b.read(raw);
                    return new String(raw, java.nio.charset.StandardCharsets.UTF_8);
                }
                String text = dc.wire().getValueIn().text();
                if (text != null) return text;
            }
        }
    }

    /** Every event in {@code [since, until)}, oldest first, as JSON text. */
    public static void read(ChronicleQueue queue, Instant since, Instant until, Consumer<String> out) {
        try (ExcerptTailer t = queue.createTailer()) {
            String line;
            while ((line = readEvent(t)) != null) {
                if (within(line, since, until)) out.accept(line);
            }
        }
    }

    /**
     * The events of {@code [since, until)} of several logs (the nodes of a fleet) as one
     * stream ordered by time: each step prints the earliest of the logs' next events, so each
     * log's own order is kept and ties go to the log listed first.
     */
    public static void merge(java.util.List<ChronicleQueue> queues, Instant since, Instant until, Consumer<String> out) {
        java.util.List<ExcerptTailer> tailers = new java.util.ArrayList<>();
        try {
            String[] head = new String[queues.size()];
            Instant[] at = new Instant[queues.size()];
            for (int i = 0; i < queues.size(); i++) {
                tailers.add(queues.get(i).createTailer());
                advance(tailers.get(i), since, until, head, at, i);
            }
            while (true) {
                int pick = -1;
                for (int i = 0; i < head.length; i++) {
                    if (head[i] != null && (pick < 0 || at[i].isBefore(at[pick]))) pick = i;
                }
                if (pick < 0) return;
                out.accept(head[pick]);
                advance(tailers.get(pick), since, until, head, at, pick);
            }
        } finally {
            tailers.forEach(ExcerptTailer::close);
        }
    }

    private static void advance(ExcerptTailer t, Instant since, Instant until, String[] head, Instant[] at, int i) {
        String line;
        while ((line = readEvent(t)) != null) {
            if (within(line, since, until)) {
                head[i] = line;
                at[i] = time(line);
                return;
            }
        }
        head[i] = null;
    }

    public void read(Instant since, Instant until, Consumer<String> out) {
        read(queue, since, until, out);
    }

    /**
     * One page of events: oldest first, and where the next page starts (a queue index, for
     * {@link #page}), or -1 when the log held nothing more when the page was read.
     */
    public record Page(java.util.List<String> events, long next) {}

    /**
     * Up to {@code limit} events of {@code [since, until)} from {@code cursor} on (a queue
     * index from an earlier page), or, without a cursor, from the first day file that can hold
     * an event of {@code since} (an event is appended when its request ends, so one decided
     * just before midnight may sit in the next day's file). Reads only what the page needs.
     */
    public static Page page(ChronicleQueue queue, Instant since, Instant until, long cursor, int limit) {
        return page(queue, since, until, cursor, limit, line -> true, Long.MAX_VALUE);
    }

    /**
     * {@link #page}, keeping only the events {@code keep} accepts, and reading at most
     * {@code maxScan} events: a page cut short by the bound ends where the reading stopped,
     * so that a selective filter over a large log answers in bounded time and the next page
     * goes on from there.
     */
    public static Page page(ChronicleQueue queue, Instant since, Instant until, long cursor, int limit,
                            java.util.function.Predicate<String> keep, long maxScan) {
        java.util.List<String> out = new java.util.ArrayList<>();
        try (ExcerptTailer t = queue.createTailer()) {
            if (cursor >= 0) {
                if (!t.moveToIndex(cursor)) return new Page(out, -1);
            } else if (since != null && !moveToCycleOf(queue, t, since)) {
                return new Page(out, -1);
            }
            long scanned = 0;
            while (out.size() < limit && scanned++ < maxScan) {
                String line = readEvent(t);
                if (line == null) return new Page(out, -1);
                if (within(line, since, until) && keep.test(line)) out.add(line);
            }
            return new Page(out, t.index());
        }
    }

    /** The last {@code limit} events of {@code [since, until)}, oldest first, read backwards from the end. */
    public static java.util.List<String> last(ChronicleQueue queue, Instant since, Instant until, int limit) {
        return last(queue, since, until, limit, line -> true, Long.MAX_VALUE);
    }

    /** {@link #last}, keeping only the events {@code keep} accepts among the last {@code maxScan} read. */
    public static java.util.List<String> last(ChronicleQueue queue, Instant since, Instant until, int limit,
                                              java.util.function.Predicate<String> keep, long maxScan) {
        java.util.ArrayDeque<String> out = new java.util.ArrayDeque<>();
        try (ExcerptTailer t = queue.createTailer().direction(net.openhft.chronicle.queue.TailerDirection.BACKWARD).toEnd()) {
            String line;
            long scanned = 0;
            while (out.size() < limit && scanned++ < maxScan && (line = readEvent(t)) != null) {
                if (within(line, since, until) && keep.test(line)) out.addFirst(line);
            }
        }
        return java.util.List.copyOf(out);
    }

    /** Positions {@code t} at the start of the day file before the one of {@code since}, or the first one after it. */
    private static boolean moveToCycleOf(ChronicleQueue queue, ExcerptTailer t, Instant since) {
        if (!(queue instanceof net.openhft.chronicle.queue.impl.single.SingleChronicleQueue q)) return true;
        int first = q.firstCycle();
        int last = q.lastCycle();
        if (first == Integer.MAX_VALUE || last < 0) return false; // an empty queue
        long cycle = Math.floorDiv(since.toEpochMilli() - q.epoch(), (long) q.rollCycle().lengthInMillis()) - 1;
        if (cycle <= first) return true; // the tailer starts at the beginning
        for (long c = cycle; c <= last; c++) {
            if (t.moveToIndex(q.rollCycle().toIndex((int) c, 0))) return true;
        }
        return false;
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

    /** An event's time (its first field), or null for a line that has none. */
    static Instant time(String line) {
        int at = line.indexOf("\"time\":\"");
        if (at < 0) return null;
        return Instant.parse(line.substring(at + 8, line.indexOf('"', at + 8)));
    }

    static boolean within(String line, Instant since, Instant until) {
        Instant t = time(line);
        if (t == null) return false;
        return (since == null || !t.isBefore(since)) && (until == null || t.isBefore(until));
    }

    /** Closes the files; later events are logged as lost. */
    @Override
    public void close() {
        closed = true;
        queue.close();
    }
}
