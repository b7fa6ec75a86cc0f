package keyguard.alerts;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.DelayQueue;
import java.util.concurrent.Delayed;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import keyguard.audit.AuditLog;
import keyguard.counters.Crossing;
import keyguard.policy.ChannelSpec;

/**
 * Raises and delivers alerts. A crossing the {@link keyguard.counters.Enforcer} reports
 * (once per threshold, period and counter) becomes an {@link Alert} on the raising thread:
 * written to the outbox ({@code alerts/outbox.jsonl} in the data directory, forced to disk)
 * and recorded in the audit log before it is handed to the sender thread, which posts it to its channel and
 * retries a failure with backoff (1 s, doubling, at most 5 min apart, {@value #ATTEMPTS}
 * attempts). Each outcome is an audit event ({@code type: alert}: fired, sent, retrying,
 * failed) and a line of the outbox, so a restart re-sends exactly the alerts not yet sent:
 * an alert is sent at least once, and twice only when the gateway stops between a
 * receiver's answer and the outbox line saying so (the same {@code id} both times).
 */
public final class AlertCenter implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("keyguard.alerts");
    static final int ATTEMPTS = 12;
    private static final long FIRST_RETRY_MILLIS = 1_000;
    private static final long MAX_RETRY_MILLIS = 300_000;

    private final Path outbox;
    private final AuditLog audit;
    private final Supplier<Map<String, ChannelSpec>> channels;
    private final ChannelSender sender;
    private final Clock clock;
    private final DelayQueue<Pending> queue = new DelayQueue<>();
    /** Alerts fired and not yet sent or given up, by id: what the outbox holds. */
    private final Map<String, Alert> pending = new LinkedHashMap<>();
    private final Thread worker;
    /** Raises crossings off the request thread (a bounded queue: a flood of crossings cannot grow memory). */
    private final java.util.concurrent.ThreadPoolExecutor raising = new java.util.concurrent.ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
            new java.util.concurrent.ArrayBlockingQueue<>(4096), r -> {
                Thread t = new Thread(r, "keyguard-alerts-raise");
                t.setDaemon(true);
                return t;
            }, (r, pool) -> LOG.log(System.Logger.Level.ERROR, "4096 alerts wait to be raised; one more is dropped"));
    private volatile boolean closed;
    /** In a fleet, whether this node is the first to raise an alert of that id (every node sees a fleet-wide counter cross); null alone. */
    private volatile java.util.function.BiPredicate<String, Long> first;

    /** An alert waiting for its next attempt. */
    private record Pending(Alert alert, int attempt, long dueNanos) implements Delayed {
        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(dueNanos - System.nanoTime(), TimeUnit.NANOSECONDS);
        }

        @Override
        public int compareTo(Delayed o) {
            return Long.compare(dueNanos, ((Pending) o).dueNanos);
        }
    }

    /**
     * Opens the outbox in {@code dir} and starts sending what it holds.
     *
     * @param channels the loaded revision's channels (a reload may change them; an alert goes where its channel points when it is sent)
     * @param env where channel secrets are read
     */
    public AlertCenter(Path dir, AuditLog audit, Supplier<Map<String, ChannelSpec>> channels, Function<String, String> env, Clock clock) {
        this.audit = audit;
        this.channels = channels;
        this.sender = new ChannelSender(env);
        this.clock = clock;
        try {
            Files.createDirectories(dir);
            this.outbox = dir.resolve("outbox.jsonl");
            recover();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the alert outbox in " + dir + ": " + e.getMessage(), e);
        }
        worker = new Thread(this::run, "keyguard-alerts");
        worker.setDaemon(true);
        worker.start();
    }

    /** Reads the outbox: alerts fired and not yet sent are sent again; the file is rewritten with them alone. */
    private void recover() throws IOException {
        if (Files.exists(outbox)) {
            for (String line : Files.readAllLines(outbox, StandardCharsets.UTF_8)) {
                if (line.isBlank()) continue;
                JsonNode o;
                try {
                    o = Alert.JSON.readTree(line);
                } catch (IOException torn) {
                    continue; // the last line of a crash: its alert was not yet acknowledged to anyone
                }
                switch (o.path("op").asText()) {
                    case "fired" -> pending.put(o.path("alert").path("id").asText(), Alert.parse(o.path("alert")));
                    case "sent", "failed" -> pending.remove(o.path("id").asText());
                    default -> { }
                }
            }
        }
        Path fresh = outbox.resolveSibling("outbox.jsonl.tmp");
        StringBuilder sb = new StringBuilder();
        for (Alert a : pending.values()) sb.append(line("fired", a)).append('\n');
        Files.writeString(fresh, sb, StandardCharsets.UTF_8);
        Files.move(fresh, outbox, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        for (Alert a : pending.values()) queue.add(new Pending(a, 1, System.nanoTime()));
        if (!pending.isEmpty()) LOG.log(System.Logger.Level.INFO, pending.size() + " alerts from before the restart are sent again");
    }

    private static String line(String op, Alert a) {
        return Alert.JSON.createObjectNode().put("op", op).set("alert", a.json()).toString();
    }

    /** In a fleet: asks {@code first} (id, how long to remember it) before raising an alert, so that one node of the fleet sends it. */
    public void fleet(java.util.function.BiPredicate<String, Long> first) {
        this.first = first;
    }

    /**
     * A crossing the enforcer saw first: handed to the raising thread, which records it (in a
     * fleet, after asking Redis whether another node already did) and queues it to be sent.
     * On the request's thread: never blocks, never waits for a disk or Redis.
     */
    public void fire(Crossing c) {
        if (closed) return;
        raising.execute(() -> raise(Alert.of(c)));
    }

    private void raise(Alert a) {
        java.util.function.BiPredicate<String, Long> fleetFirst = first;
        if (fleetFirst != null && !fleetFirst.test(a.id(), a.periodEnd() - a.periodStart() + 86_400_000L)) return; // another node raised it
        synchronized (this) {
            if (closed || pending.containsKey(a.id())) return;
            append(line("fired", a));
            pending.put(a.id(), a);
        }
        event(a, "fired", 0, null);
        queue.add(new Pending(a, 1, System.nanoTime()));
    }

    /**
     * Sends a test message to {@code channel} now, on the caller's thread: null when it was
     * delivered, else why not. Recorded in the audit log; never retried.
     */
    public String test(String channel) {
        ChannelSpec ch = channels.get().get(channel);
        if (ch == null) return "no channel `" + channel + "` in the loaded revision";
        Alert a = Alert.test(channel, clock.millis());
        try {
            sender.send(ch, a, clock.millis());
            event(a, "sent", 1, null);
            return null;
        } catch (IOException e) {
            event(a, "failed", 1, e.getMessage());
            return e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        } catch (RuntimeException e) { // its message might hold a secret: the class name only
            event(a, "failed", 1, e.getClass().getSimpleName());
            return e.getClass().getSimpleName();
        }
    }

    /** Alerts fired and not yet delivered or given up. */
    public synchronized int pending() {
        return pending.size();
    }

    private void run() {
        while (!closed) {
            Pending p;
            try {
                p = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            deliver(p);
        }
    }

    private void deliver(Pending p) {
        Alert a = p.alert();
        ChannelSpec ch = channels.get().get(a.channel());
        String error;
        if (ch == null) {
            error = "channel `" + a.channel() + "` is no longer declared";
        } else {
            try {
                sender.send(ch, a, clock.millis());
                done("sent", a, p.attempt(), null);
                return;
            } catch (IOException e) {
                error = e.getMessage();
            } catch (InterruptedException e) {
                return; // closing: still in the outbox, sent after the restart
            } catch (RuntimeException e) {
                error = e.getClass().getSimpleName();
            }
        }
        if (p.attempt() >= ATTEMPTS || ch == null) {
            done("failed", a, p.attempt(), error);
            LOG.log(System.Logger.Level.ERROR, "alert " + a.id() + " to channel " + a.channel() + " was given up after " + p.attempt() + " attempts: " + error);
            return;
        }
        long wait = Math.min(MAX_RETRY_MILLIS, FIRST_RETRY_MILLIS << (p.attempt() - 1));
        event(a, "retrying", p.attempt(), error);
        queue.add(new Pending(a, p.attempt() + 1, System.nanoTime() + wait * 1_000_000));
    }

    private void done(String status, Alert a, int attempt, String error) {
        synchronized (this) {
            if (pending.remove(a.id()) == null) return;
            append(Alert.JSON.createObjectNode().put("op", status).put("id", a.id()).toString());
        }
        event(a, status, attempt, error);
    }

    /** Appends a line to the outbox and forces it to disk: an alert recorded as fired survives a crash. */
    private void append(String line) {
        try (FileChannel f = FileChannel.open(outbox, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            f.write(java.nio.ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
            f.force(false);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.ERROR, "the alert outbox could not be written; the alert is sent but not kept across a restart", e);
        }
    }

    /** An audit event of type {@code alert}: the alert and what became of it. Never a secret. */
    private void event(Alert a, String status, int attempt, String error) {
        if (audit == null) return;
        ObjectNode o = Alert.JSON.createObjectNode().put("type", "alert").put("time", Instant.ofEpochMilli(clock.millis()).toString())
                .put("status", status);
        a.json().properties().forEach(e -> { if (!e.getKey().equals("type") && !e.getKey().equals("time")) o.set(e.getKey(), e.getValue()); });
        if (attempt > 0) o.put("attempt", attempt);
        if (error != null) o.put("error", error);
        audit.recordAlert(o);
    }

    @Override
    public void close() {
        raising.shutdown(); // what was seen is raised (recorded in the outbox) before the gateway stops
        try {
            raising.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closed = true;
        worker.interrupt();
        try {
            worker.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
