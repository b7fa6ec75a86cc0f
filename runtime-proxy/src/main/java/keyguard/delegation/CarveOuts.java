package keyguard.delegation;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import keyguard.audit.AuditLog;
import keyguard.counters.Enforcer;
import keyguard.counters.KeyCounters;
import keyguard.counters.OutsideOrganisation;
import keyguard.keys.KeyRecord;
import keyguard.keys.KeyState;
import keyguard.keys.KeyStore;
import keyguard.policy.Money;
import keyguard.policy.OrgChart;
import keyguard.policy.Policy;
import keyguard.revision.LoadedPolicies;

/**
 * Budget carve-outs of sub-keys: a slice of the parent's budgets by key, reserved when the
 * sub-key is minted, spent by the sub-key (and the sub-keys below it that hold none of their
 * own) in place of its root's budgets, and given back, less what was spent, when it ends.
 *
 * <p>Invariants:
 * <ul>
 *   <li>A carve-out is reserved on every budget by key of the parent (its root's, or the
 *       carve-out the parent spends from), all or nothing, in their current periods; the
 *       sub-key expires no later than the earliest of those periods ends
 *       ({@link KeyRecord.CarveOut#ends}), so it is never spent in a period it was not
 *       reserved in. Only the budgets it was reserved on are the carve-out's: one a policy
 *       reload adds later stays the root's.</li>
 *   <li>What a family spends is counted once: a sub-key's spend goes to its carve-out's
 *       counters, which were reserved from the parent's, never to the parent's again.</li>
 *   <li>A carve-out is returned when its holder, or a key above it, is revoked or expired,
 *       on each budget whose period is not over: the room left in the holder's counter is
 *       taken (it can spend no more) and given to the parent's, and spend beyond the
 *       carve-out (a request that used more than it reserved) is moved to the parent's. A
 *       sweep repeats that for every ended holder until its last period ends
 *       ({@link KeyRecord.CarveOut#until}), so what a reservation in flight at revocation did
 *       not use comes back too, and a return missed by a process that stopped is made by the
 *       next.</li>
 * </ul>
 * A fleet's counters are slices only their node can give back to, so a fleet refuses
 * carve-outs ({@link Enforcer#reserveCarveOut}).
 */
public final class CarveOuts implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("keyguard.keys");

    private final Enforcer enforcer;
    private final KeyStore keys;
    private final Supplier<LoadedPolicies> policies;
    private final AuditLog audit;
    private final Clock clock;
    private ScheduledExecutorService sweeper;

    public CarveOuts(Enforcer enforcer, KeyStore keys, Supplier<LoadedPolicies> policies, AuditLog audit, Clock clock) {
        this.enforcer = enforcer;
        this.keys = keys;
        this.policies = policies;
        this.audit = audit;
        this.clock = clock;
    }

    /**
     * The counters a key's requests use under {@code policy}: a sub-key's are its root's,
     * with the budgets by key of the carve-out it spends from, if any.
     *
     * @throws OutsideOrganisation when the policy counts by team or org and the key has no team or unit
     */
    public static KeyCounters counters(Enforcer enforcer, KeyRecord key, OrgChart org, Policy policy) {
        KeyRecord.CarveOut c = key.carveOut();
        return c == null ? enforcer.counters(key.counterKey(), key.team(org), policy)
                : enforcer.counters(key.counterKey(), c.holder(), c.micros(), c.budgets(), key.team(org), policy);
    }

    /** A carve-out that cannot be made, and why. */
    public static final class Refused extends Exception {
        public Refused(String reason) {
            super(reason, null, false, false);
        }
    }

    /**
     * Reserves a carve-out of {@code micros} for a sub-key {@code holder} of {@code parent}
     * under {@code lp}, now, on the budgets by key the parent spends from: the carve-out to
     * store on the sub-key. Its {@code ends} is the latest the sub-key may expire. Call it
     * where the sub-key is stored under the key store's lock, and {@link #release} it if the
     * sub-key is not stored.
     */
    public KeyRecord.CarveOut reserve(KeyRecord parent, String holder, long micros, LoadedPolicies lp, Policy policy) throws Refused {
        long now = clock.millis();
        KeyCounters from;
        try {
            from = counters(enforcer, parent, lp.set().org(), policy);
        } catch (OutsideOrganisation e) {
            throw new Refused("this key " + e.reason());
        }
        Enforcer.CarveOutSource source = enforcer.carveOutSource(from, now);
        String refused = enforcer.reserveCarveOut(from, micros, now);
        if (refused != null) throw new Refused(refused);
        return new KeyRecord.CarveOut(holder, micros, Instant.ofEpochMilli(now), Instant.ofEpochMilli(source.firstEnd()),
                Instant.ofEpochMilli(source.lastEnd()), source.budgets());
    }

    /** Undoes {@link #reserve}: the sub-key holding {@code carve} was not stored. */
    public void release(KeyRecord parent, KeyRecord.CarveOut carve, LoadedPolicies lp, Policy policy) {
        try {
            enforcer.releaseCarveOut(counters(enforcer, parent, lp.set().org(), policy), carve.micros(), carve.reservedAt().toEpochMilli());
        } catch (OutsideOrganisation e) {
            // reserved under it a moment ago: cannot happen with one revision
        }
    }

    /**
     * Returns what {@code ended} (revoked or expired, holding a carve-out) did not spend to
     * the budgets it was carved from, and moves what it spent beyond its carve-out to them;
     * the micro-dollars returned by this call (0 when nothing was left, or its periods are
     * over, or a sweep came first). Safe to repeat. Audited when it returns something.
     */
    public long giveBack(KeyRecord ended, String actor) {
        KeyRecord.CarveOut c = ended.carveOut();
        if (!ended.holdsCarveOut() || !clock.instant().isBefore(c.until())) return 0;
        KeyRecord parent = keys.get(ended.delegated().parent());
        LoadedPolicies lp = policies.get();
        Policy policy = lp.set().policy(ended.policy());
        if (parent == null || policy == null) return 0; // the policy was removed: its counters are no one's any more
        long returned;
        try {
            returned = enforcer.returnCarveOut(counters(enforcer, ended, lp.set().org(), policy), counters(enforcer, parent, lp.set().org(), policy),
                    c.reservedAt().toEpochMilli(), clock.millis());
        } catch (OutsideOrganisation e) {
            return 0; // nothing of this key's was ever counted under the loaded revision
        }
        if (returned > 0) {
            audit.recordAdmin(actor, "keys.carve_out.return", ended.id(), "returned " + Money.format(returned) + " usd of a carve-out of "
                    + Money.format(c.micros()) + " usd to key " + parent.id());
        }
        return returned;
    }

    /** Whether {@code k} or a key above it is revoked or expired (as {@code KeyAuth} decides: then it is refused). */
    private boolean ended(KeyRecord k, Instant now) {
        for (int level = 0; k != null && level <= keyguard.policy.Delegation.MAX_DEPTH; level++) {
            if (k.state() == KeyState.REVOKED || k.expired(now)) return true;
            if (k.delegated() == null) return false;
            k = keys.get(k.delegated().parent());
        }
        return true; // a key above it is gone
    }

    /** Gives back the carve-outs of every ended holder whose period is not over: the deepest first, so that each reaches the key above it before that one's returns. */
    public int sweep() {
        Instant now = clock.instant();
        List<KeyRecord> ended = new ArrayList<>();
        for (KeyRecord k : keys.all()) {
            if (k.holdsCarveOut() && now.isBefore(k.carveOut().until()) && ended(k, now)) ended.add(k);
        }
        ended.sort(Comparator.comparingInt((KeyRecord k) -> k.delegated().depth()).reversed());
        int n = 0;
        for (KeyRecord k : ended) if (giveBack(k, "keyguard") > 0) n++;
        return n;
    }

    /** Sweeps every {@code every} on a daemon thread until {@link #close}. */
    public synchronized void start(Duration every) {
        if (sweeper != null) return;
        sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "keyguard-carve-outs");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(() -> {
            try {
                sweep();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "returning the carve-outs of ended sub-keys failed; the next sweep retries", e);
            }
        }, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public synchronized void close() {
        if (sweeper == null) return;
        sweeper.shutdownNow();
        try {
            sweeper.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
