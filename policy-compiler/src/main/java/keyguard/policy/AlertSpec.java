package keyguard.policy;

import java.util.List;
import keyguard.lang.source.Span;

/**
 * {@code alert CHANNEL at 50%, 80%, 100%} on a budget: a message to {@code channel} when the
 * budget's spend in a period first reaches each percentage of its amount; or
 * {@code alert CHANNEL after N} on a limit: when it has refused {@code N} requests within one
 * clock hour. Each fires once per threshold and period (or hour) and counter.
 *
 * @param limitId the budget's or limit's id ({@code budget.team.month})
 * @param percents ascending, empty for a limit's alert
 * @param after refusals in an hour, 0 for a budget's alert
 */
public record AlertSpec(String limitId, CounterRef counter, String channel, List<Integer> percents, long after, Span span) {
    public AlertSpec {
        percents = List.copyOf(percents);
    }
}
