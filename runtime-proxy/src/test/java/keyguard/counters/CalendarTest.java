package keyguard.counters;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import keyguard.policy.CounterRef;
import keyguard.policy.Period;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CalendarTest {
    static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");

    static long at(String instant) { return Instant.parse(instant).toEpochMilli(); }

    @Test
    void aDayAcrossTheSpringDstChangeIs23HoursAndEndsAtLocalMidnight() {
        Calendar.Span s = new Calendar(BERLIN, Period.DAY).at(at("2026-03-29T10:00:00Z"));
        assertEquals(at("2026-03-28T23:00:00Z"), s.startMillis()); // 00:00 CET
        assertEquals(at("2026-03-29T22:00:00Z"), s.endMillis());   // 00:00 CEST
        assertEquals(Duration.ofHours(23).toMillis(), s.endMillis() - s.startMillis());
    }

    @Test
    void aDayAcrossTheAutumnDstChangeIs25Hours() {
        Calendar.Span s = new Calendar(BERLIN, Period.DAY).at(at("2026-10-25T12:00:00Z"));
        assertEquals(Duration.ofHours(25).toMillis(), s.endMillis() - s.startMillis());
    }

    @Test
    void monthsEndAtTheFirstOfTheNextMonthAndLeapFebruaryHas29Days() {
        Calendar month = new Calendar(ZoneOffset.UTC, Period.MONTH);
        Calendar.Span jan = month.at(at("2026-01-31T23:59:59.999Z"));
        Calendar.Span feb = month.at(at("2026-02-01T00:00:00Z"));
        assertEquals(jan.index() + 1, feb.index());
        assertEquals(at("2026-02-01T00:00:00Z"), jan.endMillis());
        Calendar.Span leap = month.at(at("2028-02-29T12:00:00Z"));
        assertEquals(at("2028-03-01T00:00:00Z"), leap.endMillis());
        Calendar day = new Calendar(ZoneOffset.UTC, Period.DAY);
        assertEquals(day.at(at("2028-02-28T12:00:00Z")).index() + 1, day.at(at("2028-02-29T12:00:00Z")).index());
        assertEquals(day.at(at("2028-02-29T12:00:00Z")).index() + 1, day.at(at("2028-03-01T00:00:00Z")).index());
    }

    @Test
    void weeksStartOnMondayInTheZone() {
        Calendar.Span w = new Calendar(BERLIN, Period.WEEK).at(at("2026-11-29T22:59:59Z")); // Sunday 23:59:59 local
        assertEquals(at("2026-11-22T23:00:00Z"), w.startMillis()); // Monday 00:00 local
        assertEquals(at("2026-11-29T23:00:00Z"), w.endMillis());
    }

    @Test
    void budgetsResetAtLocalMidnightOfTheirZone(@TempDir Path tmp) {
        Fixtures.MovableClock clock = new Fixtures.MovableClock(Instant.parse("2026-03-29T21:30:00Z")); // 23:30 CEST
        try (Enforcer e = new Enforcer(ChronicleCounterStore.open(tmp, 1000, 64), clock, Duration.ofMinutes(15), null)) {
            KeyCounters kc = e.counters("k", Fixtures.policy(tmp, "zone \"Europe/Berlin\"\nbudget 0.002 usd per day hard by key"));
            assertInstanceOf(Lease.class, e.admit(kc, 1, 2000));
            Refused r = assertInstanceOf(Refused.class, e.admit(kc, 1, 1));
            assertEquals(at("2026-03-29T22:00:00Z"), r.resetsAtMillis());
            clock.set(Instant.parse("2026-03-29T22:00:00Z"));
            assertEquals(0, kc.used(CounterRef.parse("spend.key.day")));
            assertInstanceOf(Lease.class, e.admit(kc, 1, 2000));
        }
    }

    @Test
    void aMonthlyBudgetResetsOnTheFirstAndNotBefore(@TempDir Path tmp) {
        Fixtures.MovableClock clock = new Fixtures.MovableClock(Instant.parse("2028-02-29T23:59:00Z"));
        try (Enforcer e = new Enforcer(ChronicleCounterStore.open(tmp, 1000, 64), clock, Duration.ofMinutes(15), null)) {
            KeyCounters kc = e.counters("k", Fixtures.policy(tmp, "budget 1 usd per month hard by key"));
            assertInstanceOf(Lease.class, e.admit(kc, 1, 1_000_000));
            clock.set(Instant.parse("2028-02-29T23:59:59.999Z"));
            assertInstanceOf(Refused.class, e.admit(kc, 1, 1));
            clock.set(Instant.parse("2028-03-01T00:00:00Z"));
            assertInstanceOf(Lease.class, e.admit(kc, 1, 1_000_000));
        }
    }
}
