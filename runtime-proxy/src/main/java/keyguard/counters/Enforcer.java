package keyguard.counters;

import java.time.Clock;
import java.time.Duration;
import java.time.ZoneId;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import keyguard.policy.BudgetSpec;
import keyguard.policy.Decision;
import keyguard.policy.Limit;
import keyguard.policy.Metric;
import keyguard.policy.Money;
import keyguard.policy.OrgChart;
import keyguard.policy.Period;
import keyguard.policy.Policy;

/**
 * Holds the promises of policies on a {@link CounterStore}: reserve before forwarding,
 * settle after, release whatever is abandoned.
 *
 * <ul>
 *   <li>{@link #admit}: reserves one request, its tokens (prompt + output cap) and its
 *       worst-case cost on every counter of the key's policy, in decision order. Each
 *       counter checks and adds in one CAS; if one refuses, those already taken are given
 *       back and nothing stays reserved.</li>
 *   <li>{@link #settle}: replaces the reservation by the actual usage, frees the
 *       concurrency slot and the lease. Exactly once per admitted request.</li>
 *   <li>{@link #requestGate}: before a request's prompt is counted, whether its
 *       {@code limit requests} have room; {@link #countRefused}: a request refused after the
 *       gate still takes one unit of each {@code requests} counter with room.</li>
 *   <li>A reaper releases leases past their expiry (a stream that was lost) and, in any
 *       process sharing the data directory, those of processes that died.</li>
 * </ul>
 */
public final class Enforcer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("keyguard.counters");
    private static final System.Logger BUDGET_LOG = System.getLogger("keyguard.budget");
    /**
     * Words of a counter's row past what its kind and a fleet's slice use (a window takes
     * 0–12, a fleet slice 0–1): the period (+1) whose budget warning was logged, whose soft
     * cap was logged exceeded, and the alert latch — for a budget
     * {@code (period + 1) << 20 | thresholds fired}, for a limit {@code hour << 24 | refusals}.
     */
    private static final int WARNED_WORD = 13;
    private static final int EXCEEDED_WORD = 14;
    private static final int ALERT_WORD = 15;
    private static final long HOUR = 3_600_000;

    private final CounterStore store;
    private final Ledger ledger;
    private final Clock clock;
    private final long leaseMillis;
    private final ConcurrentHashMap<String, KeyCounters> byKey = new ConcurrentHashMap<>();
    /** The counters of keys spending from a sub-key's carve-out, by the holder's id ({@link Plan#carved}). */
    private final ConcurrentHashMap<String, KeyCounters> byCarveOut = new ConcurrentHashMap<>();
    /** The plan of each policy name and team, for its latest revision (a reload replaces it, so old revisions are not kept). */
    private final ConcurrentHashMap<String, Plan> plans = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Calendar> calendars = new ConcurrentHashMap<>();
    private final ScheduledExecutorService reaper;
    /** Counts refused requests that need the store ({@link #countRefused}); stopped before the store closes. */
    private final java.util.concurrent.ThreadPoolExecutor counting = new java.util.concurrent.ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
            new java.util.concurrent.ArrayBlockingQueue<>(1024), r -> {
                Thread t = new Thread(r, "keyguard-count-refused");
                t.setDaemon(true);
                return t;
            }, new java.util.concurrent.ThreadPoolExecutor.DiscardPolicy());
    private volatile boolean closed;
    /** Where crossings of watched thresholds go ({@code keyguard.alerts.AlertCenter}); none by default. */
    private volatile java.util.function.Consumer<Crossing> alerts;

    /**
     * @param leaseTtl how long a reservation may stay unsettled before the reaper releases it
     * @param reapEvery how often the reaper looks; {@code null} for none (tests call {@link #reap})
     */
    public Enforcer(CounterStore store, Clock clock, Duration leaseTtl, Duration reapEvery) {
        this(store, LocalLedger.INSTANCE, clock, leaseTtl, reapEvery);
    }

    /** With a ledger other than the store's own rows (a fleet's slices). */
    public Enforcer(CounterStore store, Ledger ledger, Clock clock, Duration leaseTtl, Duration reapEvery) {
        this.store = store;
        this.ledger = ledger;
        store.ledger(ledger);
        this.clock = clock;
        this.leaseMillis = leaseTtl.toMillis();
        if (reapEvery == null) {
            reaper = null;
        } else {
            reaper = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "keyguard-reaper");
                t.setDaemon(true);
                return t;
            });
            reaper.scheduleWithFixedDelay(this::reapQuietly, reapEvery.toMillis(), reapEvery.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    public Clock clock() { return clock; }

    /** Sends each first crossing of an {@code alert} threshold to {@code listener}, on the thread that saw it (it must not block). */
    public void alerts(java.util.function.Consumer<Crossing> listener) {
        this.alerts = listener;
    }

    /** The counters of a key outside the organisation under {@code policy}, bound on first use and after a policy reload. */
    public KeyCounters counters(String keyId, Policy policy) {
        return counters(keyId, null, policy);
    }

    /**
     * The key's counters under {@code policy} as a key of {@code team} (null for none): the
     * policy's and the team's and its org unit's limits and budgets. Bound on first use and
     * after a policy reload or a move to another team.
     *
     * @throws OutsideOrganisation when the policy counts by team or org and the key has no team or unit
     */
    public KeyCounters counters(String keyId, OrgChart.Team team, Policy policy) {
        return counters(keyId, null, 0, java.util.List.of(), team, policy);
    }

    /**
     * As {@link #counters(String, OrgChart.Team, Policy)}, for a key that spends from the
     * carve-out of {@code carveMicros} held by sub-key {@code carveHolder} (null for none),
     * reserved on the budgets by key named {@code carvedBudgets}: those are then the
     * holder's counters, capped at the carve-out ({@link Plan#carved}); every other counter
     * is {@code keyId}'s, as for its root.
     */
    public KeyCounters counters(String keyId, String carveHolder, long carveMicros, java.util.List<String> carvedBudgets, OrgChart.Team team,
                                Policy policy) {
        // A carve-out's holder is one sub-key of one root: its id alone names the counters (no key to build per request).
        ConcurrentHashMap<String, KeyCounters> cache = carveHolder == null ? byKey : byCarveOut;
        String cacheKey = carveHolder == null ? keyId : carveHolder;
        KeyCounters kc = cache.get(cacheKey);
        if (kc != null && kc.plan.policy == policy && kc.plan.team == team) return kc;
        String planKey = team == null ? policy.name() : policy.name() + "/" + team.name();
        Plan shared = plans.compute(planKey, (name, had) -> had != null && had.policy == policy && had.team == team ? had
                : Plan.of(policy, team, this::calendar));
        Plan plan = carveHolder == null ? shared : shared.carved(carveHolder, carveMicros, java.util.Set.copyOf(carvedBudgets));
        String outside = plan.outside();
        if (outside != null) throw new OutsideOrganisation(keyId, outside);
        long[] ids = new long[plan.size()];
        long[] rows = new long[plan.size()];
        Object[] handles = new Object[plan.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = store.id(plan.name(i, keyId, NO_END_USER));
            rows[i] = store.row(ids[i]);
            handles[i] = ledger.bind(ids[i], rows[i], plan.spec(i, keyId, NO_END_USER));
        }
        kc = new KeyCounters(keyId, NO_END_USER, plan, ids, rows, handles, ledger, clock);
        cache.put(cacheKey, kc);
        return kc;
    }

    /**
     * The budgets a carve-out for a sub-key of {@code parent}'s key would be reserved on: its
     * budgets by key ({@code spend.key.day}...), those of the carve-out it spends from
     * included; and when their current periods end, the first and the last
     * ({@code [first, last]} in milliseconds; empty names when there are none).
     */
    public record CarveOutSource(java.util.List<String> budgets, long firstEnd, long lastEnd) {}

    public CarveOutSource carveOutSource(KeyCounters parent, long now) {
        java.util.List<String> budgets = new java.util.ArrayList<>();
        long first = Long.MAX_VALUE;
        long last = 0;
        Plan plan = parent.plan;
        for (int i = 0; i < plan.size(); i++) {
            if (!plan.carvable(i)) continue;
            budgets.add(plan.refs[i].toString());
            long end = plan.calendars[i].at(now).endMillis();
            first = Math.min(first, end);
            last = Math.max(last, end);
        }
        return new CarveOutSource(java.util.List.copyOf(budgets), first, last);
    }

    /**
     * Reserves a carve-out of {@code micros} for a sub-key on each budget by key of
     * {@code parent} ({@link #carveOutSource}) in its current period, all or nothing: a hard
     * budget takes it within its cap, a soft one if it stays within its amount. The units
     * stay counted until {@link #returnCarveOut} gives back what the sub-key did not spend.
     * Null when reserved; otherwise why not, and nothing is held. May wait for the store
     * (not on an IO thread).
     */
    public String reserveCarveOut(KeyCounters parent, long micros, long now) {
        Plan plan = parent.plan;
        if (!ledger.givesBackAnywhere()) {
            return "a fleet cannot yet return a carve-out to its parent's budget: in fleet mode a sub-key spends from its root's budgets (mint it without `budget_usd`)";
        }
        int taken = 0;
        for (int i = 0; i < plan.size(); i++) {
            if (!plan.carvable(i)) continue;
            long tag = parent.tag(i, now);
            long amount = plan.limits[i].amount();
            boolean soft = plan.caps[i] == Long.MAX_VALUE;
            int r = soft && parent.used(i, now) > amount - micros ? Ledger.NO_ROOM : parent.acquire(i, tag, micros, now);
            if (r != Ledger.OK) {
                giveBack(parent, micros, i, now);
                return r == Ledger.UNAVAILABLE ? "the counter store cannot be reached; try again"
                        : "a carve-out of " + Money.format(micros) + " usd does not fit in " + plan.limits[i].id() + " of this key: "
                        + Money.format(Math.max(0, amount - parent.used(i, now))) + " usd of " + Money.format(amount) + " usd is left";
            }
            taken++;
        }
        return taken == 0 ? "policy `" + plan.policy.name() + "` has no budget by key to carve from" : null;
    }

    /** Undoes {@link #reserveCarveOut} of {@code micros} at {@code reservedAt} (the sub-key could not be stored). */
    public void releaseCarveOut(KeyCounters parent, long micros, long reservedAt) {
        giveBack(parent, micros, parent.plan.size(), reservedAt);
    }

    private void giveBack(KeyCounters parent, long micros, int upTo, long reservedAt) {
        for (int k = 0; k < upTo; k++) {
            if (parent.plan.carvable(k)) ledger.give(parent.ids[k], parent.rows[k], Lease.SPEND, parent.tag(k, reservedAt), micros, true);
        }
    }

    /**
     * Settles the carve-out of the holder (counters {@code holder}) with {@code parent}'s
     * budgets, on each budget it was reserved on ({@code reservedAt}) whose period is not
     * over: the room left in the holder's counter is taken (it can spend no more) and given
     * back to the parent's; spend beyond the carve-out (a request that used more than it
     * reserved) is moved to the parent's, so the family's spend is all on its root's
     * budgets. Safe to repeat, on any process of the data directory: what a later call finds
     * (a reservation of the holder settled for less than it took) is settled then. The most
     * micro-dollars given back on one budget.
     */
    public long returnCarveOut(KeyCounters holder, KeyCounters parent, long reservedAt, long now) {
        Plan plan = holder.plan;
        long returned = 0;
        for (int i = 0; i < plan.size(); i++) {
            int j = plan.carved(i) ? parent.plan.index(plan.refs[i]) : -1;
            if (j < 0) continue; // not the carve-out's, or no longer a budget of the parent's: nothing to settle with
            long tag = holder.tag(i, now);
            if (tag != holder.tag(i, reservedAt) || tag != parent.tag(j, now)) continue; // the period is over: the parent's budget started afresh
            long left = plan.caps[i] - holder.used(i, now);
            if (left > 0 && holder.acquire(i, tag, left, now) == Ledger.OK) {
                ledger.give(parent.ids[j], parent.rows[j], Lease.SPEND, tag, left, false);
                returned = Math.max(returned, left);
            } else if (left < 0) {
                ledger.give(holder.ids[i], holder.rows[i], Lease.SPEND, tag, -left, false);
                parent.addLate(j, now, -left);
            }
        }
        return returned;
    }

    /** The place of requests that name no end user: they share one set of {@code by user} counters. */
    private static final String NO_END_USER = "-";

    /**
     * The counters of a request made for {@code endUser} (null: it names none) with key
     * counters {@code kc}: the same counters, with the {@code by user} ones the end user's
     * own ({@link EndUserSlots}). {@code kc} itself when the policy counts by no end user or
     * the request names none; the key's overflow counters when it tracks as many end users
     * as its policy's {@code end_users max} and none of them is idle; null then if the policy
     * says {@code overflow refuse}. Never blocks.
     */
    public KeyCounters forUser(KeyCounters kc, String endUser, long now) {
        if (!kc.plan.countsEndUsers || endUser == null) return kc;
        EndUserSlots slots = kc.endUsers;
        if (slots == null) {
            synchronized (kc) {
                if (kc.endUsers == null) kc.endUsers = new EndUserSlots(kc.plan.policy.endUsers().max(), kc.plan.policy.endUsers().overflowShared());
                slots = kc.endUsers;
            }
        }
        long h = EndUserSlots.hash(endUser, store.salt());
        int start = (int) Long.remainderUnsigned(h, slots.capacity);
        int probes = Math.min(EndUserSlots.PROBES, slots.capacity);
        EndUserSlots table = slots;
        for (int k = 0; k < probes; k++) { // its own slot, or a free one
            EndUserSlots.Slot slot = table.slot((start + k) % table.capacity, s -> bindSlot(kc, s));
            while (true) {
                long owner = Cell.get(slot.ownerRow(), 0);
                if (owner == h) return slot.counters();
                if (owner != 0) break;
                if (Cell.cas(slot.ownerRow(), 0, 0, h)) return slot.counters();
            }
        }
        for (int k = 0; k < probes; k++) { // one whose end user is idle on every counter
            EndUserSlots.Slot slot = table.slot((start + k) % table.capacity, s -> bindSlot(kc, s));
            long owner = Cell.get(slot.ownerRow(), 0);
            if (owner == h) return slot.counters();
            if (idle(slot.counters(), now) && Cell.cas(slot.ownerRow(), 0, owner, h)) {
                // Its old end user may have reserved between the look and the swap: then it is not idle, and goes back.
                if (idle(slot.counters(), now)) return slot.counters();
                Cell.cas(slot.ownerRow(), 0, h, owner);
            }
        }
        return table.overflowShared ? table.overflow(() -> bindUser(kc, "overflow")) : null;
    }

    private EndUserSlots.Slot bindSlot(KeyCounters kc, int index) {
        long ownerRow = store.row(store.id("u/" + kc.keyId + "/" + index + "/owner"));
        return new EndUserSlots.Slot(ownerRow, bindUser(kc, Integer.toString(index)));
    }

    /** {@code kc}'s counters with the {@code by user} ones bound to the place {@code user}. */
    private KeyCounters bindUser(KeyCounters kc, String user) {
        Plan plan = kc.plan;
        long[] ids = kc.ids.clone();
        long[] rows = kc.rows.clone();
        Object[] handles = kc.handles.clone();
        for (int i = 0; i < ids.length; i++) {
            if (plan.refs[i].scope() != keyguard.policy.Scope.USER) continue;
            ids[i] = store.id(plan.name(i, kc.keyId, user));
            rows[i] = store.row(ids[i]);
            handles[i] = ledger.bind(ids[i], rows[i], plan.spec(i, kc.keyId, user));
        }
        return new KeyCounters(kc.keyId, user, plan, ids, rows, handles, ledger, clock);
    }

    /** Whether nothing of an end user's is counted any more: its windows passed, its budget periods ended, nothing in flight. */
    private static boolean idle(KeyCounters kc, long now) {
        for (int i = 0; i < kc.plan.size(); i++) {
            if (kc.plan.refs[i].scope() == keyguard.policy.Scope.USER && kc.used(i, now) != 0) return false;
        }
        return true;
    }

    /** End users holding a place of the key, as this process knows them ({@code /admin/keys/{id}/usage}). */
    public int endUsersTracked(KeyCounters kc) {
        EndUserSlots slots = kc.endUsers;
        return slots == null ? 0 : slots.held();
    }

    private Calendar calendar(ZoneId zone, Period period) {
        return calendars.computeIfAbsent(zone.getId() + "/" + period.word(), k -> new Calendar(zone, period));
    }

    /**
     * Reserves a request needing {@code tokens} (prompt + output cap) and costing at most
     * {@code costMicros}: a {@link Lease} to settle, or a {@link Refused} or
     * {@link Overloaded} with nothing held, or {@link NeedsStore}: a fleet ledger must ask
     * its store — call {@link #admitWaiting} on a thread that may wait. Never blocks.
     */
    public Admission admit(KeyCounters kc, long tokens, long costMicros) {
        return admit(kc, tokens, costMicros, false);
    }

    /**
     * As {@link #admit}, waiting for the store where a counter needs it (a fleet's slice ran
     * out): a {@link Lease}, {@link Refused}, {@link Overloaded} or {@link StoreUnavailable}.
     * Not on an IO thread.
     */
    public Admission admitWaiting(KeyCounters kc, long tokens, long costMicros) {
        return admit(kc, tokens, costMicros, true);
    }

    private Admission admit(KeyCounters kc, long tokens, long costMicros, boolean wait) {
        if (closed) throw new IllegalStateException("the gateway is shutting down");
        long now = clock.millis();
        Plan plan = kc.plan;
        Lease lease = store.claim(now + leaseMillis);
        if (lease == null) return new Overloaded(store.leasesInUse());
        lease.owner(kc);
        for (int i = 0; i < plan.size(); i++) {
            long amount = switch (plan.kinds[i]) {
                case Lease.TOKENS -> tokens;
                case Lease.SPEND -> costMicros;
                default -> 1;
            };
            long tag = kc.tag(i, now);
            lease.record(i, kc.ids[i], plan.kinds[i] | (plan.refs[i].scope() == keyguard.policy.Scope.USER ? Lease.LOCAL : 0), tag, amount);
            int r = wait ? kc.acquire(i, tag, amount, now) : kc.tryAdd(i, tag, amount, now);
            if (r != Ledger.OK) {
                lease.dropLast();
                for (int k = lease.count() - 1; k >= 0; k--) {
                    int c = lease.counter(k);
                    ledger.give(kc.ids[c], kc.rows[c], plan.kinds[c], lease.tag(k), lease.amount(k), true);
                    lease.dropLast();
                }
                store.free(lease);
                return switch (r) {
                    case Ledger.MISS -> NeedsStore.INSTANCE;
                    case Ledger.UNAVAILABLE -> new StoreUnavailable(plan.limits[i]);
                    default -> refusal(kc, plan.limits[i], now, amount);
                };
            }
        }
        return lease;
    }

    /**
     * The gate every authenticated request passes before its prompt is counted or scanned:
     * the first {@code limit requests} without room for one more request, as a refusal, or
     * null when all have room. Counts nothing: an admitted request is counted by
     * {@link #admit}, a refused one by {@link #countRefused}. Reads the counter as the
     * ledger knows it (in a fleet, the whole fleet's requests as last synchronised: a
     * request counter only grows within its window, so the gate can be early only by the
     * buckets that left the window since, never late).
     */
    public Refused requestGate(KeyCounters kc, long now) {
        Plan plan = kc.plan;
        for (int i = 0; i < plan.size(); i++) {
            if (plan.kinds[i] != Lease.REQUESTS || plan.limits[i] == null || plan.caps[i] == Long.MAX_VALUE) continue;
            long tag = kc.tag(i, now);
            if (plan.caps[i] - ledger.used(kc.handles[i], kc.rows[i], tag, now) < 1) return refusal(kc, plan.limits[i], now, 1);
        }
        return null;
    }

    /**
     * Counts a request that was refused after the gate (a model the policy does not allow, a
     * data rule, a parameter, a token limit or budget) on every {@code requests} counter that
     * has room, so that refused requests use up the key's request limit as admitted ones do.
     * Never blocks: a fleet counter whose slice is spent asks Redis on the enforcer's one
     * counting thread (a bounded queue; a grant then covers the next refusals locally, so few
     * ever wait there). A count that finds the queue full is dropped: the queue fills only
     * while Redis is slow, and the counter is then near its cap anyway.
     */
    public void countRefused(KeyCounters kc) {
        if (closed) return;
        long now = clock.millis();
        Plan plan = kc.plan;
        for (int i = 0; i < plan.size(); i++) {
            if (plan.kinds[i] != Lease.REQUESTS) continue;
            long tag = kc.tag(i, now);
            if (kc.tryAdd(i, tag, 1, now) == Ledger.MISS) {
                int counter = i;
                counting.execute(() -> {
                    if (!closed) kc.acquire(counter, tag, 1, now);
                });
            }
        }
    }

    /**
     * Why {@code limit} refuses {@code need} more units at {@code now}: what it holds, when
     * the request would fit, when the counter resets. Every refusal by a limit or budget
     * (the request gate's, the decision's, the admission's) is answered with this, once: it
     * also counts the refusal for the limit's {@code alert ... after N}.
     */
    public Refused refusal(KeyCounters kc, Limit limit, long now, long need) {
        int i = kc.plan.index(limit.counter());
        long used = i < 0 ? 0 : kc.used(i, now);
        if (i < 0) return new Refused(limit, used, 1000, 0);
        refusedBy(kc, i, now);
        long row = kc.rows[i];
        return switch (kc.plan.kinds[i]) {
            case Lease.SPEND -> {
                long end = kc.plan.calendars[i].at(now).endMillis();
                yield new Refused(limit, used, end - now, end);
            }
            // In-flight requests end when they end: suggest a second, as OpenAI does.
            case Lease.CONCURRENT -> new Refused(limit, used, 1000, 0);
            default -> new Refused(limit, used, ledger.millisUntilFits(kc.handles[i], row, now, need),
                    now + ledger.millisUntilEmpty(kc.handles[i], row, now));
        };
    }

    /** Units a limit of {@code metric} needs for this request. */
    public static long need(Metric metric, long tokens, long costMicros) {
        return switch (metric) {
            case TOKENS -> tokens;
            case SPEND -> costMicros;
            default -> 1;
        };
    }

    /**
     * Settles an admitted request with what it used. {@code consumed} false (the upstream
     * refused or failed before answering) charges no tokens and no cost; the request stays
     * counted. If a reaper released the reservation first, the usage is charged afresh.
     */
    public void settle(Lease lease, boolean consumed, long tokens, long costMicros) {
        if (closed) {
            LOG.log(System.Logger.Level.WARNING, "a request ended after the counters were closed; its usage is not counted");
            return;
        }
        long now = clock.millis();
        KeyCounters kc = lease.owner();
        Plan plan = kc.plan;
        long usedTokens = consumed ? Math.max(0, tokens) : 0;
        long usedCost = consumed ? Math.max(0, costMicros) : 0;
        if (lease.take()) {
            for (int k = lease.count() - 1; k >= 0; k--) {
                int i = lease.counter(k);
                int kind = plan.kinds[i];
                long actual = kind == Lease.TOKENS ? usedTokens : kind == Lease.SPEND ? usedCost : -1;
                long reserved = lease.amount(k);
                if (kind == Lease.CONCURRENT) ledger.give(kc.ids[i], kc.rows[i], kind, lease.tag(k), reserved, false);
                else if (actual >= 0 && actual < reserved) ledger.give(kc.ids[i], kc.rows[i], kind, lease.tag(k), reserved - actual, false);
                else if (actual > reserved) kc.addLate(i, now, actual - reserved);
                ledger.settled(kc.handles[i], lease.tag(k));
                lease.dropLast();
            }
        } else {
            LOG.log(System.Logger.Level.WARNING, "a reservation of key " + kc.keyId + " outlived its lease and was released;"
                    + " charging its usage now");
            for (int k = 0; k < lease.count(); k++) {
                int i = lease.counter(k);
                int kind = plan.kinds[i];
                if (kind == Lease.TOKENS) kc.addLate(i, now, usedTokens);
                else if (kind == Lease.SPEND) kc.addLate(i, now, usedCost);
            }
        }
        store.free(lease);
        if (consumed && alerts != null) watchBudgets(kc, now);
    }

    /**
     * Hands each budget alert threshold the counter's spend reached for the first time in its
     * period to the alert listener: the first to set the threshold's bit in the row's latch
     * word does, so every threshold fires once per period and counter, across requests,
     * processes on one data directory and restarts.
     */
    private void watchBudgets(KeyCounters kc, long now) {
        Plan plan = kc.plan;
        for (int i = 0; i < plan.size(); i++) {
            if (plan.watches[i] != null && plan.kinds[i] == Lease.SPEND) watchBudget(kc, i, now, false);
        }
    }

    /**
     * One budget counter's alert thresholds: those its spend reached, and with
     * {@code exhausted} (a hard budget just refused a request) its 100% threshold too, once
     * every lower one was reached. Latch bits: thresholds of a policy's alert in group 0, of
     * a team's or unit's own in group 1, so that every plan sharing the row sets the same bit
     * (two policies' alerts on one shared counter share their group: the first to fire a
     * threshold's position latches it for both).
     */
    private void watchBudget(KeyCounters kc, int i, long now, boolean exhausted) {
        Plan plan = kc.plan;
        Plan.Watch[] watches = plan.watches[i];
        long used = kc.used(i, now);
        Calendar.Span period = plan.calendars[i].at(now);
        for (Plan.Watch w : watches) {
            // A stable bit group per declarer kind: the row is shared by plans that list their watches in other orders.
            int group = w.origin().startsWith("team ") || w.origin().startsWith("org ") ? 1 : 0;
            java.util.List<Integer> percents = w.spec().percents();
            for (int k = 0; k < percents.size(); k++) {
                int percent = percents.get(k);
                // A refusal reaches 100% only once every lower threshold was reached: a large reservation refused at 60% is no "spent".
                boolean reached = used >= BudgetSpec.percentOf(w.amount(), percent) || (exhausted && percent >= 100 && k > 0
                        && used >= BudgetSpec.percentOf(w.amount(), percents.get(k - 1))) || (exhausted && percent == 100 && k == 0);
                if (!reached) break;
                if (latchBudget(kc.rows[i], period.index() + 1, group * 8 + k)) {
                    fire(new Crossing(plan.name(i, kc.keyId, kc.place), w.spec(), w.origin(), w.amount(), percent, 0, used, period.startMillis(),
                            period.endMillis(), kc.keyId, plan.policy.name(), plan.team == null ? null : plan.team.name(),
                            plan.team == null ? null : plan.team.unitName(), now));
                }
            }
        }
    }

    /** Sets bit {@code bit} of the budget row's alert latch for {@code period} (+1); true for the one that set it. */
    private static boolean latchBudget(long row, long period, int bit) {
        while (true) {
            long w = Cell.get(row, ALERT_WORD);
            long mask = (w >>> 20) == period ? w & ((1L << 20) - 1) : 0;
            if ((mask & (1L << bit)) != 0) return false;
            if (Cell.cas(row, ALERT_WORD, w, period << 20 | mask | 1L << bit)) return true;
        }
    }

    /**
     * Counts a refusal by counter {@code i} in its row's latch word for this clock hour, and
     * hands the limit's {@code alert ... after N} to the listener when this was the N-th; a
     * budget's refusal reaches its thresholds up to 100%.
     */
    private void refusedBy(KeyCounters kc, int i, long now) {
        Plan.Watch[] watches = kc.plan.watches[i];
        if (watches == null || alerts == null) return;
        if (kc.plan.kinds[i] == Lease.SPEND) { // a budget that refuses is spent: its thresholds up to 100% are reached
            watchBudget(kc, i, now, true);
            return;
        }
        long hour = now / HOUR;
        long row = kc.rows[i];
        long count;
        while (true) {
            long w = Cell.get(row, ALERT_WORD);
            count = (w >>> 24) == hour ? (w & ((1L << 24) - 1)) + 1 : 1;
            if (Cell.cas(row, ALERT_WORD, w, hour << 24 | Math.min(count, (1L << 24) - 1))) break;
        }
        for (Plan.Watch w : watches) {
            if (w.spec().after() == count) {
                Plan plan = kc.plan;
                fire(new Crossing(plan.name(i, kc.keyId, kc.place), w.spec(), w.origin(), w.amount(), 0, count, kc.used(i, now), hour * HOUR,
                        (hour + 1) * HOUR, kc.keyId, plan.policy.name(), plan.team == null ? null : plan.team.name(),
                        plan.team == null ? null : plan.team.unitName(), now));
            }
        }
    }

    private void fire(Crossing c) {
        java.util.function.Consumer<Crossing> listener = alerts;
        if (listener == null) return;
        try {
            listener.accept(c);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "an alert of " + c.spec().limitId() + " could not be raised", e);
        }
    }

    /**
     * Logs a budget's warnings (its {@code warn at} threshold reached, a soft cap exceeded)
     * once per period and counter, however many requests and processes see them: the first
     * to move the counter's latch word to this period logs.
     */
    public void warnOncePerPeriod(KeyCounters kc, Decision decision, String keyId, long now) {
        Plan plan = kc.plan;
        for (int i = 0; i < plan.size(); i++) {
            if (!(plan.limits[i] instanceof BudgetSpec b)) continue;
            boolean reached = decision.warnings().contains(b.id() + " reached " + b.warnPercent() + "%");
            boolean exceeded = decision.warnings().contains(b.id() + " soft cap exceeded");
            long period = plan.calendars[i].at(now).index() + 1;
            if (reached && latch(kc.rows[i], WARNED_WORD, period)) {
                BUDGET_LOG.log(System.Logger.Level.WARNING, "policy " + plan.policy.name() + ": " + b.id() + " reached "
                        + b.warnPercent() + "% of " + Money.format(b.amount()) + " usd (key " + keyId + ")");
            }
            if (exceeded && latch(kc.rows[i], EXCEEDED_WORD, period)) {
                BUDGET_LOG.log(System.Logger.Level.WARNING, "policy " + plan.policy.name() + ": soft " + b.id() + " of "
                        + Money.format(b.amount()) + " usd exceeded (key " + keyId + ")");
            }
        }
    }

    private static boolean latch(long row, int word, long period) {
        long seen = Cell.get(row, word);
        return seen != period && Cell.cas(row, word, seen, period);
    }

    /** Admitted requests not yet settled, in this process. */
    public int inFlight() { return store.leasesInUse(); }

    /** Releases expired leases and those of dead processes now; returns how many. */
    public int reap() {
        return store.reap(clock.millis());
    }

    private void reapQuietly() {
        try {
            int n = store.reap(clock.millis());
            if (n > 0) LOG.log(System.Logger.Level.WARNING, "released " + n + " reservations that were never settled");
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "the reservation reaper failed", e);
        }
    }

    /**
     * Stops admitting, waits up to {@code drain} for requests in flight to settle, then
     * closes the store. The store's memory is unmapped on close, so nothing may touch a
     * counter afterwards: a settle that arrives later is dropped (and logged), and close
     * leaves a short grace period for calls that were already past the check.
     */
    public void close(Duration drain) {
        closed = true;
        if (reaper != null) {
            reaper.shutdownNow();
            try {
                reaper.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        counting.shutdown();
        try {
            counting.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        long deadline = System.nanoTime() + drain.toNanos();
        try {
            while (store.leasesInUse() > 0 && System.nanoTime() < deadline) Thread.sleep(10);
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        int left = store.leasesInUse();
        if (left > 0) LOG.log(System.Logger.Level.WARNING, left + " requests were still in flight at shutdown; their reservations"
                + " are released and their usage is not counted");
        try {
            ledger.close(); // a fleet ledger reports its slices' final usage: it reads their rows
        } finally {
            store.close();
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(2));
    }
}
