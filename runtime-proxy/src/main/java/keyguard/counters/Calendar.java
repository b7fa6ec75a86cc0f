package keyguard.counters;

import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.temporal.TemporalAdjusters;
import keyguard.policy.Period;

/**
 * Calendar periods of budgets in one time zone: which day, ISO week (Monday first) or month
 * an instant falls in, and when that period starts and ends. Local midnights come from the
 * zone's rules, so a day across a DST change is 23 or 25 hours long and a budget still
 * resets at local midnight. The current period is cached; a new one is computed once per
 * period (thread-safe: the cache is an immutable value behind a volatile field).
 */
public final class Calendar {
    /** One period: its index (days, weeks or months since 1970 in this zone) and its bounds. */
    public record Span(long index, long startMillis, long endMillis) {
        boolean contains(long millis) { return millis >= startMillis && millis < endMillis; }
    }

    private final ZoneId zone;
    private final Period period;
    private volatile Span cached = new Span(Long.MIN_VALUE, 0, 0);

    public Calendar(ZoneId zone, Period period) {
        this.zone = zone;
        this.period = period;
    }

    public ZoneId zone() { return zone; }

    public Period period() { return period; }

    public Span at(long millis) {
        Span s = cached;
        if (s.contains(millis)) return s;
        s = compute(millis);
        cached = s;
        return s;
    }

    private Span compute(long millis) {
        LocalDate day = Instant.ofEpochMilli(millis).atZone(zone).toLocalDate();
        LocalDate start;
        LocalDate end;
        long index;
        switch (period) {
            case DAY -> {
                start = day;
                end = day.plusDays(1);
                index = day.toEpochDay();
            }
            case WEEK -> {
                start = day.with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY));
                end = start.plusWeeks(1);
                index = Math.floorDiv(start.toEpochDay() + 3, 7); // 1970-01-01 was a Thursday
            }
            default -> {
                start = day.withDayOfMonth(1);
                end = start.plusMonths(1);
                index = (day.getYear() - 1970L) * 12 + day.getMonthValue() - 1;
            }
        }
        return new Span(index, start.atStartOfDay(zone).toInstant().toEpochMilli(), end.atStartOfDay(zone).toInstant().toEpochMilli());
    }
}
