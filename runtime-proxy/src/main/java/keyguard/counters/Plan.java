package keyguard.counters;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.time.ZoneId;
import java.util.function.BiFunction;
import keyguard.policy.AlertSpec;
import keyguard.policy.BudgetSpec;
import keyguard.policy.CounterRef;
import keyguard.policy.ForbidRule;
import keyguard.policy.Limit;
import keyguard.policy.LimitSpec;
import keyguard.policy.Metric;
import keyguard.policy.OrgChart;
import keyguard.policy.Period;
import keyguard.policy.Policy;
import keyguard.policy.Scope;
import keyguard.policy.ir.Field;
import keyguard.policy.ir.Ir;

/**
 * The counters a policy's requests update, in reservation order (rate limits, concurrency,
 * budgets — the order of the decision — then the limits and budgets of the key's team and
 * org unit, then counters only its conditions read), each with its kind, window or
 * calendar, and cap. Shared by every key of the policy in one team; a key adds only the
 * addresses of its rows ({@link KeyCounters}). A team's limit and the policy's on one
 * counter ({@code budget ... by team}) share it, the tighter capping.
 */
final class Plan {
    final Policy policy;
    /** The keys' team, null for keys outside the organisation. */
    final OrgChart.Team team;
    final CounterRef[] refs;
    final Limit[] limits;
    final int[] kinds;
    final long[] windows;
    final Calendar[] calendars;
    final long[] caps;
    /**
     * Whether the policy's decision depends on the exact prompt size beyond its limits: a
     * condition or reason reads {@code request.estimated_tokens}, or a data rule may
     * reroute to a model with other prices. Then the gateway always counts exactly.
     */
    final boolean needsExactPrompt;
    /** Whether a counter is {@code by user}: the key's requests then count per end user ({@link EndUserSlots}). */
    final boolean countsEndUsers;
    /**
     * Per counter, the {@code alert} clauses watching it (null for none): a policy's
     * {@code budget ... by team} and its team's own budget share a counter, and each alerts
     * at percentages of its own amount.
     */
    final Watch[][] watches;

    /**
     * The sub-key whose carve-out this plan's keys spend from (null for none): its
     * {@code by key} budgets are then that key's own counters ({@code c/HOLDER/...}), each
     * capped at the carve-out, in place of the root's.
     */
    final String carveHolder;

    /** An alert clause on a counter, with the amount its percentages are of and who declared it. */
    record Watch(AlertSpec spec, long amount, String origin) {}

    private Plan(Policy policy, OrgChart.Team team, List<CounterRef> refs, List<Limit> limits, List<Calendar> calendars, boolean needsExactPrompt) {
        int n = refs.size();
        if (n > Lease.MAX_ENTRIES) {
            throw new IllegalArgumentException("policy `" + policy.name() + "` uses " + n + " counters; a request can reserve on at most "
                    + Lease.MAX_ENTRIES);
        }
        this.policy = policy;
        this.team = team;
        this.carveHolder = null;
        this.carved = new boolean[n];
        this.needsExactPrompt = needsExactPrompt;
        this.countsEndUsers = refs.stream().anyMatch(r -> r.scope() == Scope.USER);
        this.watches = new Watch[n][];
        this.refs = refs.toArray(new CounterRef[0]);
        this.limits = limits.toArray(new Limit[0]);
        this.calendars = calendars.toArray(new Calendar[0]);
        this.kinds = new int[n];
        this.windows = new long[n];
        this.caps = new long[n];
        for (int i = 0; i < n; i++) {
            CounterRef ref = this.refs[i];
            Limit limit = this.limits[i];
            kinds[i] = switch (ref.metric()) {
                case REQUESTS -> Lease.REQUESTS;
                case TOKENS -> Lease.TOKENS;
                case CONCURRENT -> Lease.CONCURRENT;
                case SPEND -> Lease.SPEND;
            };
            windows[i] = ref.windowSeconds() * 1000;
            boolean capped = limit != null && !(limit instanceof BudgetSpec b && !b.hard());
            caps[i] = capped ? limit.amount() : Long.MAX_VALUE;
        }
    }

    /**
     * This plan for the keys spending from {@code holder}'s carve-out of {@code micros}, which
     * was reserved on the budgets by key named {@code budgets} ({@code spend.key.day}...): each
     * of those counters is the holder's own ({@code c/HOLDER/...}), capped hard at the
     * carve-out, with no alerts; the rest is this plan (a budget by key a reload added since
     * the mint stays the root's: the carve-out was never reserved on it).
     */
    Plan carved(String holder, long micros, java.util.Set<String> budgets) {
        return new Plan(this, holder, micros, budgets);
    }

    /** Per counter, whether it is the carve-out's ({@link #carved}); all false for a plan of no carve-out. */
    private final boolean[] carved;

    private Plan(Plan base, String holder, long micros, java.util.Set<String> budgets) {
        this.policy = base.policy;
        this.team = base.team;
        this.carveHolder = holder;
        this.needsExactPrompt = base.needsExactPrompt;
        this.countsEndUsers = base.countsEndUsers;
        this.refs = base.refs;
        this.kinds = base.kinds;
        this.windows = base.windows;
        this.calendars = base.calendars;
        this.limits = base.limits.clone();
        this.caps = base.caps.clone();
        this.watches = base.watches.clone();
        this.carved = new boolean[refs.length];
        for (int i = 0; i < refs.length; i++) {
            if (kinds[i] != Lease.SPEND || refs[i].scope() != Scope.KEY || !budgets.contains(refs[i].toString())) continue;
            carved[i] = true;
            Limit had = limits[i];
            limits[i] = new BudgetSpec(had != null ? had.id() : BudgetSpec.idOf(Scope.KEY, Period.parse(refs[i].window())), refs[i], micros,
                    true, 0, BudgetSpec.CARVE_OUT_ORIGIN, had != null ? had.span() : null);
            caps[i] = micros;
            watches[i] = null;
        }
    }

    /** Whether counter {@code i} is the carve-out's own ({@link #carved}). */
    boolean carved(int i) {
        return carved[i];
    }

    /**
     * Whether a carve-out for a sub-key of this plan's keys is reserved on counter {@code i}:
     * a budget by key (hard or soft) of the policy, or of the carve-out the keys spend from.
     */
    boolean carvable(int i) {
        return kinds[i] == Lease.SPEND && refs[i].scope() == Scope.KEY && limits[i] instanceof BudgetSpec;
    }

    static Plan of(Policy policy, OrgChart.Team team, BiFunction<ZoneId, Period, Calendar> calendarOf) {
        Map<CounterRef, Limit> byRef = new LinkedHashMap<>();
        for (LimitSpec l : policy.rateLimits()) tighter(byRef, l);
        for (LimitSpec l : policy.concurrency()) tighter(byRef, l);
        for (BudgetSpec b : policy.budgets()) tighter(byRef, b);
        if (team != null) {
            for (Limit l : team.limits()) tighter(byRef, l);
            if (team.unit() != null) for (Limit l : team.unit().limits()) tighter(byRef, l);
        }
        boolean[] readsEstimate = {false};
        for (ForbidRule rule : policy.forbids()) {
            collect(rule.when(), byRef, readsEstimate);
            if (rule.unless() != null) collect(rule.unless(), byRef, readsEstimate);
            for (Object part : rule.reason().parts()) if (part instanceof Ir ir) collect(ir, byRef, readsEstimate);
        }
        List<CounterRef> refs = new ArrayList<>(byRef.keySet());
        List<Limit> limits = new ArrayList<>(byRef.values());
        List<Calendar> calendars = new ArrayList<>();
        for (int i = 0; i < refs.size(); i++) {
            CounterRef ref = refs.get(i);
            // A team's and a unit's budgets are shared by keys of policies in different zones: their periods are UTC's, one for all.
            ZoneId zone = ref.scope().organisational() ? java.time.ZoneOffset.UTC : policy.zone();
            calendars.add(ref.metric() == Metric.SPEND ? calendarOf.apply(zone, Period.parse(ref.window())) : null);
        }
        Plan plan = new Plan(policy, team, refs, limits, calendars, readsEstimate[0] || policy.data().reroute() != null);
        plan.watch(policy.alerts(), allLimits(policy));
        if (team != null) {
            plan.watch(team.alerts(), team.limits());
            if (team.unit() != null) plan.watch(team.unit().alerts(), team.unit().limits());
        }
        return plan;
    }

    private static List<Limit> allLimits(Policy policy) {
        List<Limit> all = new ArrayList<>(policy.rateLimits());
        all.addAll(policy.concurrency());
        all.addAll(policy.budgets());
        return all;
    }

    /** Adds the alerts of one declarer (a policy, a team, a unit) to the counters they watch. */
    private void watch(List<AlertSpec> alerts, List<? extends Limit> declared) {
        for (AlertSpec a : alerts) {
            int i = index(a.counter());
            Limit own = declared.stream().filter(l -> l.id().equals(a.limitId())).findFirst().orElse(null);
            if (i < 0 || own == null) continue;
            Watch w = new Watch(a, own.amount(), own.origin());
            watches[i] = watches[i] == null ? new Watch[] {w} : java.util.stream.Stream.concat(java.util.Arrays.stream(watches[i]), java.util.stream.Stream.of(w)).toArray(Watch[]::new);
        }
    }

    /** Two limits on one counter (a template's and an override) share it; the tighter caps it. */
    private static void tighter(Map<CounterRef, Limit> byRef, Limit l) {
        Limit had = byRef.get(l.counter());
        boolean hadCap = had != null && !(had instanceof BudgetSpec b && !b.hard());
        boolean cap = !(l instanceof BudgetSpec b && !b.hard());
        if (had == null || (cap && !hadCap) || (cap == hadCap && l.amount() < had.amount())) byRef.put(l.counter(), l);
    }

    private static void collect(Ir ir, Map<CounterRef, Limit> byRef, boolean[] readsEstimate) {
        Ir.forEach(ir, n -> {
            if (n instanceof Ir.Usage u) byRef.putIfAbsent(u.counter(), null);
            if (n instanceof Ir.Read r && r.field() == Field.REQUEST_ESTIMATED_TOKENS) readsEstimate[0] = true;
        });
    }

    int size() { return refs.length; }

    /** Counter {@code i} as the ledger knows it, for key {@code keyId} and its end user {@code user} (a slot; {@code -} for none). */
    Ledger.Spec spec(int i, String keyId, String user) {
        boolean failOpen = limits[i] instanceof LimitSpec l && l.failOpen();
        return new Ledger.Spec(name(i, keyId, user), kinds[i], caps[i], windows[i], calendars[i], failOpen, refs[i].scope() == Scope.USER);
    }

    /** The counter's name in the store: whose it is, and what it counts. */
    String name(int i, String keyId, String user) {
        if (carved[i]) return "c/" + carveHolder + "/" + refs[i];
        return name(refs[i], keyId, policy.name(), team == null ? null : team.name(), team == null ? null : team.unitName(), user);
    }

    /**
     * Why keys of this plan cannot be counted: a counter {@code by team} with no team, or
     * {@code by org} with no org unit; null when they can.
     */
    String outside() {
        for (CounterRef ref : refs) {
            if (ref.scope() == Scope.TEAM && team == null) return "belongs to no team, and policy `" + policy.name() + "` counts `" + ref + "` by team";
            if (ref.scope() == Scope.ORG && (team == null || team.unit() == null)) {
                return (team == null ? "belongs to no team" : "is in team `" + team.name() + "`, which is in no org unit")
                        + ", and policy `" + policy.name() + "` counts `" + ref + "` by org";
            }
        }
        return null;
    }

    /**
     * A counter's name in the store: whose it is ({@code k/KEY}, {@code p/POLICY},
     * {@code t/TEAM}, {@code o/UNIT}, {@code u/KEY/USER}; {@code c/KEY} a sub-key's
     * carve-out, {@link #carved}) and what it counts. Team and unit
     * names are the operator's, checked to be plain words; {@code user} is never the
     * caller's string but the gateway's name for the end user's place (a slot number,
     * {@code overflow}, or {@code -} for requests that name none).
     */
    public static String name(CounterRef ref, String keyId, String policy, String team, String unit, String user) {
        String whose = switch (ref.scope()) {
            case USER -> "u/" + keyId + "/" + java.util.Objects.requireNonNull(user, "no end user");
            case KEY -> "k/" + keyId;
            case POLICY -> "p/" + policy;
            case TEAM -> "t/" + java.util.Objects.requireNonNull(team, "no team");
            case ORG -> "o/" + java.util.Objects.requireNonNull(unit, "no org unit");
        };
        return whose + "/" + ref;
    }

    int index(CounterRef ref) {
        // Compiled policies pass the very CounterRef objects of their limits: try identity first.
        for (int i = 0; i < refs.length; i++) if (refs[i] == ref) return i;
        for (int i = 0; i < refs.length; i++) if (refs[i].equals(ref)) return i;
        return -1;
    }
}
