package keyguard.counters;

import java.time.Clock;
import java.util.Map;
import keyguard.policy.CounterRef;
import keyguard.policy.Limit;
import keyguard.policy.Metric;
import keyguard.policy.Policy;
import keyguard.policy.UsageReadings;
import keyguard.policy.UsageView;

/**
 * The counters one key's requests update under one policy revision, bound once: the key's
 * own ({@code by key}) and those it shares with every key of the policy
 * ({@code by policy}). Also the {@link UsageView} its decisions read. Holds only the rows'
 * addresses and ids, so a million keys cost a few hundred bytes each.
 */
public final class KeyCounters implements UsageView {
    final String keyId;
    final Plan plan;
    final long[] ids;
    final long[] rows;
    /** Per counter, the ledger's handle ({@link Ledger#bind}). */
    final Object[] handles;
    final Ledger ledger;
    private final Clock clock;
    /** The places of the key's end users, when its policy counts by user; bound on the first request that names one. */
    volatile EndUserSlots endUsers;

    /** The end user's place these counters' {@code by user} ones count in ({@code -} for requests naming none). */
    final String place;

    KeyCounters(String keyId, String place, Plan plan, long[] ids, long[] rows, Object[] handles, Ledger ledger, Clock clock) {
        this.keyId = keyId;
        this.place = place;
        this.plan = plan;
        this.ids = ids;
        this.rows = rows;
        this.handles = handles;
        this.ledger = ledger;
        this.clock = clock;
    }

    public Policy policy() { return plan.policy; }

    /** Whether the policy counts by end user: a request's counters are then its end user's ({@link Enforcer#forUser}). */
    public boolean countsEndUsers() { return plan.countsEndUsers; }

    @Override
    public long used(CounterRef counter) {
        return used(counter, clock.millis());
    }

    @Override
    public long used(CounterRef counter, long nowMillis) {
        int i = plan.index(counter);
        return i < 0 ? 0 : used(i, nowMillis);
    }

    @Override
    public long usedForCap(CounterRef counter, long nowMillis) {
        int i = plan.index(counter);
        return i < 0 ? 0 : ledger.usedForCap(handles[i], rows[i], tag(i, nowMillis), nowMillis);
    }

    /** A view for one decision that remembers what it read ({@link UsageReadings}), sized for this key's counters. */
    public UsageReadings readings() {
        return new UsageReadings(this, plan.size());
    }

    /** Reads into {@code readings}, as of {@code now}, each of this key's counters it has not read yet. */
    public void readAll(UsageReadings readings, long now) {
        readings.readAll(plan.refs, now);
    }

    /** The limit's counter at {@code now}. */
    public long used(Limit limit, long now) {
        int i = plan.index(limit.counter());
        return i < 0 ? 0 : used(i, now);
    }

    long used(int i, long now) {
        return ledger.used(handles[i], rows[i], tag(i, now), now);
    }

    /** The bucket (windows) or period (budgets) a unit counted at {@code now} goes to. */
    long tag(int i, long now) {
        return switch (plan.kinds[i]) {
            case Lease.SPEND -> plan.calendars[i].at(now).index();
            case Lease.CONCURRENT -> 0;
            default -> SlidingWindow.epoch(now, plan.windows[i]);
        };
    }

    /** {@link Ledger#OK}, {@link Ledger#NO_ROOM} or {@link Ledger#MISS}. */
    int tryAdd(int i, long tag, long amount, long now) {
        return ledger.tryTake(handles[i], rows[i], tag, amount, now);
    }

    /** {@link Ledger#OK}, {@link Ledger#NO_ROOM} or {@link Ledger#UNAVAILABLE}; may wait for the store. */
    int acquire(int i, long tag, long amount, long now) {
        return ledger.acquire(handles[i], rows[i], tag, amount, now);
    }

    /** Adds usage found after the fact (more than was reserved), without a cap. */
    void addLate(int i, long now, long amount) {
        ledger.addLate(handles[i], rows[i], tag(i, now), amount);
    }

    /**
     * Whether the prompt's size decides nothing for this key: no token limit, no budget, no
     * condition reading {@code request.estimated_tokens}. Then a free upper bound can stand
     * in for the count (the reservation is settled with the provider's usage anyway).
     * Where a token limit or a budget applies the gateway always counts exactly: an inflated
     * reservation held by requests in flight could refuse one that fits, and caps must admit
     * exactly what fits.
     */
    public boolean promptSizeDecidesNothing() {
        if (plan.needsExactPrompt) return false;
        for (int i = 0; i < plan.size(); i++) {
            if (plan.kinds[i] == Lease.TOKENS || plan.kinds[i] == Lease.SPEND) return false;
        }
        return true;
    }

    /**
     * OpenAI's rate-limit headers for the tightest {@code requests} and {@code tokens}
     * limits (least remaining), as they stand at {@code now}; none for a metric without a
     * limit.
     */
    public void rateLimitHeaders(long now, Map<String, String> headers) {
        header(Metric.REQUESTS, REQUESTS_HEADERS, now, headers);
        header(Metric.TOKENS, TOKENS_HEADERS, now, headers);
    }

    /** Limit, remaining, reset: the header names, made once. */
    private static final String[] REQUESTS_HEADERS = {"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"};
    private static final String[] TOKENS_HEADERS = {"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"};

    private void header(Metric metric, String[] names, long now, Map<String, String> headers) {
        int tightest = -1;
        long remaining = Long.MAX_VALUE;
        for (int i = 0; i < plan.size(); i++) {
            if (plan.limits[i] == null || plan.refs[i].metric() != metric) continue;
            long left = Math.max(0, plan.caps[i] - used(i, now));
            if (left < remaining) {
                remaining = left;
                tightest = i;
            }
        }
        if (tightest < 0) return;
        headers.put(names[0], Long.toString(plan.caps[tightest]));
        headers.put(names[1], Long.toString(remaining));
        headers.put(names[2], formatDuration(ledger.millisUntilEmpty(handles[tightest], rows[tightest], now)));
    }

    /**
     * One limit or budget of the key's policy as it stands: the cap ({@code amount} of the
     * limit; for a soft budget the amount it warns at, not a cap), what is used now (the
     * same reading as the {@code x-ratelimit-*} headers), milliseconds until the window
     * holds nothing of today, and for a budget its calendar period.
     */
    public record Usage(Limit limit, long used, long millisUntilEmpty, Calendar.Span period, java.time.ZoneId zone) {}

    /** Each limit and budget of the key's policy, in the order of the decision, as of {@code now}. */
    public java.util.List<Usage> usage(long now) {
        java.util.List<Usage> out = new java.util.ArrayList<>();
        for (int i = 0; i < plan.size(); i++) {
            Limit limit = plan.limits[i];
            if (limit == null) continue; // a counter only conditions read
            boolean spend = plan.kinds[i] == Lease.SPEND;
            out.add(new Usage(limit, used(i, now), spend ? 0 : ledger.millisUntilEmpty(handles[i], rows[i], now),
                    spend ? plan.calendars[i].at(now) : null, spend ? plan.calendars[i].zone() : null));
        }
        return out;
    }

    /** Durations the way OpenAI writes them: {@code 20ms}, {@code 1.5s}, {@code 6m0s}, {@code 1h2m3s}. */
    public static String formatDuration(long millis) {
        if (millis < 1000) return millis + "ms";
        if (millis < 60_000) return java.math.BigDecimal.valueOf(millis, 3).stripTrailingZeros().toPlainString() + "s";
        long seconds = (millis + 999) / 1000;
        long h = seconds / 3600;
        long m = seconds % 3600 / 60;
        long s = seconds % 60;
        return h > 0 ? h + "h" + m + "m" + s + "s" : m + "m" + s + "s";
    }
}
