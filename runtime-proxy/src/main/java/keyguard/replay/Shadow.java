package keyguard.replay;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import keyguard.audit.AuditEvent;
import keyguard.audit.AuditLog;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;

/**
 * A shadow revision: a candidate that decides every live request again, beside the serving
 * revision, without affecting it. The request path only offers its finished audit event to
 * a bounded queue ({@link #offer}: one volatile read when no shadow is loaded, one
 * non-blocking {@code offer} when one is; a full queue drops the event and counts it); one
 * thread of its own decides them with a {@link Replayer#live} and keeps a
 * {@link ReplayReport}. A disagreement is counted ({@code keyguard_shadow_*} in /metrics)
 * and written to the audit log as a {@code shadow} event.
 *
 * <p>Promoting a shadow is a reload: once the gateway serves the shadow's revision, the
 * shadow ends by itself. Invariants: at most one shadow at a time; totals only grow.
 */
public final class Shadow implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("keyguard.shadow");
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Events waiting for the shadow; beyond this the shadow falls behind and drops, never the request. */
    public static final int QUEUE = 4096;

    /** One shadow from load to stop. */
    private static final class Run {
        final PolicySet set;
        final Replayer replayer;
        final ReplayReport report;
        final String source;
        final String startedBy;
        final Instant startedAt;
        final AtomicLong dropped = new AtomicLong();
        /** Disagreements beyond {@link #EVENTS_PER_SECOND}: counted, not written to the audit log. */
        long unwritten;

        Run(PolicySet set, Map<String, PolicyEvaluator> evaluators, String source, String startedBy, Instant startedAt) {
            this.set = set;
            this.replayer = Replayer.live(set, evaluators);
            this.report = new ReplayReport(set.revision(), 5);
            this.source = source;
            this.startedBy = startedBy;
            this.startedAt = startedAt;
        }
    }

    private final AuditLog audit;
    private final Clock clock;
    private final ArrayBlockingQueue<AuditEvent> queue = new ArrayBlockingQueue<>(QUEUE);
    private final Thread worker;
    private volatile Run current;
    private volatile Run last;
    private volatile boolean closed;

    private final LongAdder agreed = new LongAdder();
    private final LongAdder disagreed = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    /** Disagreements by policy and outcomes ({@code policy}, {@code from}, {@code to}): policy names of loaded revisions and three words. */
    private final ConcurrentHashMap<java.util.List<String>, LongAdder> disagreements = new ConcurrentHashMap<>();

    public Shadow(AuditLog audit, Clock clock) {
        this.audit = audit;
        this.clock = clock;
        this.worker = new Thread(this::work, "keyguard-shadow");
        worker.setDaemon(true);
        worker.start();
    }

    /** From the request path: the event of a request that ended. Never blocks. */
    public void offer(AuditEvent e) {
        Run r = current;
        // A request refused before its policy decided has nothing to decide again, but one under the shadow's own revision ends it.
        if (r == null || e.decided() == null && !e.revision().equals(r.set.revision())) return;
        if (!queue.offer(e)) {
            dropped.increment();
            r.dropped.incrementAndGet();
        }
    }

    /** Starts deciding live traffic with {@code set} (compiled, its tests passed), replacing any shadow loaded before. */
    public synchronized void start(PolicySet set, Map<String, PolicyEvaluator> evaluators, String source, String who) {
        Run before = current;
        current = new Run(set, evaluators, source, who, clock.instant());
        if (before != null) retire(before);
        LOG.log(System.Logger.Level.INFO, "shadow revision " + set.revision() + " from " + keyguard.audit.UntrustedText.quote(source, 1024)
                + " loaded by " + keyguard.audit.UntrustedText.quote(who, 256));
    }

    /** Stops the shadow; false when none was loaded. */
    public synchronized boolean stop() {
        Run r = current;
        if (r == null) return false;
        current = null;
        retire(r);
        return true;
    }

    private void retire(Run r) {
        last = r;
        if (r.set.scripts() != null) r.set.close(); // no decision of it is running: stop() and work() hold the lock
    }

    public boolean active() { return current != null; }

    /** The shadow's revision, or null. */
    public String revision() {
        Run r = current;
        return r == null ? null : r.set.revision();
    }

    public long agreed() { return agreed.sum(); }

    public long disagreed() { return disagreed.sum(); }

    public long dropped() { return dropped.sum(); }

    /** Disagreements so far by (policy, from, to), for /metrics. */
    public void forEachDisagreement(java.util.function.BiConsumer<java.util.List<String>, Long> out) {
        disagreements.forEach((k, v) -> out.accept(k, v.sum()));
    }

    /** What {@code GET /admin/shadow} shows: the loaded shadow (or the last one) and what it found. */
    public synchronized ObjectNode status() {
        Run r = current != null ? current : last;
        ObjectNode o = JSON.createObjectNode();
        o.put("active", current != null);
        if (r == null) return o;
        o.put("revision", r.set.revision()).put("source", r.source).put("started_by", r.startedBy).put("started_at", r.startedAt.toString());
        o.put("dropped", r.dropped.get()).put("events_not_written", r.unwritten);
        try {
            o.set("report", JSON.readTree(r.report.json()));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return o;
    }

    private void work() {
        while (!closed) {
            AuditEvent e;
            try {
                e = queue.poll(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException ex) {
                return;
            }
            if (e == null) continue;
            try {
                decide(e);
            } catch (RuntimeException ex) {
                LOG.log(System.Logger.Level.WARNING, "the shadow could not decide " + e.decisionId(), ex);
            }
        }
    }

    private synchronized void decide(AuditEvent e) {
        Run r = current;
        if (r == null) return;
        if (e.revision().equals(r.set.revision())) {
            // The gateway serves the shadow's revision now: promoted.
            LOG.log(System.Logger.Level.INFO, "the gateway serves the shadow's revision " + r.set.revision() + " now; the shadow ends");
            audit.recordAdmin("keyguard", "shadow.promoted", r.set.revision(), "ended");
            current = null;
            retire(r);
            return;
        }
        RecordedDecision rd = RecordedDecision.of(e);
        if (rd == null) return;
        Replayer.Verdict was = Replayer.Verdict.of(rd);
        Replayer.Verdict now = r.replayer.replay(rd);
        r.report.add(rd, was, now);
        if (!now.differs(was)) {
            agreed.increment();
            return;
        }
        disagreed.increment();
        disagreements.computeIfAbsent(java.util.List.of(rd.policy(), was.outcome().word(), now.outcome().word()), k -> new LongAdder()).increment();
        if (!eventBudget(clock.millis())) {
            r.unwritten++;
            return; // counted above; the audit log gets at most EVENTS_PER_SECOND of them
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("type", "shadow").put("time", Instant.ofEpochMilli(clock.millis()).toString()).put("decision_id", rd.decisionId())
                .put("key_id", rd.keyId()).put("key_name", rd.keyName()).put("policy", rd.policy()).put("revision", rd.revision())
                .put("shadow_revision", r.set.revision());
        verdict(o.putObject("live"), was);
        verdict(o.putObject("shadow"), now);
        audit.recordShadow(o);
    }

    /**
     * At most this many shadow events a second go to the audit log: a candidate that
     * disagrees with most of the traffic must not double the log's writes (or take its lock
     * from the requests). Every disagreement is counted in /metrics and the report all the same.
     */
    static final int EVENTS_PER_SECOND = 50;
    private long eventSecond = Long.MIN_VALUE;
    private int eventsThisSecond;

    private boolean eventBudget(long nowMillis) {
        long second = Math.floorDiv(nowMillis, 1000);
        if (second != eventSecond) {
            eventSecond = second;
            eventsThisSecond = 0;
        }
        return eventsThisSecond++ < EVENTS_PER_SECOND;
    }

    private static void verdict(ObjectNode o, Replayer.Verdict v) {
        o.put("outcome", v.outcome().word()).put("kind", v.kind());
        v.rules().forEach(o.putArray("rules")::add);
        if (v.routedModel() != null) o.put("routed_model", v.routedModel());
    }

    @Override
    public void close() {
        closed = true;
        worker.interrupt();
        synchronized (this) {
            Run r = current;
            current = null;
            if (r != null) retire(r);
        }
    }
}
