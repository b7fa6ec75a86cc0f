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
 * ({@link #record(AuditEvent, Runnable)} runs the completion after the append): no
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

    public long written() { return written.get(); }

    /** Records an admin action — who, what, on what, how it ended; never a secret. Written at once. */
    public void recordAdmin(String actor, String action, String target, String outcome) {
        com.fasterxml.jackson.databind.node.ObjectNode o = AuditEvent.JSON.createObjectNode();
        o.put("type", "admin").put("time", Instant.now().toString()).put("actor", actor).put("action", action)
                .put("target", target).put("outcome", outcome);
        synchronized (appender) {
            appender.writeText(o.toString());
        }
    }

    /** Records an event (appended on the caller's thread). */
    public void record(AuditEvent e) {
        record(e, null);
    }

    /**
     * Appends an event, then runs {@code then} (the response's completion): the gateway
     * completes a response only after its event is in the log.
     */
    public void record(AuditEvent e, Runnable then) {
        if (closed) {
            LOG.log(System.Logger.Level.WARNING, "the audit log is closed; event " + e.decisionId() + " is not recorded");
        } else {
            append(e);
        }
        if (then != null) {
            try {
                then.run();
            } catch (RuntimeException ex) {
                LOG.log(System.Logger.Level.ERROR, "completing a response after its audit event failed", ex);
            }
        }
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

    private void append(AuditEvent e) {
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
        } catch (RuntimeException | IOException ex) {
            LOG.log(System.Logger.Level.ERROR, "an audit event could not be written: " + e.decisionId(), ex);
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

    /** Closes the files; later events are logged as lost. */
    @Override
    public void close() {
        closed = true;
        queue.close();
    }
}
