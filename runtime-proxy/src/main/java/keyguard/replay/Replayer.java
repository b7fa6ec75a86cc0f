package keyguard.replay;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import keyguard.counters.Calendar;
import keyguard.counters.PolicyCounters;
import keyguard.policy.CounterRef;
import keyguard.policy.Decision;
import keyguard.policy.Metric;
import keyguard.policy.ModelInfo;
import keyguard.policy.Outcome;
import keyguard.policy.Period;
import keyguard.policy.Policy;
import keyguard.policy.PolicyEvaluator;
import keyguard.policy.PolicySet;
import keyguard.policy.UsageView;

/**
 * Decides recorded requests again under a candidate revision, with its compiled evaluators,
 * in the order they were decided, keeping counters the way the gateway would have kept them
 * under the candidate.
 *
 * <p>A counter the serving revision also had is read as its recorded value plus the
 * <em>drift</em>: what the candidate's decisions added to it minus what the recorded ones
 * did, over the replayed requests still inside its window (or budget period). A tighter
 * token limit thus refuses a request, and the tokens that request did not use leave room
 * for a later one. A counter the serving revision did not have starts at zero at the first
 * replayed request and counts what the candidate admits. What a request adds, as the
 * gateway counts it: one unit of each {@code requests} counter (a refused request too, except
 * on a counter without room); when admitted, the tokens and cost it was charged (or, for one
 * the recorded revision refused, its reservation: prompt estimate plus output cap, and their
 * price). Concurrency is read as recorded. Requests refused before their policy decided
 * (malformed; the request-limit gate) are not in the replay and count nowhere.
 *
 * <p>Invariants: counters only move forward in time (decisions come in ascending
 * {@code decidedAt}, or are taken as made at the latest time seen: {@link #live}); one
 * instance replays one stream of decisions against one candidate, on one thread.
 */
public final class Replayer {
    /**
     * The candidate's answer for one recorded request, and what it would have cost under it:
     * what it was charged when both revisions admit it, its reservation's price when only the
     * candidate does, nothing when the candidate refuses it.
     */
    public record Verdict(Outcome outcome, String kind, List<String> rules, String routedModel, long costMicros) {
        /** The recorded revision's answer, in the same terms. */
        public static Verdict of(RecordedDecision r) {
            return new Verdict(r.outcome(), r.kind(), r.rules(), r.routedModel(), r.costMicros());
        }

        /** Whether two answers differ: outcome, why (kind and rules), or where an allowed request goes. */
        public boolean differs(Verdict o) {
            return outcome != o.outcome || !kind.equals(o.kind) || !rules.equals(o.rules) || !java.util.Objects.equals(routedModel, o.routedModel);
        }

        /** {@code allow}, {@code deny (model_not_allowed)}, {@code throttle (limit.tokens.key.1m)}. */
        public String describe() {
            if (outcome == Outcome.ALLOW) return routedModel == null ? "allow" : "allow (routed to " + routedModel + ")";
            return outcome.word() + " (" + (rules.isEmpty() ? kind : String.join(", ", rules)) + ")";
        }
    }

    /** The candidate has no policy of the key's name: the gateway would refuse every request (403 policy_missing). */
    static final String POLICY_MISSING = "policy_missing";

    private final PolicySet candidate;
    private final Map<String, PolicyEvaluator> evaluators;
    private final Map<String, CounterRef[]> countersByPolicy = new HashMap<>();
    /** Per policy, aligned with its counters: the tightest rate limit's amount, or {@code Long.MAX_VALUE}. */
    private final Map<String, long[]> capsByPolicy = new HashMap<>();
    private final Map<String, Sim> sims = new HashMap<>();
    /** By policy, then key: the counters a key's requests under that policy read (no key string is built per decision). */
    private final Map<String, Map<String, Sim[]>> byKey = new HashMap<>();
    private final View view = new View();
    private long last = Long.MIN_VALUE;

    /** Whether decisions out of order are refused (a log, sorted) or taken as made at the latest time seen (live traffic, {@link Shadow}). */
    private final boolean strictOrder;

    /** Replays a log's decisions, which must come in the order they were made. */
    public Replayer(PolicySet candidate, Map<String, PolicyEvaluator> evaluators) {
        this(candidate, evaluators, true);
    }

    private Replayer(PolicySet candidate, Map<String, PolicyEvaluator> evaluators, boolean strictOrder) {
        this.candidate = candidate;
        this.evaluators = evaluators;
        this.strictOrder = strictOrder;
    }

    /**
     * Decides live requests as they end (the shadow): they arrive nearly, not exactly, in
     * the order they were decided, and one decided before the latest seen counts as decided then.
     */
    public static Replayer live(PolicySet candidate, Map<String, PolicyEvaluator> evaluators) {
        return new Replayer(candidate, evaluators, false);
    }

    public PolicySet candidate() { return candidate; }

    /** Decides {@code r} under the candidate and counts what it would have used. */
    public Verdict replay(RecordedDecision r) {
        long at = r.decidedAt();
        if (at < last) {
            if (strictOrder) throw new IllegalArgumentException("decisions must be replayed in the order they were made");
            at = last;
        }
        last = at;
        PolicyEvaluator evaluator = evaluators.get(r.policy());
        if (evaluator == null) return new Verdict(Outcome.DENY, POLICY_MISSING, List.of(), null, 0);
        Policy policy = evaluator.policy();
        CounterRef[] refs = countersByPolicy.computeIfAbsent(policy.name(), n -> {
            CounterRef[] c = PolicyCounters.of(policy);
            capsByPolicy.put(n, caps(policy, c));
            return c;
        });
        // A sub-key counts on its root's counters, as the gateway counts it (its carve-out, a slice of the root's budgets, is not simulated).
        String counterKey = r.counterKey();
        Sim[] counters = byKey.computeIfAbsent(policy.name(), n -> new HashMap<>()).computeIfAbsent(perUser(refs) ? counterKey + "\n" + r.endUser() : counterKey,
                k -> bind(policy, refs, counterKey, r.team(), r.org(), r.endUser().isEmpty() ? "-" : "=" + r.endUser()));
        for (Sim s : counters) s.advance(at);
        view.bind(r, refs, counters);
        Decision d = evaluator.decide(r.input(view));

        boolean wasAllowed = r.outcome() == Outcome.ALLOW;
        boolean allowed = d.outcome() == Outcome.ALLOW;
        long tokens = 0;
        long cost = 0;
        if (allowed && wasAllowed) {
            tokens = r.tokens();
            cost = r.costMicros();
        } else if (allowed) {
            tokens = saturatingAdd(r.estimatedTokens(), r.maxTokens());
            cost = estimatedCost(r, d);
        }
        long[] caps = capsByPolicy.get(policy.name());
        for (int i = 0; i < counters.length; i++) {
            Sim s = counters[i];
            switch (s.ref.metric()) {
                // A refused request still takes a unit of each requests counter with room (limits.md): not of the one it was throttled on.
                case REQUESTS -> s.add(at, wasAllowed || !r.rules().contains(s.limitId) ? 1 : 0,
                        allowed || s.read(r.counters().get(s.name)) < caps[i] ? 1 : 0);
                case TOKENS -> s.add(at, r.tokens(), tokens);
                case SPEND -> s.add(at, r.costMicros(), cost);
                case CONCURRENT -> { }
            }
        }
        return new Verdict(d.outcome(), d.kind().name().toLowerCase(Locale.ROOT), d.rules(), d.routedModel(), cost);
    }

    /** What a request the recorded revision refused would cost where the candidate admits it: its reservation's price. */
    long estimatedCost(RecordedDecision r, Decision d) {
        ModelInfo m = candidate.model(d.routedModel() != null ? d.routedModel() : r.model());
        return m == null ? 0 : m.costMicros(r.estimatedTokens(), r.maxTokens());
    }

    private static long[] caps(Policy policy, CounterRef[] refs) {
        long[] caps = new long[refs.length];
        java.util.Arrays.fill(caps, Long.MAX_VALUE);
        for (keyguard.policy.LimitSpec l : policy.rateLimits()) {
            for (int i = 0; i < refs.length; i++) if (refs[i].equals(l.counter())) caps[i] = Math.min(caps[i], l.amount());
        }
        return caps;
    }

    /** A key's simulated counters, by the gateway's names: its team's and unit's shared with the other keys of the team and unit. */
    private Sim[] bind(Policy policy, CounterRef[] refs, String keyId, String team, String unit, String user) {
        Sim[] out = new Sim[refs.length];
        for (int i = 0; i < refs.length; i++) {
            CounterRef ref = refs[i];
            // A key outside the organisation was refused before deciding under a policy that counts by team or org.
            String name = PolicyCounters.name(ref, keyId, policy.name(), team.isEmpty() ? "-" : team, unit.isEmpty() ? "-" : unit, user);
            out[i] = sims.computeIfAbsent(name, n -> new Sim(ref, ref.metric() == Metric.SPEND
                    ? new Calendar(policy.zone(), Period.parse(ref.window())) : null));
        }
        return out;
    }

    /**
     * Whether a policy counts by end user: then each end user of a key has counters of its own
     * (replay names them by the recorded end user, as if the key tracked every one).
     */
    private static boolean perUser(CounterRef[] refs) {
        for (CounterRef r : refs) if (r.scope() == keyguard.policy.Scope.USER) return true;
        return false;
    }

    private static long saturatingAdd(long a, long b) {
        long s = a + b;
        return ((a ^ s) & (b ^ s)) < 0 ? Long.MAX_VALUE : s;
    }

    /** The counters one replayed decision reads: recorded values plus drift, or the simulation alone. */
    private static final class View implements UsageView {
        private RecordedDecision r;
        private CounterRef[] refs;
        private Sim[] sims;

        void bind(RecordedDecision r, CounterRef[] refs, Sim[] sims) {
            this.r = r;
            this.refs = refs;
            this.sims = sims;
        }

        @Override
        public long used(CounterRef counter) {
            return used(counter, r.decidedAt());
        }

        @Override
        public long used(CounterRef counter, long nowMillis) {
            Sim s = find(counter);
            return s == null ? 0 : s.read(r.counters().get(s.name));
        }

        @Override
        public long usedForCap(CounterRef counter, long nowMillis) {
            Sim s = find(counter);
            if (s == null) return 0;
            Long forCap = r.countersForCap().get(s.name);
            return s.read(forCap != null ? forCap : r.counters().get(s.name));
        }

        private Sim find(CounterRef c) {
            for (int i = 0; i < refs.length; i++) if (refs[i] == c) return sims[i];
            for (int i = 0; i < refs.length; i++) if (refs[i].equals(c)) return sims[i];
            return null;
        }
    }

    /**
     * One counter under the candidate: what the recorded decisions and the candidate's added
     * to it over the replayed requests inside its window, or its current budget period.
     * Windows are kept as the gateway keeps them (docs/spec/counters.md): ten buckets of a
     * tenth of the window plus the current one, so a unit leaves between W and W + W/10
     * after it was counted, and a counter holds eleven buckets however much traffic it sees.
     */
    static final class Sim {
        private static final int BUCKETS = 11;
        final CounterRef ref;
        final String name;
        /** The id of a limit on this counter ({@code limit.requests.key.1m}). */
        final String limitId;
        private final long bucketMillis;
        private final Calendar calendar;
        private long period = Long.MIN_VALUE;
        private final long[] epochs = new long[BUCKETS];
        private final long[] recorded = new long[BUCKETS];
        private final long[] replayed = new long[BUCKETS];
        long recordedSum;
        long replayedSum;

        Sim(CounterRef ref, Calendar calendar) {
            this.ref = ref;
            this.name = ref.toString();
            this.limitId = keyguard.policy.LimitSpec.idOf(ref);
            this.bucketMillis = Math.max(1, ref.windowSeconds() * 1000 / 10);
            this.calendar = calendar;
            java.util.Arrays.fill(epochs, Long.MIN_VALUE);
        }

        /** The value the candidate sees: {@code recorded} plus the drift, or, for a counter not recorded, what the candidate added. */
        long read(Long recordedValue) {
            if (ref.metric() == Metric.CONCURRENT) return recordedValue == null ? 0 : recordedValue;
            if (recordedValue == null) return replayedSum;
            return Math.max(0, recordedValue + replayedSum - recordedSum);
        }

        /** Forgets what has left the window or the period by {@code now}. */
        void advance(long now) {
            if (calendar != null) {
                long p = calendar.at(now).index();
                if (p != period) {
                    period = p;
                    recordedSum = 0;
                    replayedSum = 0;
                }
                return;
            }
            if (ref.windowSeconds() <= 0) return;
            long oldest = Math.floorDiv(now, bucketMillis) - (BUCKETS - 1);
            for (int i = 0; i < BUCKETS; i++) {
                if (epochs[i] != Long.MIN_VALUE && epochs[i] < oldest) {
                    recordedSum -= recorded[i];
                    replayedSum -= replayed[i];
                    recorded[i] = 0;
                    replayed[i] = 0;
                    epochs[i] = Long.MIN_VALUE;
                }
            }
        }

        /** Counts units at {@code now}, after {@link #advance} to it. */
        void add(long now, long recordedUnits, long replayedUnits) {
            recordedSum += recordedUnits;
            replayedSum += replayedUnits;
            if (calendar != null || ref.windowSeconds() <= 0) return;
            long epoch = Math.floorDiv(now, bucketMillis);
            int slot = (int) Math.floorMod(epoch, (long) BUCKETS);
            epochs[slot] = epoch; // a slot's earlier epoch was forgotten by advance(now)
            recorded[slot] += recordedUnits;
            replayed[slot] += replayedUnits;
        }
    }
}
