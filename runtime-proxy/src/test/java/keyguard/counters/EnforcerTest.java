package keyguard.counters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import keyguard.policy.CounterRef;
import keyguard.policy.Policy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EnforcerTest {
    @TempDir Path tmp;
    final Fixtures.MovableClock clock = new Fixtures.MovableClock(Instant.parse("2026-03-10T12:00:00Z"));
    final List<Enforcer> open = new ArrayList<>();

    Enforcer enforcer() {
        Enforcer e = new Enforcer(ChronicleCounterStore.open(tmp, 10_000, 1024), clock, Duration.ofMinutes(15), null);
        open.add(e);
        return e;
    }

    @AfterEach
    void close() {
        open.forEach(e -> e.close(Duration.ZERO));
    }

    static long used(KeyCounters kc, String ref) {
        return kc.used(CounterRef.parse(ref));
    }

    @Test
    void requestLimitAdmitsExactlyItsAmountThenRefusesWithRetryAfter() {
        Enforcer e = enforcer();
        KeyCounters kc = e.counters("key1", Fixtures.policy(tmp, "limit requests 5 per 1m by key"));
        for (int i = 0; i < 5; i++) assertInstanceOf(Lease.class, e.admit(kc, 10, 10));
        Refused r = assertInstanceOf(Refused.class, e.admit(kc, 10, 10));
        assertEquals("limit.requests.key.1m", r.limit().id());
        assertEquals(5, r.used());
        assertTrue(r.retryAfterMillis() > 60_000 && r.retryAfterMillis() <= 66_000, "retry after " + r.retryAfterMillis());
        assertEquals(5, used(kc, "requests.key.1m"), "a refused request reserves nothing");
        clock.advance(r.retryAfterMillis());
        assertInstanceOf(Lease.class, e.admit(kc, 10, 10));
    }

    @Test
    void noDoubleBurstAtTheWindowEdge() {
        Enforcer e = enforcer();
        KeyCounters kc = e.counters("key1", Fixtures.policy(tmp, "limit requests 5 per 1m by key"));
        clock.set(Instant.parse("2026-03-10T12:00:59Z"));
        for (int i = 0; i < 5; i++) assertInstanceOf(Lease.class, e.admit(kc, 1, 1));
        clock.set(Instant.parse("2026-03-10T12:01:01Z"));
        assertInstanceOf(Refused.class, e.admit(kc, 1, 1), "a fixed minute would allow a second burst here");
        clock.set(Instant.parse("2026-03-10T12:01:58.999Z"));
        assertInstanceOf(Refused.class, e.admit(kc, 1, 1), "still inside the 60 s after the burst");
        clock.set(Instant.parse("2026-03-10T12:02:05Z"));
        assertInstanceOf(Lease.class, e.admit(kc, 1, 1), "at most a tenth of the window later, the burst has left");
    }

    @Test
    void tokensAreReservedAtTheCapThenSettledToActualUsage() {
        Enforcer e = enforcer();
        KeyCounters kc = e.counters("key1", Fixtures.policy(tmp, "limit tokens 1000 per 1h by key"));
        Lease a = assertInstanceOf(Lease.class, e.admit(kc, 600, 0));
        Refused r = assertInstanceOf(Refused.class, e.admit(kc, 600, 0));
        assertEquals(600, r.used());
        e.settle(a, true, 150, 0);
        assertEquals(150, used(kc, "tokens.key.1h"));
        Lease b = assertInstanceOf(Lease.class, e.admit(kc, 600, 0));
        e.settle(b, true, 900, 0); // longer than reserved: charged in full, even past the limit
        assertEquals(1050, used(kc, "tokens.key.1h"));
    }

    @Test
    void aRequestAloneLargerThanTheLimitCanNeverPass() {
        Enforcer e = enforcer();
        KeyCounters kc = e.counters("key1", Fixtures.policy(tmp, "limit tokens 1000 per 1h by key"));
        Refused r = assertInstanceOf(Refused.class, e.admit(kc, 1001, 0));
        assertEquals(-1, r.retryAfterMillis());
    }

    @Test
    void concurrencySlotsAreHeldUntilSettledAndFailedCallsChargeNoTokens() {
        Enforcer e = enforcer();
        KeyCounters kc = e.counters("key1", Fixtures.policy(tmp, "limit concurrent 2 by key\nlimit tokens 10000 per 1d by key"));
        Lease a = assertInstanceOf(Lease.class, e.admit(kc, 100, 0));
        Lease b = assertInstanceOf(Lease.class, e.admit(kc, 100, 0));
        assertEquals("limit.concurrent.key", assertInstanceOf(Refused.class, e.admit(kc, 100, 0)).limit().id());
        e.settle(a, false, 0, 0);
        assertEquals(1, used(kc, "concurrent.key"));
        assertEquals(100, used(kc, "tokens.key.1d"), "the failed call's reservation is gone, the other's held");
        assertInstanceOf(Lease.class, e.admit(kc, 100, 0));
        e.settle(b, true, 40, 0);
        assertEquals(1, used(kc, "concurrent.key"));
    }

    @Test
    void reservationIsAllOrNothingAcrossLimitsAndBudgets() {
        Enforcer e = enforcer();
        KeyCounters kc = e.counters("key1", Fixtures.policy(tmp, "limit requests 10 per 1m by key\nbudget 0.003 usd per day hard by key"));
        for (int i = 0; i < 3; i++) assertInstanceOf(Lease.class, e.admit(kc, 10, 1000));
        Refused r = assertInstanceOf(Refused.class, e.admit(kc, 10, 1000));
        assertEquals("budget.key.day", r.limit().id());
        assertEquals(3000, r.used());
        assertEquals(Instant.parse("2026-03-11T00:00:00Z").toEpochMilli(), r.resetsAtMillis());
        assertEquals(3, used(kc, "requests.key.1m"), "the request counter gave back the refused request");
    }

    @Test
    void softBudgetsNeverRefuse() {
        Enforcer e = enforcer();
        KeyCounters kc = e.counters("key1", Fixtures.policy(tmp, "budget 0.001 usd per day soft by key"));
        for (int i = 0; i < 5; i++) assertInstanceOf(Lease.class, e.admit(kc, 10, 1000));
        assertEquals(5000, used(kc, "spend.key.day"));
    }

    @Test
    void policyScopedCountersAreSharedByItsKeysAndKeyScopedOnesAreNot() {
        Enforcer e = enforcer();
        Policy p = Fixtures.policy(tmp, "limit requests 3 per 1m by policy\nlimit requests 2 per 1m by key");
        KeyCounters a = e.counters("a", p);
        KeyCounters b = e.counters("b", p);
        assertInstanceOf(Lease.class, e.admit(a, 1, 1));
        assertInstanceOf(Lease.class, e.admit(a, 1, 1));
        assertEquals("limit.requests.key.1m", assertInstanceOf(Refused.class, e.admit(a, 1, 1)).limit().id());
        assertInstanceOf(Lease.class, e.admit(b, 1, 1));
        assertEquals("limit.requests.policy.1m", assertInstanceOf(Refused.class, e.admit(b, 1, 1)).limit().id());
    }

    @Test
    void hardBudgetIsExactUnderConcurrency() throws Exception {
        Enforcer e = enforcer();
        Policy p = Fixtures.policy(tmp, "budget 1 usd per day hard by policy");
        int threads = 8;
        int attempts = 2_000;
        long cost = 7_001; // 142 fit in 1,000,000 micro-dollars, with 8,858 left over
        AtomicInteger admitted = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            KeyCounters kc = e.counters("key" + t, p);
            ts.add(Thread.ofPlatform().start(() -> {
                try { go.await(); } catch (InterruptedException ex) { return; }
                for (int i = 0; i < attempts; i++) {
                    if (e.admit(kc, 1, cost) instanceof Lease lease) {
                        admitted.incrementAndGet();
                        e.settle(lease, true, 1, cost);
                    }
                }
            }));
        }
        go.countDown();
        for (Thread t : ts) t.join();
        assertEquals(142, admitted.get());
        assertEquals(142 * cost, used(e.counters("key0", p), "spend.policy.day"));
    }

    @Test
    void aLeaseNeverSettledIsReleasedAfterItsExpiryAndLateUsageIsStillCharged() {
        Enforcer e = enforcer();
        KeyCounters kc = e.counters("key1", Fixtures.policy(tmp, "limit concurrent 1 by key\nlimit tokens 1000 per 1d by key"));
        Lease lost = assertInstanceOf(Lease.class, e.admit(kc, 800, 0));
        assertEquals(0, e.reap(), "not expired yet");
        clock.advance(Duration.ofMinutes(16).toMillis());
        assertEquals(1, e.reap());
        assertEquals(0, used(kc, "concurrent.key"));
        assertEquals(0, used(kc, "tokens.key.1d"));
        e.settle(lost, true, 300, 0);
        assertEquals(300, used(kc, "tokens.key.1d"));
        assertEquals(0, used(kc, "concurrent.key"));
    }

    @Test
    void countersSurviveARestart() {
        Enforcer e = enforcer();
        Policy p = Fixtures.policy(tmp, "limit requests 100 per 1h by key\nbudget 5 usd per month hard by key");
        KeyCounters kc = e.counters("key1", p);
        for (int i = 0; i < 7; i++) e.settle((Lease) e.admit(kc, 10, 500), true, 10, 300);
        e.close();
        open.clear();
        Enforcer again = enforcer();
        KeyCounters kc2 = again.counters("key1", p);
        assertEquals(7, used(kc2, "requests.key.1h"));
        assertEquals(2100, used(kc2, "spend.key.month"));
    }

    @Test
    void closingReleasesRequestsStillInFlightAndIgnoresTheirLateSettlement() {
        Enforcer e = enforcer();
        Policy p = Fixtures.policy(tmp, "limit concurrent 1 by key\nlimit tokens 1000 per 1d by key");
        Lease inFlight = (Lease) e.admit(e.counters("key1", p), 600, 0);
        e.close(Duration.ofMillis(50));
        open.clear();
        e.settle(inFlight, true, 100, 0); // after close: dropped, not a crash on unmapped memory
        Enforcer again = enforcer();
        KeyCounters kc = again.counters("key1", p);
        assertEquals(0, used(kc, "concurrent.key"));
        assertEquals(0, used(kc, "tokens.key.1d"));
    }

    @Test
    void rateLimitHeadersNameTheTightestLimit() {
        Enforcer e = enforcer();
        KeyCounters kc = e.counters("key1", Fixtures.policy(tmp,
                "limit requests 100 per 1m by key\nlimit requests 3 per 1s by key\nlimit tokens 5000 per 1m by key"));
        e.admit(kc, 1200, 0);
        var headers = new java.util.LinkedHashMap<String, String>();
        kc.rateLimitHeaders(clock.millis(), headers);
        assertEquals("3", headers.get("x-ratelimit-limit-requests"));
        assertEquals("2", headers.get("x-ratelimit-remaining-requests"));
        assertEquals("1.1s", headers.get("x-ratelimit-reset-requests"));
        assertEquals("5000", headers.get("x-ratelimit-limit-tokens"));
        assertEquals("3800", headers.get("x-ratelimit-remaining-tokens"));
        assertEquals("1m6s", headers.get("x-ratelimit-reset-tokens"));
    }

    @Test
    void durationsAreWrittenTheWayOpenAiWritesThem() {
        assertEquals("20ms", KeyCounters.formatDuration(20));
        assertEquals("1.5s", KeyCounters.formatDuration(1500));
        assertEquals("59.001s", KeyCounters.formatDuration(59_001));
        assertEquals("6m0s", KeyCounters.formatDuration(360_000));
        assertEquals("1h0m1s", KeyCounters.formatDuration(3_601_000));
    }
}
